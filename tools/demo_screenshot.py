"""Regenerates docs/images/demo.png: the browser demo with a drawing and its predictions.

Serves the demo for --workdir, draws a car (body, windows, two wheels) with the mouse in
Debian's headless Chromium (Playwright) and saves the page once the top-5 table, the
Grad-CAM overlay and the model-input view are shown. Korean names need a CJK font
(Debian: fonts-noto-cjk); without one they show as boxes.

  python -m tools.demo_screenshot --workdir=runs/resnet [--output=docs/images/demo.png]
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))

# ruff: noqa: E402 (the imports below need the repository on sys.path)
import portpicker

from abstract_cls.demo import app, browser
from abstract_cls.demo.served_model import ServedModel
from abstract_cls.train import errors


def _circle(cx: float, cy: float, r: float, points: int = 24) -> list[tuple[float, float]]:
  return [
    (cx + r * math.cos(2 * math.pi * i / points), cy + r * math.sin(2 * math.pi * i / points))
    for i in range(points + 1)
  ]


# A side view of a car on the 0..1 sheet: body with a cabin, two windows, two wheels.
CAR = [
  [(0.1, 0.62), (0.1, 0.5), (0.28, 0.47), (0.36, 0.33), (0.64, 0.33), (0.74, 0.47), (0.9, 0.5),
   (0.9, 0.62), (0.1, 0.62)],
  [(0.39, 0.36), (0.49, 0.36), (0.49, 0.46), (0.33, 0.46), (0.39, 0.36)],
  [(0.53, 0.36), (0.62, 0.36), (0.69, 0.46), (0.53, 0.46), (0.53, 0.36)],
  _circle(0.28, 0.64, 0.08),
  _circle(0.72, 0.64, 0.08),
]  # fmt: skip


def take(workdir: str, output: str) -> str:
  page = app.build(ServedModel(workdir))
  url = app.serve(page, "127.0.0.1", portpicker.pick_unused_port(), block=False)
  try:
    with browser.chromium() as chromium:
      tab = browser.DemoPage(chromium, url)
      for stroke in CAR:
        before = tab.top_classes_table()
        tab.draw([stroke])
        tab.wait_for_new_top_classes(before)
      for image in ("#gradcam img", "#model-input img"):
        tab.page.wait_for_function(
          "sel => { const i = document.querySelector(sel); return i && i.complete; }", arg=image
        )
      bottom = max(
        box["y"] + box["height"]
        for box in (tab.page.locator(s).bounding_box() for s in ("#gradcam", "#upload"))
      )
      pathlib.Path(output).parent.mkdir(parents=True, exist_ok=True)
      tab.page.screenshot(
        path=output,
        clip={"x": 0, "y": 0, "width": browser.VIEWPORT["width"], "height": bottom + 16},
      )
  finally:
    page.close()
  return output


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", default=str(ROOT / "runs" / "resnet"))
  parser.add_argument("--output", default=str(ROOT / "docs" / "images" / "demo.png"))
  args = parser.parse_args()
  try:
    print(f"Wrote {take(args.workdir, args.output)}")
  except (errors.CheckpointNotFoundError, FileNotFoundError) as e:
    sys.exit(f"error: {e}")


if __name__ == "__main__":
  main()
