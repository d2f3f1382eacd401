"""The two ways an image reaches the demo: the sketch pad's canvas and an uploaded file."""

from __future__ import annotations

import os

import numpy as np

CANVAS_SIZE = 384  # square drawing area in screen pixels; far above any model input size
INK_THRESHOLD = 250  # a canvas with no channel darker than this has nothing drawn on it


def empty_sketch() -> dict:
  """The sketch pad's value for a clean sheet: white paper, one transparent ink layer.

  Handing the editor its ink layer (instead of letting it make one) matters: the editor
  swallows the first change it reports, and loading this layer is that change, so the
  user's first stroke already updates the predictions."""
  paper = np.full((CANVAS_SIZE, CANVAS_SIZE, 3), 255, np.uint8)
  ink = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), np.uint8)
  return {"background": paper, "layers": [ink], "composite": paper}


def sketch_pixels(editor_value) -> np.ndarray | None:
  """The sketch pad's flattened drawing (uint8 RGB on white), or None if nothing is drawn.

  editor_value is the Sketchpad's value: {'background', 'layers', 'composite'}, numpy."""
  composite = (editor_value or {}).get("composite")
  if composite is None:
    return None
  pixels = np.asarray(composite)
  if pixels.ndim == 2:
    pixels = np.repeat(pixels[..., None], 3, axis=-1)
  pixels = np.ascontiguousarray(pixels[..., :3], dtype=np.uint8)
  if pixels.size == 0 or pixels.min() >= INK_THRESHOLD:
    return None
  return pixels


def read_upload(path: str) -> tuple[bytes, str]:
  """(file bytes, the name the user gave the file) of an uploaded file."""
  with open(path, "rb") as f:
    return f.read(), os.path.basename(path)
