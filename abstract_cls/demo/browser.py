"""Driving the demo page in Debian's Chromium with Playwright (tests, benchmark, screenshot).

The system browser is used as it is: Playwright's own browser download is never needed,
and the flags keep Chromium from reaching the network on its own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

from abstract_cls.demo import inputs

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
)
VIEWPORT = {"width": 1400, "height": 1000}
PAGE_TIMEOUT_MS = 120_000  # a loaded 2-core machine needs tens of seconds for the first load

ANSWER = "#answer"  # the status line, the top-5 table and the network's view
STATUS = f"{ANSWER} p.status"
TOP_CLASSES = f"{ANSWER} table.top-classes"
SHEET = "#sketch canvas.sheet"
UNDO = "#sketch button[data-action=undo]"
CLEAR = "#sketch button[data-action=clear]"
BRUSH_SIZE = "#sketch input.brush-size"
EVENT_POSTS = "/gradio_api/queue/join"  # each event the page sends the server is one POST

# A stroke: points (x, y) in [0, 1] on the drawing sheet, (0, 0) its top left.
Stroke = Sequence[tuple[float, float]]


def chromium_available() -> bool:
  return os.access(CHROMIUM, os.X_OK)


@contextlib.contextmanager
def chromium() -> Iterator:
  """A headless Chromium (playwright Browser) from /usr/bin/chromium."""
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top

  if not chromium_available():
    raise FileNotFoundError(f"{CHROMIUM} is missing: install Debian's chromium package")
  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(
      executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS), headless=True
    )
    try:
      yield browser
    finally:
      browser.close()


class DemoPage:
  """One user's tab on the demo page."""

  def __init__(self, browser, url: str):
    self.context = browser.new_context(viewport=VIEWPORT)
    self.page = self.context.new_page()
    self.page.set_default_timeout(PAGE_TIMEOUT_MS)
    self.requested_urls: list[str] = []
    self.event_post_bytes: list[int] = []  # body size of each event sent to the server
    self.page.on("request", self._record)
    self.page.goto(url)
    self.page.wait_for_selector(f"{SHEET}[data-ready]")

  def _record(self, request) -> None:
    self.requested_urls.append(request.url)
    if request.method == "POST" and EVENT_POSTS in request.url:
      self.event_post_bytes.append(len(request.post_data_buffer or b""))

  def close(self) -> None:
    self.context.close()

  def sheet_box(self) -> dict:
    """Screen box of the drawing sheet (the sketch pad's canvas)."""
    return self.page.locator(SHEET).bounding_box()

  def inked_pixels(self) -> int:
    """How many of the sheet's pixels are darker than the ink threshold."""
    return self.page.locator(SHEET).evaluate(
      "(c, limit) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
      " let n = 0; for (let i = 0; i < d.length; i += 4)"
      " if (Math.min(d[i], d[i + 1], d[i + 2]) < limit) n++; return n; }",
      inputs.INK_THRESHOLD,
    )

  def draw(self, strokes: Sequence[Stroke], steps: int = 6) -> None:
    """Draws with the mouse: press, move through the points, release, per stroke."""
    box = self.sheet_box()
    to_screen = lambda p: (box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"])
    mouse = self.page.mouse
    for stroke in strokes:
      mouse.move(*to_screen(stroke[0]))
      mouse.down()
      for point in stroke[1:]:
        mouse.move(*to_screen(point), steps=steps)
      mouse.up()

  def top_classes(self) -> list[tuple[str, float]]:
    """(level-2 code, probability) of the rows in the top-5 table, best first."""
    rows = self.page.locator(f"{TOP_CLASSES} tr.top-class")
    return [
      (rows.nth(i).get_attribute("data-code"), float(rows.nth(i).get_attribute("data-prob")))
      for i in range(rows.count())
    ]

  def status(self) -> str:
    return self.page.inner_text(STATUS)

  def wait_for_status(self, prefix: str, unlike: str = "") -> str:
    """Waits until the status line starts with `prefix` (and is not `unlike`); -> it."""
    self.page.wait_for_function(
      "([sel, prefix, unlike]) => { const e = document.querySelector(sel);"
      " return e && e.innerText.startsWith(prefix) && e.innerText !== unlike; }",
      arg=[STATUS, prefix, unlike],
    )
    return self.status()

  def top_classes_table(self) -> str:
    """The top-5 table's HTML ('' when none is shown)."""
    table = self.page.locator(TOP_CLASSES)
    return table.evaluate("e => e.outerHTML") if table.count() else ""

  def wait_for_new_top_classes(self, before: str) -> list[tuple[str, float]]:
    """Waits until a top-5 table other than the HTML `before` is shown; -> top_classes()."""
    self.page.wait_for_function(
      "([sel, before]) => { const t = document.querySelector(sel);"
      " return t && t.outerHTML !== before; }",
      arg=[TOP_CLASSES, before],
    )
    return self.top_classes()

  def wait_for_top_classes_table(self, expected: str) -> None:
    """Waits until the top-5 table's HTML is `expected` (e.g. an earlier one, after undo)."""
    self.page.wait_for_function(
      "([sel, expected]) => { const t = document.querySelector(sel);"
      " return t && t.outerHTML === expected; }",
      arg=[TOP_CLASSES, expected],
    )

  def set_brush_size(self, size: int) -> None:
    self.page.locator(BRUSH_SIZE).fill(str(size))

  def upload(self, path: str) -> None:
    """Clicks the upload button and picks `path` in the file chooser it opens."""
    with self.page.expect_file_chooser() as chooser:
      self.page.click("#upload")
    chooser.value.set_files(path)

  def click(self, selector: str) -> None:
    self.page.click(selector)
