"""What the page shows for a prediction: the top-5 table and the two images."""

from __future__ import annotations

import html

import numpy as np
from matplotlib import colormaps
from PIL import Image

from abstract_cls import taxonomy
from abstract_cls.demo.served_model import Prediction

DISPLAY_SIZE = 224  # the small model input and its heat map are shown enlarged to this
OBJECTS_SHOWN = 4  # level-3 object names listed per class
CAM_OPACITY = 0.45


def enlarged(pixels: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
  """uint8 RGB, enlarged with nearest-neighbour so each input pixel stays visible."""
  return np.asarray(Image.fromarray(pixels, "RGB").resize((size, size), Image.NEAREST))


def cam_overlay(pixels: np.ndarray, cam: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
  """The input with the Grad-CAM map (jet colours, 0 = blue) blended over it, enlarged."""
  heat = Image.fromarray(np.uint8(np.clip(cam, 0, 1) * 255), "L").resize(
    (size, size), Image.BILINEAR
  )
  colours = colormaps["jet"](np.asarray(heat, np.float32) / 255.0)[..., :3]
  base = enlarged(pixels, size).astype(np.float32) / 255.0
  mixed = (1 - CAM_OPACITY) * base + CAM_OPACITY * colours
  return np.uint8(np.rint(np.clip(mixed, 0, 1) * 255))


def class_title(index: int) -> str:
  info = taxonomy.classes()[index]
  return f"{info.code} {info.name} ({info.name_ko})"


def top_classes_html(prediction: Prediction) -> str:
  """A table: rank, probability, level-2 code, Korean and English names, example objects.

  Each row carries data-code and data-prob for scripts and tests that read the page."""
  infos = taxonomy.classes()
  rows = []
  for rank, c in enumerate(prediction.top, 1):
    info, p = infos[c], float(prediction.probs[c])
    objects = "; ".join(info.l3_objects[:OBJECTS_SHOWN])
    if len(info.l3_objects) > OBJECTS_SHOWN:
      objects += f"; … ({len(info.l3_objects)} kinds)"
    rows.append(
      f'<tr class="top-class" data-code="{info.code}" data-prob="{p:.6f}">'
      f"<td>{rank}</td>"
      f'<td><div class="prob-bar" style="width:{100 * p:.1f}%"></div>{100 * p:.1f}%</td>'
      f"<td><code>{info.code}</code></td>"
      f"<td>{html.escape(info.name_ko)}</td>"
      f"<td>{html.escape(info.name)}</td>"
      f'<td class="objects">{html.escape(objects)}</td></tr>'
    )
  return (
    '<table class="top-classes"><thead><tr><th>#</th><th>probability</th><th>code</th>'
    "<th>한국어</th><th>class</th><th>objects of this class</th></tr></thead>"
    f"<tbody>{''.join(rows)}</tbody></table>"
  )


CSS = """
#sketch button[aria-label='Clear canvas'] { display: none; }  /* the page's own Clear resets */
.top-classes { width: 100%; border-collapse: collapse; font-size: 0.95em; }
.top-classes td, .top-classes th { padding: 4px 6px; text-align: left; vertical-align: top; }
.top-classes tr.top-class:first-child { font-weight: 600; }
.top-classes td:nth-child(2) { position: relative; min-width: 90px; }
.prob-bar { position: absolute; left: 0; top: 2px; bottom: 2px; background: #4a90d9;
  opacity: 0.3; }
.top-classes .objects { color: #666; font-size: 0.9em; }
"""
