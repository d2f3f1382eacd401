"""The Gradio page: a sketch pad and an upload on the left, the network's view on the right.

Every handler is a pure function of the image its own browser sent, so concurrent users
never see each other's drawings; the only shared object is the read-only served model.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry or version check

import gradio as gr  # noqa: E402  (after the environment it reads at import)

from abstract_cls.data.decode import ImageDecodeError  # noqa: E402
from abstract_cls.demo import inputs, render  # noqa: E402
from abstract_cls.demo.served_model import ServedModel  # noqa: E402

TITLE = "Draw it, and see what the network sees"
EMPTY_CANVAS = (
  "The canvas is empty: draw an object in black ink (or upload an image) and the network's "
  "five best guesses appear here."
)
MAX_UPLOAD = "20mb"
# Every stroke leaves its canvas and answer images in Gradio's cache: every 10 minutes,
# delete those older than 10 minutes.
CACHE_LIFETIME = (600, 600)
# System fonts only: the default theme would fetch its fonts from the web.
THEME = gr.themes.Default(
  font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
)


class Handlers:
  """The page's event handlers; each returns (status, top-5 table, Grad-CAM, model input)."""

  def __init__(self, served: ServedModel):
    self.served = served

  def _show(self, image, name: str, source: str):
    try:
      prediction = self.served.predict(image, name=name)
    except ImageDecodeError as e:
      return f"**Cannot use this file.** {e}", "", None, None
    top = prediction.top[0]
    status = (
      f"{source}: the network's best guess is **{render.class_title(top)}** "
      f"({100 * prediction.probs[top]:.1f}%)."
    )
    return (
      status,
      render.top_classes_html(prediction),
      render.cam_overlay(prediction.model_input, prediction.cam),
      render.enlarged(prediction.model_input),
    )

  def sketch(self, editor_value):
    pixels = inputs.sketch_pixels(editor_value)
    if pixels is None:
      return EMPTY_CANVAS, "", None, None
    return self._show(pixels, "<drawing>", "Your drawing")

  def upload(self, path: str | None):
    if not path:
      return EMPTY_CANVAS, "", None, None
    data, name = inputs.read_upload(path)
    return self._show(data, name, f"`{name}`")

  @staticmethod
  def clear():
    return inputs.empty_sketch()


def _notice_page(notice: str) -> gr.Blocks:
  with gr.Blocks(title=TITLE, analytics_enabled=False) as page:
    gr.Markdown(f"# {TITLE}")
    gr.Markdown(notice, elem_id="checkpoint")
  return page


def build(served: ServedModel | None, notice: str = "") -> gr.Blocks:
  """The page for a served model, or a page that only shows `notice` when there is none."""
  if served is None:
    return _notice_page(notice)
  handlers = Handlers(served)
  size = served.info.image_size
  with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=CACHE_LIFETIME) as page:
    gr.Markdown(f"# {TITLE}")
    gr.Markdown(f"Serving {served.info.describe()}.", elem_id="checkpoint")
    with gr.Row():
      with gr.Column(scale=1):
        sketch = gr.Sketchpad(
          value=inputs.empty_sketch(),
          type="numpy",
          image_mode="RGB",
          canvas_size=(inputs.CANVAS_SIZE, inputs.CANVAS_SIZE),
          fixed_canvas=True,
          brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=6),
          layers=False,
          transforms=(),
          format="png",
          label="Draw here: black ink (brush size and eraser on the left, undo at the top)",
          elem_id="sketch",
        )
        with gr.Row():
          clear = gr.Button("Clear the canvas", elem_id="clear")
          upload = gr.UploadButton("Upload an image…", type="filepath", elem_id="upload")
      with gr.Column(scale=1):
        status = gr.Markdown(EMPTY_CANVAS, elem_id="status")
        top5 = gr.HTML(elem_id="top5")
        with gr.Row():
          cam = gr.Image(
            label="Grad-CAM of the top class (red: what drove the guess)",
            format="png",
            interactive=False,
            elem_id="gradcam",
          )
          seen = gr.Image(
            label=f"The input as the network sees it ({size}×{size} px)",
            format="png",
            interactive=False,
            elem_id="model-input",
          )
    outputs = [status, top5, cam, seen]
    sketch.change(
      handlers.sketch, sketch, outputs, trigger_mode="always_last", show_progress="hidden"
    )
    upload.upload(handlers.upload, upload, outputs, show_progress="minimal")
    clear.click(handlers.clear, None, sketch, show_progress="hidden")
  return page


def serve(page: gr.Blocks, host: str, port: int, block: bool = True) -> str:
  """Starts the server; returns the page's URL (at once when block is False)."""
  page.queue(default_concurrency_limit=1)
  page.launch(
    server_name=host,
    server_port=port,
    share=False,
    ssr_mode=False,
    prevent_thread_lock=not block,
    max_file_size=MAX_UPLOAD,
    theme=THEME,
    css=render.CSS,
    show_error=False,
    quiet=not block,
  )
  return page.local_url
