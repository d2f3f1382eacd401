"""The Gradio page: a sketch pad and an upload on the left, the network's view on the right.

Every handler is a pure function of the image its own browser sent, so concurrent users
never see each other's drawings; the only shared object is the read-only served model.
"""

from __future__ import annotations

import html
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry or version check

import gradio as gr  # noqa: E402  (after the environment it reads at import)

from abstract_cls.data.decode import ImageDecodeError  # noqa: E402
from abstract_cls.demo import inputs, render, sketch_pad  # noqa: E402
from abstract_cls.demo.served_model import ServedModel  # noqa: E402

TITLE = "Draw it, and see what the network sees"
EMPTY_CANVAS = (
  "The canvas is empty: draw an object in black ink (or upload an image) and the network's "
  "five best guesses appear here."
)
EMPTY_ANSWER = render.answer_html(html.escape(EMPTY_CANVAS))
MAX_UPLOAD = "20mb"
# Every upload leaves its file in Gradio's cache: every 10 minutes, delete those older
# than 10 minutes.
CACHE_LIFETIME = (600, 600)
# System fonts only: the default theme would fetch its fonts from the web.
THEME = gr.themes.Default(
  font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
)


def _problem(lead: str, error: ImageDecodeError) -> str:
  return render.answer_html(f"<strong>{lead}</strong> {html.escape(str(error))}")


class Handlers:
  """The page's event handlers; each returns the answer's HTML (render.answer_html)."""

  def __init__(self, served: ServedModel):
    self.served = served

  def _show(self, image, name: str, source: str) -> str:
    """source: how the status line names the image (HTML)."""
    try:
      prediction = self.served.predict(image, name=name)
    except ImageDecodeError as e:
      return _problem("Cannot use this file.", e)
    top = prediction.top[0]
    status = (
      f"{source}: the network's best guess is "
      f"<strong>{html.escape(render.class_title(top))}</strong> "
      f"({100 * prediction.probs[top]:.1f}%)."
    )
    return render.answer_html(status, prediction)

  def sketch(self, value: str | None) -> str:
    """value: the sketch pad's ('' for a blank sheet, else its drawing as a PNG data URL)."""
    try:
      pixels = inputs.sketch_pixels(value)
    except ImageDecodeError as e:
      return _problem("Cannot read the drawing.", e)
    if pixels is None:
      return EMPTY_ANSWER
    return self._show(pixels, inputs.SKETCH_NAME, "Your drawing")

  def upload(self, path: str | None) -> str:
    if not path:
      return EMPTY_ANSWER
    data, name = inputs.read_upload(path)
    return self._show(data, name, f"<code>{html.escape(name)}</code>")


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
        sketch = sketch_pad.sketch_pad(size)
        upload = gr.UploadButton("Upload an image…", type="filepath", elem_id="upload")
      with gr.Column(scale=1):
        answer = gr.HTML(EMPTY_ANSWER, js_on_load=None, elem_id="answer")
    sketch.change(
      handlers.sketch, sketch, answer, trigger_mode="always_last", show_progress="hidden"
    )
    upload.upload(handlers.upload, upload, answer, show_progress="minimal")
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
    # Gradio's run history would keep every stroke's drawing and answer in the browser's
    # localStorage, re-serialising up to 100 of them on every event.
    run_history=False,
  )
  return page.local_url
