"""Runs every study's preset one after another, resumable, refreshing the reports as runs land.

Command: python -m experiments.run_all --preset=cpu [--background] [--studies=depth,domains]
Finished runs are skipped (each study's sweep skips a run whose result.json matches its
config; an interrupted run resumes from its checkpoint), so the same command continues a
stopped sweep. After every finished run the study's report and the digest
(experiments.report_all) are rewritten. --background detaches the driver (it inherits the
caller's niceness) and logs to OUT/run_all.log; a lock file stops a second driver.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import subprocess
import sys
import time
import traceback

from experiments import cli, report_all, sweep, tables

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
# Cheapest and most informative first.
ORDER = ("gradients_at_init", "depth", "architectures", "regularisation", "imbalance", "domains")


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def acquire_lock(path: pathlib.Path) -> None:
  """One driver at a time: the lock file holds the driver's pid; a dead driver's is ignored."""
  if path.exists():
    text = path.read_text().strip()
    if text.isdigit() and int(text) != os.getpid() and _alive(int(text)):
      raise SystemExit(f"{path}: another run_all (pid {text}) is running; stop it first")
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(str(os.getpid()))


def run(preset: str, studies, results: pathlib.Path, digest_args=(), log=print) -> int:
  """Runs the studies in order, rewriting the digest (report_all with `digest_args`) after
  every finished run; -> the number of studies that failed (each failure is logged)."""
  failed = 0

  def refresh(result):
    del result
    report_all.main([f"--results={results}", *digest_args])

  for name in studies:
    module = importlib.import_module(f"experiments.{name}")
    if preset not in module.PRESETS:
      log(f"[run_all] {name}: no {preset!r} preset, skipped")
      continue
    start = time.time()
    log(f"[run_all] {name} --preset={preset}")
    try:
      cli.run_study(module, module.PRESETS[preset], results / name, after_run=refresh, log=log)
    except sweep.Stopped:  # asked to stop: the remaining studies are not started either
      refresh(None)
      raise
    except Exception:  # pylint: disable=broad-except  # one study's failure stops only it
      failed += 1
      log(f"[run_all] {name} FAILED:\n{traceback.format_exc()}")
      continue
    refresh(None)
    log(f"[run_all] {name} done in {tables.hours_minutes(time.time() - start)}")
  return failed


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--preset", default="cpu")
  parser.add_argument("--studies", default=",".join(ORDER), help="comma-separated, in order")
  parser.add_argument("--results", default=str(RESULTS))
  parser.add_argument("--background", action="store_true", help="detach; log to OUT/run_all.log")
  args = parser.parse_args(argv)
  studies = [s for s in args.studies.split(",") if s]
  unknown = [s for s in studies if s not in ORDER]
  if unknown:
    raise SystemExit(f"--studies: unknown {unknown}; known: {', '.join(ORDER)}")
  results = pathlib.Path(args.results)
  lock = results / "run_all.lock"
  if args.background:
    results.mkdir(parents=True, exist_ok=True)
    log_path = results / "run_all.log"
    command = [
      sys.executable,
      "-m",
      "experiments.run_all",
      f"--preset={args.preset}",
      f"--studies={','.join(studies)}",
      f"--results={results}",
    ]
    with log_path.open("a", encoding="utf-8") as log_file:
      child = subprocess.Popen(
        command, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
      )
    print(f"run_all started in the background (pid {child.pid}); log: {log_path}")
    return 0
  acquire_lock(lock)
  try:
    failed = run(args.preset, studies, results, log=lambda m: print(m, flush=True))
  except sweep.Stopped as stopped:
    print(f"[run_all] {stopped}; re-run the same command to resume it.", flush=True)
    return cli.STOPPED_EXIT_CODE
  finally:
    lock.unlink(missing_ok=True)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
