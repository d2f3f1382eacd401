"""Browser demo latency: from the end of a stroke on the sketch pad to updated predictions.

Serves the demo for --workdir (the default run, runs/resnet, by default) on this machine,
draws --strokes short strokes with the mouse in Debian's headless Chromium (Playwright),
and times in the page itself, from the stroke's pointerup to the new top-5 table in the
DOM. Also times its parts: in the page, pointerup to the event's POST leaving; on the
server, the sketch handler (decoding the drawing, predict, rendering the answer) and within
it the served model's predict (preprocessing, forward pass, Grad-CAM). Prints p50 / p95 /
max and writes them, with the command, the machine, the commit and the load average, to
--out (Markdown).

  python benchmarks/demo_latency.py --workdir=runs/resnet
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# ruff: noqa: E402 (the imports below need the repository on sys.path)
import numpy as np
import portpicker

from abstract_cls.demo import app, browser
from abstract_cls.demo.served_model import ServedModel

TARGET_P95_MS = 150.0
WARMUP_STROKES = 3
STROKES_PER_SHEET = 10  # the sheet is cleared (untimed) after this many strokes

# In the page: the time of each pointerup and of each event POST, and for each new top-5
# table the delays from the last pointerup to that table and to the POST before it.
TIMING_HOOK = """
() => {
  window.strokeLatencies = [];
  window.sendDelays = [];
  document.addEventListener('pointerup', () => { window.lastStrokeEnd = performance.now(); },
                            true);
  const fetchOriginal = window.fetch;
  window.fetch = function (resource, options) {
    const url = String(resource instanceof Request ? resource.url : resource);
    if (url.includes('EVENT_POSTS')) window.lastSent = performance.now();
    return fetchOriginal.apply(this, arguments);
  };
  const target = document.querySelector('ANSWER');
  let shown = '';
  new MutationObserver(() => {
    const table = target.querySelector('table.top-classes');
    if (table && table.outerHTML !== shown && window.lastStrokeEnd !== undefined) {
      shown = table.outerHTML;
      window.strokeLatencies.push(performance.now() - window.lastStrokeEnd);
      window.sendDelays.push(window.lastSent - window.lastStrokeEnd);
    }
  }).observe(target, {subtree: true, childList: true, characterData: true, attributes: true});
}
""".replace("EVENT_POSTS", browser.EVENT_POSTS).replace("ANSWER", browser.ANSWER)


def _machine() -> str:
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    model = next(line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line)
  except (OSError, subprocess.CalledProcessError, StopIteration):
    model = platform.processor() or "unknown CPU"
  return f"{model}, {os.cpu_count()} cores"


def _commit() -> str:
  def git(*args):
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

  return git("rev-parse", "--short", "HEAD") + (
    " (uncommitted changes)" if git("status", "--porcelain") else ""
  )


def _chromium_version() -> str:
  out = subprocess.run([browser.CHROMIUM, "--version"], capture_output=True, text=True)
  return out.stdout.strip() or "unknown"


def _stroke(rng) -> list[tuple[float, float]]:
  """A short random line of three points, inside the sheet."""
  start = rng.uniform(0.15, 0.85, size=2)
  points = [start]
  for _ in range(2):
    points.append(np.clip(points[-1] + rng.uniform(-0.2, 0.2, size=2), 0.05, 0.95))
  return [tuple(float(v) for v in p) for p in points]


def _percentiles(values_ms) -> dict:
  values = np.asarray(values_ms, np.float64)
  return {
    "p50": float(np.percentile(values, 50)),
    "p95": float(np.percentile(values, 95)),
    "max": float(values.max()),
  }


def _timed(function, times_ms: list, keep=lambda result: True):
  """`function`, appending the milliseconds of each call whose result `keep` accepts."""

  def timed(*args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    if keep(result):
      times_ms.append(1000 * (time.perf_counter() - start))
    return result

  return timed


def measure(workdir: str, strokes: int, seed: int) -> dict:
  served = ServedModel(workdir)
  model_ms, handler_ms = [], []
  served.predict = _timed(served.predict, model_ms)
  sketch_handler = app.Handlers.sketch
  # Only answers with a top-5 table (a cleared sheet is answered without the model).
  app.Handlers.sketch = _timed(sketch_handler, handler_ms, keep=lambda answer: bool(answer[1]))
  try:
    page = app.build(served)
  finally:
    app.Handlers.sketch = sketch_handler
  url = app.serve(page, "127.0.0.1", portpicker.pick_unused_port(), block=False)
  rng = np.random.default_rng(seed)
  try:
    with browser.chromium() as chromium:
      tab = browser.DemoPage(chromium, url)
      tab.page.evaluate(TIMING_HOOK)
      for i in range(strokes + WARMUP_STROKES):
        if i and i % STROKES_PER_SHEET == 0:
          tab.click(browser.CLEAR)
          tab.wait_for_status(app.EMPTY_CANVAS)
        before = tab.top_classes_table()
        tab.draw([_stroke(rng)])
        tab.wait_for_new_top_classes(before)
      browser_ms = tab.page.evaluate("() => window.strokeLatencies")
      send_ms = tab.page.evaluate("() => window.sendDelays")
      payload_bytes = tab.event_post_bytes
  finally:
    page.close()
  return {
    "model": served.info.describe(),
    "browser": _percentiles(browser_ms[WARMUP_STROKES:]),
    "send": _percentiles(send_ms[WARMUP_STROKES:]),
    "handler": _percentiles(handler_ms[WARMUP_STROKES:]),
    "server_predict": _percentiles(model_ms[WARMUP_STROKES:]),
    "largest_post_kb": max(payload_bytes) / 1024,
    "n": len(browser_ms) - WARMUP_STROKES,
  }


def report(result: dict, command: str) -> str:
  b = result["browser"]
  verdict = "meets" if b["p95"] <= TARGET_P95_MS else "misses"
  load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
  rows = [
    ("pointerup -> new top-5 table in the page", "browser"),
    ("of which pointerup -> the event's POST leaves the page", "send"),
    ("of which the server's sketch handler (decode, predict, render)", "handler"),
    ("of which the served model's predict (preprocess, forward, Grad-CAM)", "server_predict"),
  ]
  return "\n".join(
    [
      "# Browser demo latency: end of a stroke to updated predictions",
      "",
      f"- Command: `{command}`",
      f"- Machine: {_machine()}; load average (1/5/15 min) at the end: {load}",
      f"- Commit: {_commit()}; {datetime.date.today().isoformat()}",
      f"- Browser: {_chromium_version()}, headless, driven by Playwright",
      f"- Model: {result['model']}",
      f"- Strokes timed: {result['n']} (after {WARMUP_STROKES} warm-up strokes); largest "
      f"event sent to the server: {result['largest_post_kb']:.1f} KiB",
      "",
      "| measured | p50 ms | p95 ms | max ms |",
      "|---|---|---|---|",
      *(
        f"| {label} | {result[key]['p50']:.1f} | {result[key]['p95']:.1f} | "
        f"{result[key]['max']:.1f} |"
        for label, key in rows
      ),
      "",
      f"p95 {b['p95']:.1f} ms {verdict} the {TARGET_P95_MS:.0f} ms target.",
      "",
    ]
  )


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", default=os.path.join(REPO, "runs", "resnet"))
  parser.add_argument("--strokes", type=int, default=40)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument(
    "--out", default=os.path.join(REPO, "benchmarks", "demo_latency_results.md"), help="Markdown"
  )
  args = parser.parse_args()
  from abstract_cls.train import errors  # pylint: disable=g-import-not-at-top

  try:
    result = measure(args.workdir, args.strokes, args.seed)
  except (errors.CheckpointNotFoundError, FileNotFoundError) as e:
    sys.exit(f"error: {e}")
  text = report(result, "python " + " ".join(sys.argv))
  print(text)
  with open(args.out, "w", encoding="utf-8") as f:
    f.write(text)
  print(f"Wrote {args.out}")


if __name__ == "__main__":
  main()
