"""The sketch pad: a plain 2D canvas in a gr.HTML component (brush size, undo, clear).

Gradio's own ImageEditor exports its background, layer and composite as PNGs and uploads
them on every stroke; this pad sends one small PNG data URL per stroke instead (see
sketch_pad.js), which `inputs.sketch_pixels` decodes.
"""

from __future__ import annotations

import pathlib

import gradio as gr

from abstract_cls.demo import inputs

BRUSH_SIZES = (2, 24)  # the brush-size slider's range, in canvas pixels
DEFAULT_BRUSH = 8
BEHAVIOUR = (pathlib.Path(__file__).parent / "sketch_pad.js").read_text(encoding="utf-8")

# Gradio fills it in with Handlebars, then as a JS template string: no backticks or "${".
TEMPLATE = """
<div class="sketch-label">Draw here: black ink (brush size, undo and clear below)</div>
<canvas class="sheet" width="{{canvas_size}}" height="{{canvas_size}}"
  aria-label="drawing sheet"></canvas>
<div class="sketch-tools">
  <label>brush size <input class="brush-size" type="range" min="{{brush_min}}"
    max="{{brush_max}}" step="1" value="{{brush_size}}"></label>
  <button type="button" data-action="undo">Undo</button>
  <button type="button" data-action="clear">Clear</button>
</div>
"""
STYLE = """
.sketch-label { font-size: var(--block-label-text-size); color: var(--block-label-text-color);
  margin-bottom: 6px; }
canvas.sheet { display: block; width: {{canvas_size}}px; max-width: 100%; aspect-ratio: 1;
  border: 1px solid var(--border-color-primary); touch-action: none; cursor: crosshair; }
.sketch-tools { display: flex; gap: 10px; align-items: center; margin-top: 8px; }
.sketch-tools label { display: flex; gap: 6px; align-items: center; }
.sketch-tools button { padding: 4px 14px; border-radius: var(--button-small-radius);
  border: 1px solid var(--button-secondary-border-color);
  background: var(--button-secondary-background-fill); }
.sketch-tools button:disabled { opacity: 0.5; }
"""


def sent_size(model_input_size: int) -> int:
  """Side of the PNG the pad sends: at least twice the model's input side, so the server
  only ever downscales, and at most the canvas itself."""
  return min(inputs.CANVAS_SIZE, max(inputs.MIN_SENT_SIZE, 2 * model_input_size))


def sketch_pad(model_input_size: int, elem_id: str = "sketch") -> gr.HTML:
  """The pad; its value is '' for a blank sheet or the drawing's PNG data URL."""
  return gr.HTML(
    value="",
    html_template=TEMPLATE,
    css_template=STYLE,
    js_on_load=BEHAVIOUR,
    apply_default_css=False,
    elem_id=elem_id,
    canvas_size=inputs.CANVAS_SIZE,
    sent_size=sent_size(model_input_size),
    brush_min=BRUSH_SIZES[0],
    brush_max=BRUSH_SIZES[1],
    brush_size=DEFAULT_BRUSH,
  )
