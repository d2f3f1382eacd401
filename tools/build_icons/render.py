"""SVG -> 128x128 RGB on white, plus the pixel statistics the build filters on."""

from __future__ import annotations

import dataclasses
import io
import re

import imagehash
import numpy as np
import resvg_py
from PIL import Image

SIZE = 128  # stored side
BOX = 112  # the icon's view box is fitted into this square, centred (8 px margin)

_VIEWBOX = re.compile(r'viewBox="\s*([-\d.e]+)[\s,]+([-\d.e]+)[\s,]+([-\d.e]+)[\s,]+([-\d.e]+)')


@dataclasses.dataclass(frozen=True)
class Rendered:
  image: Image.Image  # RGB, SIZE x SIZE
  ink: float  # fraction of canvas pixels darker than mid-grey or coloured
  solidity: float  # inked fraction of the ink's bounding box (line art is low)
  colourful: float  # fraction of inked pixels with clear chroma


def _aspect(svg: str) -> float:
  m = _VIEWBOX.search(svg)
  if not m:
    return 1.0
  w, h = float(m.group(3)), float(m.group(4))
  return w / h if w > 0 and h > 0 else 1.0


def render(svg: str) -> Rendered:
  """Rasterises with resvg and composites the alpha on white (never black)."""
  aspect = _aspect(svg)
  if aspect >= 1:
    png = resvg_py.svg_to_bytes(svg_string=svg, width=BOX, skip_system_fonts=True)
  else:
    png = resvg_py.svg_to_bytes(svg_string=svg, height=BOX, skip_system_fonts=True)
  rgba = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
  if max(rgba.size) > BOX:  # rounding can add a pixel
    rgba.thumbnail((BOX, BOX), Image.Resampling.LANCZOS)
  canvas = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 255))
  canvas.alpha_composite(rgba, ((SIZE - rgba.width) // 2, (SIZE - rgba.height) // 2))
  rgb = canvas.convert("RGB")
  return Rendered(rgb, *_stats(np.asarray(rgb)))


def _stats(rgb: np.ndarray) -> tuple[float, float, float]:
  arr = rgb.astype(np.int16)
  grey = arr.mean(axis=2)
  chroma = arr.max(axis=2) - arr.min(axis=2)
  inked = (grey < 160) | (chroma > 60)
  ink = float(inked.mean())
  if not inked.any():
    return 0.0, 0.0, 0.0
  rows, cols = np.nonzero(inked)
  box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
  solidity = float(inked.sum() / box)
  colourful = float((chroma[inked] > 60).mean())
  return ink, solidity, colourful


def thumbnail(image: Image.Image, side: int = 32) -> np.ndarray:
  """Small greyscale copy for pixel-level duplicate checks."""
  return np.asarray(image.convert("L").resize((side, side), Image.Resampling.BILINEAR))


def phash_hex(image: Image.Image) -> str:
  return str(imagehash.phash(image))


def png_bytes(image: Image.Image) -> bytes:
  """Deterministic PNG: fixed zlib level, no metadata chunks."""
  buf = io.BytesIO()
  image.save(buf, format="PNG", optimize=True)
  return buf.getvalue()
