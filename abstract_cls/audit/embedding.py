"""Image embeddings for near-duplicate search: a fixed-feature fallback or a trained model.

The fixed features work on the grey content view (normalize.py): a blurred grey thumbnail and a
blurred edge-magnitude thumbnail (tolerate small shifts and crops) and edge-orientation
histograms on a 4x4 grid (shape, independent of colour). Each block is centred and
L2-normalised, then the concatenation is L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from abstract_cls.audit import gradients

ORIENTATION_BINS = 8
GRID = 4
# Features are computed on the content view pooled to FEATURE_SIDE (4x less work than 64 px);
# the blur (in FEATURE_SIDE pixels) makes them tolerate the shifts a <= 10% crop causes.
FEATURE_SIDE = 32
BLUR_SIGMA = 0.75
FIXED_FEATURE_KIND = "fixed:grey+edge thumbnails, edge-orientation histograms"


def _pool(images: np.ndarray, side: int) -> np.ndarray:
  n, h, w = images.shape
  return images.reshape(n, side, h // side, side, w // side).mean(axis=(2, 4))


def _unit(x: np.ndarray) -> np.ndarray:
  return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def _centred_unit(x: np.ndarray) -> np.ndarray:
  return _unit(x - x.mean(axis=1, keepdims=True))


def orientation_histograms(magnitude: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
  """Unsigned gradient-orientation histograms weighted by magnitude, [N, GRID*GRID*BINS]."""
  angle = np.arctan2(gy, gx) % np.float32(np.pi)
  bins = np.minimum(
    (angle * np.float32(ORIENTATION_BINS / np.pi)).astype(np.int32), ORIENTATION_BINS - 1
  )
  n, h, w = magnitude.shape
  cell = (np.arange(h) * GRID // h)[:, None] * GRID + (np.arange(w) * GRID // w)[None, :]
  index = (
    np.arange(n, dtype=np.int32)[:, None, None] * (GRID * GRID) + cell[None]
  ) * ORIENTATION_BINS + bins
  hist = np.bincount(
    index.reshape(-1), weights=magnitude.reshape(-1), minlength=n * GRID * GRID * ORIENTATION_BINS
  )
  return np.sqrt(hist.reshape(n, GRID * GRID * ORIENTATION_BINS))


def _features_chunk(content: np.ndarray) -> np.ndarray:
  x = _pool(content.astype(np.float32), FEATURE_SIDE)
  gx, gy = gradients.sobel(x)
  magnitude = np.hypot(gx, gy)
  blurred = ndimage.gaussian_filter(x, sigma=(0, BLUR_SIGMA, BLUR_SIGMA))
  edges = ndimage.gaussian_filter(magnitude, sigma=(0, BLUR_SIGMA, BLUR_SIGMA))
  blocks = [
    _centred_unit(_pool(blurred, 16).reshape(len(x), -1)),
    _centred_unit(_pool(edges, 16).reshape(len(x), -1)),
    _unit(orientation_histograms(magnitude, gx, gy)),
  ]
  return _unit(np.concatenate(blocks, axis=1)).astype(np.float32)


def fixed_features(content: np.ndarray, chunk: int = 256) -> np.ndarray:
  """Fallback embedding of grey content views [N, 64, 64] -> float32 [N, D], unit norm.

  Blocks (equal weight): blurred grey 16x16 (shape and fill), blurred edge magnitude 16x16
  (strokes and interior detail, independent of fill colour), edge-orientation histograms.
  Computed in chunks so the temporaries stay small.
  """
  return np.concatenate(
    [_features_chunk(content[s : s + chunk]) for s in range(0, len(content), chunk)]
  )


class ModelEmbedder:
  """Embeddings from a model this project trained (checkpointing.restore_for_inference)."""

  def __init__(self, workdir: str, batch_size: int = 64):
    from flax import nnx  # pylint: disable=import-outside-toplevel

    from abstract_cls.train import checkpointing  # pylint: disable=import-outside-toplevel

    self.model, self.config, self.step = checkpointing.restore_for_inference(workdir)
    self.model.eval()
    self.image_size = int(self.config.data.image_size)
    self.batch_size = batch_size
    self.kind = f"model:{workdir}@{self.step}"
    self._embed = nnx.jit(lambda model, x: model.embed(x))

  def __call__(self, images: list[np.ndarray]) -> np.ndarray:
    """RGB uint8 images (any size) -> float32 [N, D] unit-norm embeddings."""
    from PIL import Image  # pylint: disable=import-outside-toplevel

    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    out = []
    for start in range(0, len(images), self.batch_size):
      batch = [
        np.asarray(
          Image.fromarray(im).resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
        )
        for im in images[start : start + self.batch_size]
      ]
      x = (np.stack(batch).astype(np.float32) / 255.0 - mean) / std
      real = len(x)
      if real < self.batch_size:  # one compiled shape for every batch
        x = np.concatenate([x, np.zeros((self.batch_size - real, *x.shape[1:]), x.dtype)])
      out.append(np.asarray(self._embed(self.model, x), np.float32)[:real])
    return _unit(np.concatenate(out).reshape(len(images), -1))
