"""Writes results/default_run.md: the README's results table for the default training run.

Reads only files that the run's commands wrote into the workdir:
  python -m abstract_cls.main --config=configs/resnet.py --workdir=W                 (train)
  python -m abstract_cls.main --config=configs/resnet.py --workdir=W --mode=eval \
      --config.eval.split=test                                                      (report)
then: python -m tools.default_run_summary --workdir=W [--machine="..."] [--commit=SHA]
Wall time is the span from config.json (written at start) to the last metrics.jsonl write.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import platform
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _git_commit() -> str:
  try:
    return subprocess.run(
      ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return "unknown"


def summarise(workdir: pathlib.Path, machine: str, commit: str = "") -> str:
  config_path, metrics_path = workdir / "config.json", workdir / "metrics.jsonl"
  for path in (config_path, metrics_path):
    if not path.exists():
      raise SystemExit(f"{path}: missing; train first (see this module's docstring)")
  config = json.loads(config_path.read_text(encoding="utf-8"))
  rows = [
    json.loads(line)
    for line in metrics_path.read_text(encoding="utf-8").splitlines()
    if line.strip()
  ]
  evals = [r for r in rows if "eval" in r]
  if not evals:
    raise SystemExit(f"{metrics_path}: no evaluation rows; the run has not reached an evaluation")
  last_train = [r for r in rows if "loss" in r][-1]
  wall_s = metrics_path.stat().st_mtime - config_path.stat().st_mtime
  lines = [
    f"Default run: `python -m abstract_cls.main --config=configs/resnet.py` — model "
    f"`{config['model']['name']}` at {config['data']['image_size']} px on "
    f"`{config['data']['name']}`; machine: {machine}; commit {commit or _git_commit()}; "
    f"written {datetime.date.today().isoformat()}.",
    "",
    f"Trained {last_train['step']} steps ({last_train['epoch']:.1f} epochs) in "
    f"{wall_s / 60:.1f} min wall clock since the run's last start (config.json is "
    f"rewritten when a run resumes, so a resumed run shows only its last leg).",
    "",
    "| split | step | accuracy | macro-F1 | examples |",
    "|---|---|---|---|---|",
  ]
  for r in evals[-1:]:
    for split, m in r["eval"].items():
      lines.append(
        f"| {split} (last in-training evaluation) | {r['step']} | "
        f"{m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['num_examples']} |"
      )
  for report in sorted(workdir.glob("*_*/report.json")):
    m = json.loads(report.read_text(encoding="utf-8"))
    lines.append(
      f"| {report.parent.name} (`--mode=eval`, best checkpoint) | "
      f"{m.get('step', 'best')} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
      f"{m.get('num_examples', sum(c['support'] for c in m['per_class'].values()))} |"
    )
  per_domain = None
  for report in sorted(workdir.glob("*_test/report.json")):
    per_domain = json.loads(report.read_text(encoding="utf-8")).get("per_domain")
  if per_domain:
    lines += [
      "",
      "Per domain (test split): "
      + "; ".join(
        f"{d} accuracy {v['accuracy']:.3f}, macro-F1 {v['macro_f1']:.3f} (n={v['support']})"
        for d, v in per_domain.items()
      ),
    ]
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
  )
  parser.add_argument("--workdir", required=True)
  parser.add_argument(
    "--commit", default="", help="the commit the run was made at (default: this checkout's HEAD)"
  )
  parser.add_argument("--machine", default=f"{platform.machine()} CPU, {platform.node()}")
  parser.add_argument("--out", default=str(ROOT / "results" / "default_run.md"))
  args = parser.parse_args(argv)
  text = summarise(pathlib.Path(args.workdir), args.machine, args.commit)
  out = pathlib.Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(text, encoding="utf-8")
  print(text)
  print(f"wrote {out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
