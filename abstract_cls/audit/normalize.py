"""Per-image reduction to the small arrays every audit step works on.

Two views of each image:
- `overview`: the whole image squeezed to OVERVIEW_SIDE x OVERVIEW_SIDE (photo statistics,
  computed for a whole batch at once, need one shape; they do not depend on aspect).
- `content`: the drawing's content box (non-background pixels found against the border
  colour), padded to a square with the background colour and resized to CONTENT_SIDE grey.
  Resizing, re-encoding and crops that only remove margin leave this view unchanged, and a flip
  flips it, so hashes and features computed on it are invariant to those edits by construction.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from abstract_cls.audit import gradients

OVERVIEW_SIDE = 128
CONTENT_SIDE = 64
# The border is flat when its pixels are within this of their median colour (any channel).
BACKGROUND_TOLERANCE = 40
# A pixel is content when its 3x3-mean difference from the background exceeds
# max(CONTENT_TOLERANCE, CONTENT_FRACTION * the largest such difference). JPEG ringing grows with
# the contrast of the edge that causes it, so a threshold relative to the image's own contrast
# leaves the ringing halo of black strokes out of the box while light-grey shapes (~35 from
# white) still count as content.
CONTENT_TOLERANCE = 12
CONTENT_FRACTION = 0.15
# The border counts as a flat background when this fraction of it matches its median colour.
FLAT_BORDER_FRACTION = 0.8


@dataclasses.dataclass(frozen=True)
class ReducedImage:
  overview: np.ndarray  # uint8 [OVERVIEW_SIDE, OVERVIEW_SIDE, 3]
  content: np.ndarray  # uint8 [CONTENT_SIDE, CONTENT_SIDE] grey, content box
  background: np.ndarray  # uint8 [3] border median colour
  flat_border: bool


def _border_pixels(rgb: np.ndarray) -> np.ndarray:
  return np.concatenate([rgb[0], rgb[-1], rgb[1:-1, 0], rgb[1:-1, -1]]).astype(np.int16)


def reduce_image(rgb: np.ndarray) -> ReducedImage:
  """Builds the overview and content views of one decoded RGB image."""
  img = Image.fromarray(rgb)
  overview_img = img.resize(
    (OVERVIEW_SIDE, OVERVIEW_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0
  )
  overview = np.asarray(overview_img)
  border = _border_pixels(overview)
  background = np.median(border, axis=0).astype(np.int16)
  border_match = np.abs(border - background).max(axis=1) <= BACKGROUND_TOLERANCE
  flat_border = bool(border_match.mean() >= FLAT_BORDER_FRACTION)
  box = (0, 0, img.size[0], img.size[1])
  if flat_border:
    diff = np.abs(overview.astype(np.int16) - background).max(axis=2).astype(np.float32)
    smooth = gradients.box3(diff[None])[0]
    differs = smooth > max(CONTENT_TOLERANCE, CONTENT_FRACTION * float(smooth.max()))
    rows = np.flatnonzero(differs.any(axis=1))
    cols = np.flatnonzero(differs.any(axis=0))
    if rows.size and cols.size:
      sx = img.size[0] / overview.shape[1]
      sy = img.size[1] / overview.shape[0]
      box = (
        int(cols[0] * sx),
        int(rows[0] * sy),
        int(np.ceil((cols[-1] + 1) * sx)),
        int(np.ceil((rows[-1] + 1) * sy)),
      )
  content_img = img.crop(box).convert("L")
  w, h = content_img.size
  side = max(w, h)
  grey_background = int(
    round(0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2])
  )
  square = Image.new("L", (side, side), grey_background)
  square.paste(content_img, ((side - w) // 2, (side - h) // 2))
  content = np.asarray(
    square.resize((CONTENT_SIDE, CONTENT_SIDE), Image.Resampling.BOX, reducing_gap=2.0)
  )
  return ReducedImage(overview, content, background.astype(np.uint8), flat_border)
