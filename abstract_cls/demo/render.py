"""What the page shows for an answer: a status line, the top-5 table and the network's view.

The answer is one HTML fragment (one component to update per stroke); its two images are
small PNG data URLs at the model's input size, which the page enlarges.
"""

from __future__ import annotations

import base64
import html

import numpy as np
from matplotlib import colormaps

from abstract_cls import taxonomy
from abstract_cls.data import decode
from abstract_cls.demo.served_model import Prediction

DISPLAY_SIZE = 224  # CSS pixels the model input and its heat map are shown at
OBJECTS_SHOWN = 4  # level-3 object names listed per class
CAM_OPACITY = 0.45


def png_data_url(pixels: np.ndarray) -> str:
  """uint8 RGB [H, W, 3] -> a PNG data URL."""
  return "data:image/png;base64," + base64.b64encode(decode.encode_png(pixels)).decode("ascii")


def heat_colours(cam: np.ndarray) -> np.ndarray:
  """A heat map in [0, 1] -> uint8 RGB in jet colours (0 = blue, 1 = red)."""
  colours = colormaps["jet"](np.clip(cam, 0, 1))[..., :3]
  return np.uint8(np.rint(colours * 255))


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


def _views_html(prediction: Prediction) -> str:
  """The Grad-CAM overlay (the heat map laid over the input at CAM_OPACITY) and the input."""
  size = prediction.model_input.shape[0]
  pixels = png_data_url(prediction.model_input)
  heat = png_data_url(heat_colours(prediction.cam))
  return (
    '<div class="views">'
    '<figure id="gradcam"><figcaption>Grad-CAM of the top class (red: what drove the guess)'
    f'</figcaption><div class="overlay"><img class="pixels" alt="model input" src="{pixels}">'
    f'<img class="heat" alt="Grad-CAM heat map" src="{heat}"></div></figure>'
    f'<figure id="model-input"><figcaption>The input as the network sees it ({size}×{size} '
    f'px)</figcaption><img class="pixels" alt="model input" src="{pixels}"></figure></div>'
  )


def answer_html(status: str, prediction: Prediction | None = None) -> str:
  """The answer: `status` (HTML) alone, or with the prediction's table and images."""
  parts = [f'<p class="status">{status}</p>']
  if prediction is not None:
    parts += [top_classes_html(prediction), _views_html(prediction)]
  return "".join(parts)


CSS = f"""
#answer .status {{ margin: 0 0 10px; }}
.top-classes {{ width: 100%; border-collapse: collapse; font-size: 0.95em; }}
.top-classes td, .top-classes th {{ padding: 4px 6px; text-align: left; vertical-align: top; }}
.top-classes tr.top-class:first-child {{ font-weight: 600; }}
.top-classes td:nth-child(2) {{ position: relative; min-width: 90px; }}
.prob-bar {{ position: absolute; left: 0; top: 2px; bottom: 2px; background: #4a90d9;
  opacity: 0.3; }}
.top-classes .objects {{ color: #666; font-size: 0.9em; }}
#answer .views {{ display: flex; gap: 16px; flex-wrap: wrap; margin-top: 12px; }}
#answer figure {{ margin: 0; width: {DISPLAY_SIZE}px; }}
#answer figcaption {{ font-size: 0.85em; color: #555; margin-bottom: 4px; }}
#answer .overlay {{ position: relative; width: {DISPLAY_SIZE}px; height: {DISPLAY_SIZE}px; }}
#answer .overlay img {{ position: absolute; left: 0; top: 0; }}
#answer img {{ width: {DISPLAY_SIZE}px; height: {DISPLAY_SIZE}px; display: block; }}
#answer figure > img, #answer .overlay {{ outline: 1px solid var(--border-color-primary); }}
#answer img.pixels {{ image-rendering: pixelated; }}  /* each input pixel stays visible */
#answer img.heat {{ opacity: {CAM_OPACITY}; }}  /* smoothly enlarged, blended over */
"""
