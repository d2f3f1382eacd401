"""Feature maps of chosen layers, annotated with the output-size rule.

Activations come from running the model (jitted, once) while the models
package records its conv/pool layers -- the hook model.trace() uses -- and
returning every recorded output: every conv and pool of every registered model
is covered without the models knowing about inspect.
"""

from __future__ import annotations

import contextlib
import math
import pathlib
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from abstract_cls.diagnostics import display, filters, output_size


@contextlib.contextmanager
def _recording_outputs(outputs: list):
  # Why a wrapper around models.layers._record: trace() runs under
  # jax.eval_shape and keeps shapes only; this keeps the output arrays too.
  from abstract_cls.models import layers  # pylint: disable=g-import-not-at-top

  original = layers._record  # pylint: disable=protected-access

  def record(name, kind, x, y, *args):
    outputs.append(y)
    original(name, kind, x, y, *args)

  layers._record = record  # pylint: disable=protected-access
  try:
    with layers.recording() as log:
      yield log
  finally:
    layers._record = original  # pylint: disable=protected-access


def layer_outputs(model: nnx.Module, images: np.ndarray) -> list[tuple[dict, np.ndarray]]:
  """[(trace entry, output [B, h, w, C])] for every conv/pool layer in depth order.

  The model runs once under jax.jit with the recording hook; the recorded
  layer outputs are the jitted function's results.
  """
  graphdef, state = nnx.split(model)
  entries: list[dict] = []

  def forward(state, x):
    recorded = []
    with _recording_outputs(recorded) as log:
      nnx.merge(graphdef, state)(x)
    entries[:] = list(log)
    return [y.astype(jnp.float32) for y in recorded]

  outputs = [np.asarray(y) for y in jax.jit(forward)(state, jnp.asarray(images, jnp.float32))]
  if len(entries) != len(outputs):
    raise RuntimeError(f"recorded {len(entries)} layers but {len(outputs)} outputs")
  for entry, out in zip(entries, outputs):
    if tuple(entry["output_shape"]) != out.shape:
      raise RuntimeError(
        f"layer {entry['name']}: trace shape {entry['output_shape']} != actual output {out.shape}"
      )
  return list(zip(entries, outputs))


def default_layers(entries: Sequence[dict], count: int = 4) -> list[str]:
  """Names of `count` conv/pool layers spread evenly over depth (1x1 maps skipped)."""
  spatial = [
    e
    for e in entries
    if e.get("kind") in ("conv", "pool") and min(tuple(e["output_shape"])[-3:-1]) > 1
  ]
  main_path = [e for e in spatial if "shortcut" not in str(e.get("name"))]
  spatial = main_path or spatial  # a shortcut conv is a side branch, less telling
  if not spatial:
    return []
  picks = np.unique(np.linspace(0, len(spatial) - 1, min(count, len(spatial))).round())
  return [spatial[int(i)]["name"] for i in picks]


def channel_mosaic(fmap: np.ndarray, channels: int = 16) -> np.ndarray:
  """[h, w, C] -> mosaic of the `channels` strongest channels, each min-max normalised."""
  strength = np.abs(fmap).mean(axis=(0, 1))
  top = np.argsort(-strength, kind="stable")[:channels]
  tiles = np.moveaxis(fmap[..., top], -1, 0)[..., None]
  lo = tiles.min(axis=(1, 2, 3), keepdims=True)
  hi = tiles.max(axis=(1, 2, 3), keepdims=True)
  tiles = (tiles - lo) / np.maximum(hi - lo, 1e-8)
  # NaN gaps are drawn in the colormap's 'bad' colour (white), apart from every value.
  return filters.mosaic(tiles, math.ceil(math.sqrt(len(top))), gap=1, fill=np.nan)[..., 0]


def _column_title(check: output_size.LayerCheck) -> str:
  k = "x".join(map(str, sorted(set(check.kernel))))
  s = "x".join(map(str, sorted(set(check.stride))))
  mark = "ok" if check.ok else "MISMATCH"
  return (
    f"{check.name} ({check.kind})\nK={k} S={s} P={check.effective_padding}\n"
    f"{check.input_hw[0]}->{check.expected_hw[0]} by rule, got "
    f"{check.actual_hw[0]}x{check.actual_hw[1]}x{check.channels} {mark}"
  )


def plot_feature_maps(
  images: np.ndarray,
  outputs: Sequence[tuple[dict, np.ndarray]],
  layer_names: Sequence[str],
  row_titles: Sequence[str],
  path: str | pathlib.Path,
  channels: int = 16,
) -> pathlib.Path:
  """Rows: images; columns: the input then each chosen layer's strongest channels.

  images: display-ready RGB [B, H, W, 3]; outputs: from layer_outputs().
  """
  by_name = {entry["name"]: (entry, out) for entry, out in outputs}
  unknown = [n for n in layer_names if n not in by_name]
  if unknown:
    raise ValueError(f"unknown layers {unknown}; known: {', '.join(by_name)}")
  cols = 1 + len(layer_names)
  cmap = display.plt.get_cmap("viridis").with_extremes(bad="white")
  fig, axes = display.plt.subplots(
    len(images), cols, figsize=(2.7 * cols, 2.75 * len(images)), squeeze=False
  )
  for r, image in enumerate(images):
    axes[r, 0].imshow(image)
    axes[r, 0].set_ylabel(row_titles[r], fontsize=7)
    display.no_ticks(axes[r, 0])
    for c, name in enumerate(layer_names, start=1):
      entry, out = by_name[name]
      ax = axes[r, c]
      ax.imshow(channel_mosaic(out[r], channels), cmap=cmap, interpolation="nearest")
      display.no_ticks(ax)
      if r == 0:
        check = output_size.check_entry(entry)
        ax.set_title(_column_title(check), fontsize=7, color="black" if check.ok else "red")
  axes[0, 0].set_title("input", fontsize=8)
  fig.suptitle(
    f"feature maps: the {channels} strongest channels per layer "
    "(conv outputs before norm/ReLU), O = floor((I-K+2P)/S)+1 checked",
    fontsize=10,
    y=1.0 + 0.3 / (2.75 * len(images)),
  )
  fig.tight_layout()
  return display.save(fig, path)


def plot_shape_profile(
  checks: Sequence[output_size.LayerCheck], path: str | pathlib.Path, title: str
) -> pathlib.Path:
  """Map size and channel count through depth: how pooling/stride shrink the maps."""
  fig, ax = display.plt.subplots(figsize=(max(6.0, 0.28 * len(checks) + 3), 3.6))
  x = np.arange(len(checks))
  ax.step(x, [c.actual_hw[0] for c in checks], where="mid", color="tab:blue", label="H (actual)")
  ax.plot(
    x,
    [c.expected_hw[0] for c in checks],
    "o",
    ms=4,
    mfc="none",
    color="black",
    label="H by the rule",
  )
  bad = [i for i, c in enumerate(checks) if not c.ok]
  if bad:
    ax.plot(bad, [checks[i].actual_hw[0] for i in bad], "rx", ms=9, label="mismatch")
  ax.set_yscale("log", base=2)
  ax.set_ylabel("feature-map height", fontsize=8)
  ax.set_xticks(x)
  ax.set_xticklabels([f"{c.kind} {c.name}"[-22:] for c in checks], rotation=90, fontsize=6)
  twin = ax.twinx()
  twin.bar(x, [c.channels for c in checks], alpha=0.2, color="tab:orange")
  twin.set_ylabel("channels (bars)", fontsize=8)
  ax.legend(fontsize=7, loc="upper right")
  ax.set_title(title, fontsize=10)
  fig.tight_layout()
  return display.save(fig, path)
