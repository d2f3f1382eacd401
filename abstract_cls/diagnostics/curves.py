"""Training curves from a run's metrics.jsonl in one figure."""

from __future__ import annotations

import json
import pathlib

import numpy as np

from abstract_cls.diagnostics import display


def read_jsonl(path: str | pathlib.Path) -> list[dict]:
  """One dict per non-empty line; a broken line raises naming file and line."""
  path = pathlib.Path(path)
  rows = []
  with path.open(encoding="utf-8") as f:
    for number, line in enumerate(f, start=1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{number}: not valid JSON ({e.msg})") from None
      if not isinstance(row, dict):
        raise ValueError(f"{path}:{number}: want a JSON object, got {type(row).__name__}")
      rows.append(row)
  return rows


def _series(rows: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
  points = [
    (r["step"], r[key]) for r in rows if "step" in r and isinstance(r.get(key), (int, float))
  ]
  if not points:
    return np.zeros(0), np.zeros(0)
  steps, values = zip(*points)
  return np.asarray(steps, float), np.asarray(values, float)


def _eval_series(rows: list[dict], key: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{split: (steps, values)} for one metric of the eval rows."""
  out: dict[str, list] = {}
  for r in rows:
    for split, metrics in (r.get("eval") or {}).items():
      if isinstance(metrics, dict) and isinstance(metrics.get(key), (int, float)):
        out.setdefault(split, []).append((r.get("step", 0), metrics[key]))
  return {
    s: (np.asarray([p[0] for p in v], float), np.asarray([p[1] for p in v], float))
    for s, v in out.items()
  }


def _line(ax, steps, values, **kwargs):
  """A line that stays visible with very few points (a short or just-started run)."""
  if steps.size <= 50:
    kwargs.setdefault("marker", ".")
  ax.plot(steps, values, **kwargs)


def _plot_train_and_eval(ax, rows, key, title):
  steps, values = _series([r for r in rows if "eval" not in r or key in r], key)
  drawn = 0
  if steps.size:
    _line(ax, steps, values, lw=1, label=f"train {key}")
    drawn += 1
  for split, (s, v) in sorted(_eval_series(rows, key).items()):
    ax.plot(s, v, marker="o", ms=3, lw=1.2, label=f"{split} {key}")
    drawn += 1
  _finish(ax, title, drawn)


def _finish(ax, title, drawn):
  ax.set_title(title, fontsize=10)
  ax.set_xlabel("step", fontsize=8)
  ax.tick_params(labelsize=7)
  ax.grid(alpha=0.3)
  if drawn:
    ax.legend(fontsize=7)
  else:
    ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="grey")


def plot_training_curves(
  rows: list[dict], path: str | pathlib.Path, layer_rows: list[dict] | None = None, title: str = ""
) -> pathlib.Path:
  """Loss, accuracy, validation macro-F1, learning rate and gradient norms.

  rows: metrics.jsonl objects; layer_rows: layer_grad_norms.jsonl objects
  (step, norms=[(layer, norm), ...]) drawn as a per-layer heat map if given.
  """
  fig, axes = display.plt.subplots(2, 3, figsize=(14, 7.5))
  ax = axes.ravel()
  _plot_train_and_eval(ax[0], rows, "loss", "loss")
  _plot_train_and_eval(ax[1], rows, "accuracy", "accuracy")
  drawn = 0
  for split, (s, v) in sorted(_eval_series(rows, "macro_f1").items()):
    ax[2].plot(s, v, marker="o", ms=3, label=f"{split} macro-F1")
    drawn += 1
  _finish(ax[2], "macro-F1 (eval)", drawn)
  steps, lr = _series(rows, "lr")
  if steps.size:
    _line(ax[3], steps, lr, lw=1.2, color="tab:purple", label="lr")
  _finish(ax[3], "learning rate", int(steps.size > 0))
  drawn = 0
  for key in ("grad_norm", "update_norm", "param_norm"):
    s, v = _series(rows, key)
    if s.size:
      _line(ax[4], s, v, lw=1, label=key)
      drawn += 1
  if drawn:
    ax[4].set_yscale("log")
  _finish(ax[4], "global norms (log)", drawn)
  _plot_layer_norms(ax[5], layer_rows or [])
  fig.suptitle(title or "training curves", fontsize=12)
  fig.tight_layout()
  return display.save(fig, path)


def _layer_norm_matrix(layer_rows: list[dict]):
  """(steps, layer names, [layers, steps] norms) from layer_grad_norms.jsonl rows."""
  names: list[str] = []
  steps, columns = [], []
  for r in layer_rows:
    # The key holding the [(layer, norm), ...] list is not fixed by the contract:
    # take the first list/dict value, else read the row as {layer: norm}.
    pairs = next((v for k, v in r.items() if k != "step" and isinstance(v, (list, dict))), None)
    if pairs is None:
      pairs = [(k, v) for k, v in r.items() if k != "step" and isinstance(v, (int, float))]
    if isinstance(pairs, dict):
      pairs = list(pairs.items())
    column = {}
    for name, norm in pairs:
      if name not in column:
        column[name] = float(norm)
      if name not in names:
        names.append(name)
    steps.append(r.get("step", len(steps)))
    columns.append(column)
  matrix = np.full((len(names), len(columns)), np.nan)
  for j, column in enumerate(columns):
    for i, name in enumerate(names):
      matrix[i, j] = column.get(name, np.nan)
  return np.asarray(steps, float), names, matrix


def _plot_layer_norms(ax, layer_rows):
  steps, names, matrix = _layer_norm_matrix(layer_rows)
  if not names:
    _finish(ax, "per-layer gradient norms", 0)
    return
  with np.errstate(divide="ignore", invalid="ignore"):
    logm = np.log10(np.maximum(matrix, 1e-12))
  image = ax.imshow(
    logm,
    aspect="auto",
    cmap="viridis",
    interpolation="nearest",
    extent=(
      steps.min(),
      steps.max() if steps.size > 1 else steps.min() + 1,
      len(names) - 0.5,
      -0.5,
    ),
  )
  every = max(1, len(names) // 14)
  ax.set_yticks(range(0, len(names), every))
  ax.set_yticklabels([names[i][-24:] for i in range(0, len(names), every)], fontsize=6)
  display.plt.colorbar(image, ax=ax, label="log10 grad norm")
  ax.set_title("per-layer gradient norms (input at top)", fontsize=10)
  ax.set_xlabel("step", fontsize=8)
  ax.tick_params(axis="x", labelsize=7)
