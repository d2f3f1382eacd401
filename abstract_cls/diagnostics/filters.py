"""First-layer filters as an image grid (Krizhevsky et al. 2012, Fig. 3 style).

Each filter is min-max normalised on its own so weak and strong filters are
both visible; 3-channel filters are shown as RGB, others as the channel mean.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence

import numpy as np
from flax import nnx

from abstract_cls.diagnostics import display


def first_layer_kernel(
  model: nnx.Module, trace: Sequence[dict] | None = None, in_channels: int = 3
) -> np.ndarray:
  """The first conv kernel [K, K, Cin, Cout] of any registered model.

  The module graph is not in depth order (nnx sorts attributes), so the first
  layer is found as the 4-D kernel that reads the image channels; if several
  do, the one matching the first conv of model.trace() (kernel size, output
  channels) wins.
  """
  candidates = []
  for path, value in nnx.iter_graph(model):
    if isinstance(value, nnx.Param) and "kernel" in str(path[-1]):
      array = np.asarray(value.get_value() if hasattr(value, "get_value") else value.value)
      if array.ndim == 4 and array.shape[2] == in_channels:
        candidates.append((path, array.astype(np.float32)))
  if not candidates:
    raise ValueError(
      f"{type(model).__name__}: no 4-D conv kernel with {in_channels} input "
      "channels found (is the first layer a conv?)"
    )
  if len(candidates) > 1 and trace:
    first = next((e for e in trace if e.get("kind") == "conv"), None)
    if first is not None:
      k = first["kernel"] if isinstance(first["kernel"], int) else tuple(first["kernel"])[0]
      out = int(tuple(first["output_shape"])[-1])
      matching = [c for c in candidates if c[1].shape[0] == k and c[1].shape[3] == out]
      candidates = matching or candidates
  return candidates[0][1]


def filter_tiles(kernel: np.ndarray) -> np.ndarray:
  """[K, K, Cin, Cout] -> [Cout, K, K, 3] in [0, 1], each filter normalised alone."""
  kernel = np.asarray(kernel, np.float32)
  if kernel.ndim != 4:
    raise ValueError(f"want a conv kernel [K, K, Cin, Cout], got shape {kernel.shape}")
  tiles = np.moveaxis(kernel, 3, 0)
  if tiles.shape[-1] != 3:
    tiles = np.repeat(tiles.mean(axis=-1, keepdims=True), 3, axis=-1)
  lo = tiles.min(axis=(1, 2, 3), keepdims=True)
  hi = tiles.max(axis=(1, 2, 3), keepdims=True)
  return (tiles - lo) / np.maximum(hi - lo, 1e-8)


def mosaic(tiles: np.ndarray, columns: int, gap: int = 1, fill: float = 1.0) -> np.ndarray:
  """Tiles [N, h, w, C] -> one image with `gap` pixels of `fill` between tiles."""
  n, h, w, c = tiles.shape
  rows = math.ceil(n / columns)
  out = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, c), fill, np.float32)
  for i, tile in enumerate(tiles):
    r, col = divmod(i, columns)
    y, x = gap + r * (h + gap), gap + col * (w + gap)
    out[y : y + h, x : x + w] = tile
  return out


def grid_columns(n: int, aspect: float = 1.5) -> int:
  """Columns for n tiles, about `aspect` times the rows; a divisor of n when one is close.

  96 filters -> 12 x 8 as in Krizhevsky et al.; 64 -> 8 x 8; 6 -> 3 x 2.
  """
  target = math.sqrt(n * aspect)
  divisors = [c for c in range(1, n + 1) if n % c == 0 and 0.6 * target <= c <= 1.5 * target]
  if divisors:
    return min(divisors, key=lambda c: abs(c - target))
  return max(1, math.ceil(target))


def plot_filters(kernel: np.ndarray, path: str | pathlib.Path, title: str = "") -> pathlib.Path:
  """Writes the grid of first-layer filters as a PNG."""
  tiles = filter_tiles(kernel)
  n, k = tiles.shape[0], tiles.shape[1]
  columns = grid_columns(n)
  image = mosaic(tiles, columns)
  scale = max(0.12, min(0.5, 3.0 / k))  # inches per kernel pixel: small kernels drawn bigger
  width = min(14.0, max(4.0, image.shape[1] * scale * 0.25 + 1))
  fig, ax = display.plt.subplots(figsize=(width, width * image.shape[0] / image.shape[1] + 0.6))
  ax.imshow(image, interpolation="nearest")
  ax.axis("off")
  cin = np.asarray(kernel).shape[2]
  ax.set_title(
    title
    or f"first-layer filters: {n} x {k}x{k}x{cin} "
    f"({'RGB' if cin == 3 else 'channel mean'}, each normalised)",
    fontsize=10,
  )
  return display.save(fig, path)
