"""The demo page in a real browser: Debian's Chromium driven headless by Playwright.

Skipped when /usr/bin/chromium is absent, unless ABSTRACT_CLS_REQUIRE_BROWSER=1 (set by
.ci/run), which turns the skip into a failure. Nothing is downloaded: the page must not
request anything outside the local server.
"""

import csv
import os
import urllib.parse

import portpicker
import pytest
from test_demo import embedded_png
from test_train_support import tiny_config

from abstract_cls.demo import app, browser, sketch_pad
from abstract_cls.demo.served_model import ServedModel
from abstract_cls.train import loop, predict

REQUIRE_BROWSER = os.environ.get("ABSTRACT_CLS_REQUIRE_BROWSER") == "1"
pytestmark = [
  pytest.mark.skipif(
    not browser.chromium_available() and not REQUIRE_BROWSER,
    reason=f"{browser.CHROMIUM} is missing (apt-get install chromium); "
    "ABSTRACT_CLS_REQUIRE_BROWSER=1 makes this a failure",
  ),
  pytest.mark.filterwarnings("ignore:::gradio.queueing"),  # its pandas calls, not ours
]

# Each drawing below is one stroke, so it gives exactly one answer from the server.
DIAGONAL = [[(0.2, 0.2), (0.8, 0.8)]]
OTHER_DIAGONAL = [[(0.2, 0.8), (0.8, 0.2)]]
BOX = [[(0.25, 0.3), (0.75, 0.3), (0.75, 0.7), (0.25, 0.7), (0.25, 0.3)]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("demo_browser_run"))
  config = tiny_config(train=dict(max_steps=4))
  loop.train_and_evaluate(config, workdir)
  return config, workdir


@pytest.fixture(scope="module")
def url(trained):
  page = app.build(ServedModel(trained[1]))
  address = app.serve(page, "127.0.0.1", portpicker.pick_unused_port(), block=False)
  yield address
  page.close()


@pytest.fixture(scope="module")
def chromium():
  with browser.chromium() as instance:
    yield instance


@pytest.fixture
def tab(chromium, url):
  opened = browser.DemoPage(chromium, url)
  yield opened
  outside = [
    u
    for u in opened.requested_urls
    if urllib.parse.urlsplit(u).hostname not in ("127.0.0.1", None) and not u.startswith("blob:")
  ]
  opened.close()
  assert not outside, f"the page fetched from outside the local server: {outside[:5]}"


def _check_top5(classes):
  probs = [p for _, p in classes]
  assert len(classes) == 5 and len({c for c, _ in classes}) == 5
  assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6


def test_a_stroke_sends_one_small_event_and_gets_top5_and_the_networks_view(tab):
  assert tab.status() == app.EMPTY_CANVAS and "checkpoint step" in tab.page.inner_text(
    "#checkpoint"
  )
  tab.draw(DIAGONAL)
  tab.wait_for_status("Your drawing: the network's best guess is")
  _check_top5(tab.top_classes())
  assert tab.page.locator("#gradcam img").count() == 2  # the input and its heat map
  assert tab.page.locator("#model-input img").count() == 1
  assert len(tab.event_post_bytes) == 1 and tab.event_post_bytes[0] < 32 * 1024
  assert tab.inked_pixels() > 0  # the answer leaves the drawing on the sheet


def test_undo_returns_to_the_earlier_drawing_then_to_the_empty_canvas(tab):
  tab.draw(DIAGONAL)
  tab.wait_for_status("Your drawing")
  one_line, one_line_ink = tab.top_classes_table(), tab.inked_pixels()
  tab.draw(OTHER_DIAGONAL)
  _check_top5(tab.wait_for_new_top_classes(one_line))
  assert tab.inked_pixels() > one_line_ink
  tab.click(browser.UNDO)
  tab.wait_for_top_classes_table(one_line)  # the same drawing again, the same answer
  assert tab.inked_pixels() == one_line_ink
  tab.click(browser.UNDO)
  tab.wait_for_status(app.EMPTY_CANVAS)
  assert tab.inked_pixels() == 0 and tab.top_classes_table() == ""
  assert tab.page.locator(browser.UNDO).is_disabled()


def test_clear_empties_the_sheet_and_shows_the_empty_canvas_message(tab):
  tab.draw(BOX)
  tab.wait_for_status("Your drawing")
  tab.click(browser.CLEAR)
  tab.wait_for_status(app.EMPTY_CANVAS)
  assert tab.inked_pixels() == 0 and tab.top_classes_table() == ""


def test_brush_size_sets_the_width_of_the_ink(tab):
  thin, thick = sketch_pad.BRUSH_SIZES
  tab.set_brush_size(thin)
  tab.draw(DIAGONAL)
  thin_ink = tab.inked_pixels()
  tab.click(browser.CLEAR)
  tab.set_brush_size(thick)
  tab.draw(DIAGONAL)
  assert tab.inked_pixels() > 4 * thin_ink > 0


def test_upload_agrees_with_predict_mode(tab, trained, tmp_path):
  config, workdir = trained
  name, data = embedded_png(0)
  path = tmp_path / name
  path.write_bytes(data)
  output = predict.run_predict(config, workdir, [str(path)], str(tmp_path / "p.csv"))
  with open(output, newline="", encoding="utf-8") as f:
    expected = next(csv.DictReader(f))
  tab.upload(str(path))
  tab.wait_for_status(f"{name}: the network's best guess is {expected['top1_code']} ")
  classes = tab.top_classes()
  _check_top5(classes)
  assert classes[0][0] == expected["top1_code"]


def test_broken_upload_shows_the_decoders_error(tab, tmp_path):
  name, data = embedded_png(1)
  path = tmp_path / f"cut_{name}"
  path.write_bytes(data[: len(data) // 3])
  tab.upload(str(path))
  status = tab.wait_for_status("Cannot use this file.")
  assert path.name in status and "truncated or corrupt image" in status
  assert "Traceback" not in tab.page.content() and tab.top_classes_table() == ""


def test_users_do_not_see_each_others_drawings(tab, chromium, url):
  other = browser.DemoPage(chromium, url)
  try:
    tab.draw(DIAGONAL)
    tab.wait_for_status("Your drawing")
    mine = tab.top_classes_table()
    assert other.status() == app.EMPTY_CANVAS and other.top_classes_table() == ""
    other.draw(BOX)
    other.wait_for_status("Your drawing")
    assert other.top_classes_table() != mine
    assert tab.top_classes_table() == mine
  finally:
    other.close()
