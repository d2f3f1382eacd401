"""The two ways an image reaches the demo: the sketch pad's drawing and an uploaded file."""

from __future__ import annotations

import base64
import binascii
import os

import numpy as np

from abstract_cls.data import decode

CANVAS_SIZE = 384  # square drawing sheet in screen pixels; far above any model input size
MIN_SENT_SIZE = 192  # the pad sends its drawing downscaled to at least this side
INK_THRESHOLD = 250  # a drawing with no channel darker than this has nothing drawn on it
SKETCH_NAME = "<drawing>"  # how errors name the drawing
PNG_DATA_URL = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The pad never sends more than CANVAS_SIZE² RGBA pixels: refuse far larger values unread.
MAX_SKETCH_CHARS = 4 * CANVAS_SIZE * CANVAS_SIZE * 4 // 3 + 4096
MAX_SKETCH_PIXELS = CANVAS_SIZE * CANVAS_SIZE


def sketch_pixels(value: str | None) -> np.ndarray | None:
  """The sketch pad's drawing as uint8 RGB on white, or None when nothing is drawn.

  value: '' (or None) for a blank sheet, else a PNG data URL. Anything else raises
  decode.ImageDecodeError naming what is wrong with it."""
  if not value:
    return None
  if not isinstance(value, str) or not value.startswith(PNG_DATA_URL):
    raise decode.ImageDecodeError(SKETCH_NAME, "not a PNG data URL", repr(str(value)[:32]))
  if len(value) > MAX_SKETCH_CHARS:
    raise decode.ImageDecodeError(SKETCH_NAME, "too large", f"{len(value)} characters")
  try:
    data = base64.b64decode(value[len(PNG_DATA_URL) :], validate=True)
  except binascii.Error as e:
    raise decode.ImageDecodeError(SKETCH_NAME, "bad base64", str(e)) from None
  if not data.startswith(PNG_SIGNATURE):
    raise decode.ImageDecodeError(SKETCH_NAME, "not a PNG", repr(data[:8]))
  pixels = decode.load_image_rgb(data, name=SKETCH_NAME, max_pixels=MAX_SKETCH_PIXELS)
  if pixels.min() >= INK_THRESHOLD:
    return None
  return pixels


def read_upload(path: str) -> tuple[bytes, str]:
  """(file bytes, the name the user gave the file) of an uploaded file."""
  with open(path, "rb") as f:
    return f.read(), os.path.basename(path)
