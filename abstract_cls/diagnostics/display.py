"""Shared plotting conventions: class labels, image display range, saving figures.

Everything here is pure (arrays in, PNG out) so each figure can be tested
without a checkpoint. matplotlib runs on the Agg backend: inspect runs on
headless machines.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from abstract_cls import taxonomy

# The input pipeline normalises model inputs with the ImageNet statistics.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def class_label(index: int, max_name: int = 22) -> str:
  """'L2_33 mammals': the code the evaluators use plus a readable name."""
  info = taxonomy.classes()[int(index)]
  name = info.name if len(info.name) <= max_name else info.name[: max_name - 1] + "…"
  return f"{info.code} {name}"


def domain_name(index: int) -> str:
  return taxonomy.DOMAINS[int(index)]


def to_display(
  images: np.ndarray, mean: np.ndarray = IMAGENET_MEAN, std: np.ndarray = IMAGENET_STD
) -> np.ndarray:
  """Normalised float NHWC (or uint8) model inputs -> float RGB in [0, 1] for imshow."""
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 255.0
  images = images.astype(np.float32)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
    mean, std = mean.mean(), std.mean()
  return np.clip(images * std + mean, 0.0, 1.0)


def save(
  fig: plt.Figure, path: str | pathlib.Path, dpi: int = 110, extra_artists=()
) -> pathlib.Path:
  """Writes the figure as PNG (creating parent folders) and frees it.

  extra_artists: artists outside the axes (e.g. a second legend) the crop must keep.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(
    path,
    dpi=dpi,
    bbox_inches="tight",
    facecolor="white",
    bbox_extra_artists=list(extra_artists) or None,
  )
  plt.close(fig)
  return path


def no_ticks(ax: plt.Axes) -> None:
  ax.set_xticks([])
  ax.set_yticks([])
