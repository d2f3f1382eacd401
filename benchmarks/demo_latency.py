"""Browser demo latency: from the end of a stroke on the sketch pad to updated predictions.

Serves the demo for --workdir (the default run, runs/resnet, by default) on this machine,
draws --strokes short strokes with the mouse in Debian's headless Chromium (Playwright),
and times in the page itself, from the stroke's pointerup to the new top-5 table in the
DOM. Also times the server's share: the served model's predict (preprocessing, forward
pass, Grad-CAM) per stroke. Prints p50 / p95 / max and writes them, with the command, the
machine, the commit and the load average, to --out (Markdown).

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

# In the page: the time of each pointerup, and the delay from the last one to each new
# top-5 table.
TIMING_HOOK = """
() => {
  window.strokeLatencies = [];
  document.addEventListener('pointerup', () => { window.lastStrokeEnd = performance.now(); },
                            true);
  const target = document.querySelector('#top5');
  let shown = '';
  new MutationObserver(() => {
    const table = target.querySelector('table.top-classes');
    if (table && table.outerHTML !== shown && window.lastStrokeEnd !== undefined) {
      shown = table.outerHTML;
      window.strokeLatencies.push(performance.now() - window.lastStrokeEnd);
    }
  }).observe(target, {subtree: true, childList: true, characterData: true, attributes: true});
}
"""


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


def measure(workdir: str, strokes: int, seed: int) -> dict:
  served = ServedModel(workdir)
  model_ms = []
  predict = served.predict

  def timed_predict(*args, **kwargs):
    start = time.perf_counter()
    result = predict(*args, **kwargs)
    model_ms.append(1000 * (time.perf_counter() - start))
    return result

  served.predict = timed_predict
  page = app.build(served)
  url = app.serve(page, "127.0.0.1", portpicker.pick_unused_port(), block=False)
  rng = np.random.default_rng(seed)
  try:
    with browser.chromium() as chromium:
      tab = browser.DemoPage(chromium, url)
      tab.page.evaluate(TIMING_HOOK)
      for i in range(strokes + WARMUP_STROKES):
        if i and i % STROKES_PER_SHEET == 0:
          tab.click("#clear")
          tab.wait_for_status(app.EMPTY_CANVAS)
        before = tab.top_classes_table()
        tab.draw([_stroke(rng)])
        tab.wait_for_new_top_classes(before)
      browser_ms = tab.page.evaluate("() => window.strokeLatencies")
  finally:
    page.close()
  # One model call per stroke (an empty canvas is answered without one); warm-up dropped.
  return {
    "model": served.info.describe(),
    "browser": _percentiles(browser_ms[WARMUP_STROKES:]),
    "server_predict": _percentiles(model_ms[WARMUP_STROKES:]),
    "n": len(browser_ms) - WARMUP_STROKES,
  }


def report(result: dict, command: str) -> str:
  b, s = result["browser"], result["server_predict"]
  verdict = "meets" if b["p95"] <= TARGET_P95_MS else "misses"
  load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
  return "\n".join(
    [
      "# Browser demo latency: end of a stroke to updated predictions",
      "",
      f"- Command: `{command}`",
      f"- Machine: {_machine()}; load average (1/5/15 min) at the end: {load}",
      f"- Commit: {_commit()}; {datetime.date.today().isoformat()}",
      f"- Browser: {_chromium_version()}, headless, driven by Playwright",
      f"- Model: {result['model']}",
      f"- Strokes timed: {result['n']} (after {WARMUP_STROKES} warm-up strokes)",
      "",
      "| measured | p50 ms | p95 ms | max ms |",
      "|---|---|---|---|",
      f"| pointerup -> new top-5 table in the page | {b['p50']:.1f} | {b['p95']:.1f} | "
      f"{b['max']:.1f} |",
      f"| of which the served model's predict (preprocess, forward, Grad-CAM) | "
      f"{s['p50']:.1f} | {s['p95']:.1f} | {s['max']:.1f} |",
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
