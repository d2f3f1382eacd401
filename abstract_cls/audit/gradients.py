"""Batched image gradients that never mix neighbouring images of a batch.

scipy.ndimage.sobel on an [N, H, W] stack also smooths along the batch axis, blending each
image with its neighbours; these helpers work per image with array slicing (edge-replicated).
"""

from __future__ import annotations

import numpy as np


def _pad(x: np.ndarray) -> np.ndarray:
  return np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")


def sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Sobel derivatives (gx along width, gy along height) of float images [N, H, W], / 8."""
  p = _pad(x)
  rows = p[:, :-2] + 2.0 * p[:, 1:-1] + p[:, 2:]  # vertical smoothing, [N, H, W+2]
  gx = (rows[:, :, 2:] - rows[:, :, :-2]) / 8.0
  cols = p[:, :, :-2] + 2.0 * p[:, :, 1:-1] + p[:, :, 2:]  # horizontal smoothing, [N, H+2, W]
  gy = (cols[:, 2:] - cols[:, :-2]) / 8.0
  return gx, gy


def box3(x: np.ndarray) -> np.ndarray:
  """3x3 mean of float images [N, H, W] (edge-replicated)."""
  p = _pad(x)
  rows = p[:, :-2] + p[:, 1:-1] + p[:, 2:]
  return (rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]) / 9.0
