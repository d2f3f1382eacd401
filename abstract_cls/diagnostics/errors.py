"""Where the classifier fails: confident-mistake galleries and per-domain confusion."""

from __future__ import annotations

import pathlib

import numpy as np

from abstract_cls import taxonomy
from abstract_cls.diagnostics import display


def confident_mistakes(
  probs: np.ndarray, labels: np.ndarray, group: np.ndarray, per_group: int
) -> dict[int, np.ndarray]:
  """{group value: indices of its wrong predictions, most confident first}.

  group is the true label (per class gallery) or the domain (per domain).
  """
  preds = probs.argmax(-1)
  confidence = probs[np.arange(len(preds)), preds]
  out = {}
  for g in np.unique(group):
    wrong = np.flatnonzero((group == g) & (preds != labels))
    if wrong.size:
      out[int(g)] = wrong[np.argsort(-confidence[wrong], kind="stable")][:per_group]
  return out


def plot_error_gallery(
  images: np.ndarray,
  probs: np.ndarray,
  labels: np.ndarray,
  domains: np.ndarray,
  groups: dict[int, np.ndarray],
  kind: str,
  path: str | pathlib.Path,
  title: str,
  blocks_per_row: int = 1,
) -> pathlib.Path:
  """Each group (a true class or a domain) gets a block of cells, most confident mistake first.

  images: display-ready RGB [N, H, W, 3] in [0, 1]; kind: 'class' or 'domain' (what the
  groups are, which decides the block header and what each cell repeats);
  blocks_per_row: blocks side by side (4 keeps 20 classes on a page).
  """
  if kind not in ("class", "domain"):
    raise ValueError(f"kind must be 'class' or 'domain', got {kind!r}")
  preds = probs.argmax(-1)
  per_block = max([len(v) for v in groups.values()] + [1])
  blocks_per_row = max(1, min(blocks_per_row, len(groups) or 1))
  n_rows = max(1, -(-len(groups) // blocks_per_row))
  columns = per_block * blocks_per_row
  fig, axes = display.plt.subplots(
    n_rows,
    columns,
    squeeze=False,
    figsize=(1.75 * columns + 0.3, 2.35 * n_rows + 0.5),
    gridspec_kw=dict(hspace=0.75, wspace=0.12),
  )
  for ax in axes.ravel():
    ax.axis("off")
  if not groups:
    axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center", fontsize=12)
  for b, (group, indices) in enumerate(sorted(groups.items())):
    r, first = divmod(b, blocks_per_row)
    first *= per_block
    header = (
      f"true {display.class_label(group, 26)}"
      if kind == "class"
      else f"{display.domain_name(group)}: {int(np.sum(domains == group))} images, "
      f"{int(np.sum((domains == group) & (preds != labels)))} wrong"
    )
    title_lines = 2 if kind == "class" else 3
    axes[r, first].annotate(
      header,
      xy=(0.0, 1.0),
      xycoords="axes fraction",
      xytext=(0, 9 * title_lines + 6),
      textcoords="offset points",
      fontsize=8,
      fontweight="bold",
      ha="left",
      va="bottom",
    )
    for c, i in enumerate(indices):
      ax = axes[r, first + c]
      ax.axis("on")
      display.no_ticks(ax)
      ax.imshow(images[i], interpolation="bilinear")
      lines = [] if kind == "class" else [f"true {display.class_label(labels[i], 15)}"]
      lines.append(f"pred {display.class_label(preds[i], 15)}")
      lines.append(
        f"p={probs[i, preds[i]]:.2f}"
        + (f" {display.domain_name(domains[i]).lower()}" if kind == "class" else "")
      )
      ax.set_title("\n".join(lines), fontsize=6.5, color="darkred", loc="left")
  height = 2.35 * n_rows + 0.5
  fig.subplots_adjust(top=1.0 - 0.9 / height)  # room for the block headers of the first row
  fig.suptitle(title, fontsize=11, y=1.0)
  return display.save(fig, path)


def confusion(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
  """Counts [true, pred]."""
  matrix = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(matrix, (labels, preds), 1)
  return matrix


def plot_confusion_by_domain(
  labels: np.ndarray,
  preds: np.ndarray,
  domains: np.ndarray,
  path: str | pathlib.Path,
  num_classes: int = taxonomy.NUM_CLASSES,
) -> pathlib.Path:
  """One row-normalised confusion panel per domain present, counts written in cells."""
  present = [int(d) for d in np.unique(domains)]
  fig, axes = display.plt.subplots(
    1, len(present), figsize=(7.2 * len(present) + 2.5, 7.4), squeeze=False
  )
  codes = taxonomy.class_codes()[:num_classes]
  image = None
  for p, (ax, d) in enumerate(zip(axes[0], present)):
    keep = domains == d
    matrix = confusion(labels[keep], preds[keep], num_classes)
    support = matrix.sum(1, keepdims=True)
    rate = matrix / np.maximum(support, 1)
    image = ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    for t, q in zip(*np.nonzero(matrix)):
      ax.text(
        q,
        t,
        str(matrix[t, q]),
        ha="center",
        va="center",
        fontsize=6.5,
        color="white" if rate[t, q] > 0.6 else ("black" if t == q else "darkred"),
      )
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(
      f"{display.domain_name(d)}: accuracy {accuracy:.3f} (n={int(keep.sum())})", fontsize=11
    )
    ax.set_xticks(range(num_classes))
    ax.set_xticklabels(codes, rotation=90, fontsize=6.5)
    ax.set_yticks(range(num_classes))
    ax.set_yticklabels(
      [display.class_label(i, 18) for i in range(num_classes)] if p == 0 else codes, fontsize=6.5
    )
    ax.set_xlabel("predicted", fontsize=9)
    if p == 0:
      ax.set_ylabel("true", fontsize=9)
  fig.colorbar(
    image,
    ax=list(axes[0]),
    fraction=0.015,
    pad=0.01,
    label="fraction of the true class (row-normalised); numbers are counts",
  )
  fig.suptitle("confusion matrix by domain", fontsize=12)
  return display.save(fig, path)


def per_domain_accuracy(
  labels: np.ndarray, preds: np.ndarray, domains: np.ndarray
) -> dict[str, tuple[float, int]]:
  out = {}
  for d in np.unique(domains):
    keep = domains == d
    out[display.domain_name(d)] = (float((labels[keep] == preds[keep]).mean()), int(keep.sum()))
  return out
