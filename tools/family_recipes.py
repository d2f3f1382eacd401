"""Runs each family recipe as a new user would, and writes the tables the README shows.

  python -m tools.family_recipes --configs=resnet,lenet --seeds=0,1   # run (skips finished)
  python -m tools.family_recipes --report                             # tables only

A run is `python -m abstract_cls.main --config=configs/<name>.py` in a fresh process with an
empty compilation cache and an empty TFDS data folder (so the data set is prepared and
decoded as on a fresh clone), timed from command to exit. Each run leaves
results/recipes/<name>_seed<s>.json (committed); its workdir (checkpoints) stays under
runs/recipes/. --report writes results/default_run.md (configs/resnet.py, every seed),
results/recipes_readme.md (the README's family table) and the family section of
results/recipes.md (with experiments.recipes' lever table).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "recipes"
FAMILIES = ("lenet", "alexnet", "vgg", "plain", "resnet", "best")
SPLITS = ("test", "test_unseen_style")
PLATEAU_POINTS = 2.0  # converged: the last tenth of training gains < 2 accuracy points


def cpu_model() -> str:
  for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
    if line.startswith("model name"):
      return line.split(":", 1)[1].strip()
  return "unknown CPU"


def git_commit() -> str:
  out = subprocess.run(
    ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
  )
  return out.stdout.strip() or "unknown"


def _read_jsonl(path: pathlib.Path) -> list[dict]:
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def training_curve(workdir: pathlib.Path) -> dict:
  """Training accuracy (augmented batches) by tenth of the run, and the plateau test."""
  rows = [r for r in _read_jsonl(workdir / "metrics.jsonl") if "loss" in r]
  steps = np.array([r["step"] for r in rows], np.float64)
  acc = np.array([r["accuracy"] for r in rows], np.float64)
  last = steps[-1]
  tail = acc[steps > 0.9 * last].mean()
  before = acc[(steps > 0.8 * last) & (steps <= 0.9 * last)].mean()
  gain = float(tail - before) * 100
  return dict(
    final_train_accuracy=float(tail),
    last_tenth_gain_points=gain,
    converged=bool(gain < PLATEAU_POINTS),
    steps=int(last),
    epochs=float(rows[-1]["epoch"]),
  )


def _run(cmd: list[str], log: pathlib.Path) -> float:
  """Runs cmd from the repository root, appending its output to log; -> seconds."""
  start = time.time()
  with open(log, "a", encoding="utf-8") as f:
    f.write(f"$ {' '.join(cmd)}\n")
    f.flush()
    done = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
  if done.returncode:
    raise SystemExit(f"{' '.join(cmd[2:4])} failed (exit {done.returncode}); see {log}")
  return time.time() - start


def run_one(name: str, seed: int, python: str) -> dict:
  out_path = RESULTS / f"{name}_seed{seed}.json"
  if out_path.exists():
    print(f"[skip] {name} seed {seed}: {out_path.relative_to(ROOT)}", flush=True)
    return json.loads(out_path.read_text())
  workdir = ROOT / "runs" / "recipes" / f"{name}_seed{seed}"
  if workdir.exists():  # an interrupted run is redone whole: its time would be wrong otherwise
    shutil.rmtree(workdir)
  workdir.mkdir(parents=True)
  scratch = pathlib.Path(tempfile.mkdtemp(prefix="family_recipe_"))
  common = [
    f"--config=configs/{name}.py",
    f"--workdir={workdir}",
    f"--config.seed={seed}",
    f"--config.data.data_dir={scratch / 'tfds'}",
    f"--config.train.compilation_cache_dir={scratch / 'jax_cache'}",
  ]
  train_cmd = [python, "-m", "abstract_cls.main", *common, "--config.train.progress_bar=False"]
  print(f"[run] {name} seed {seed} -> {workdir}", flush=True)
  log = workdir / "command.log"
  command_s = _run(train_cmd, log)
  eval_s = 0.0
  for split in SPLITS:  # the trainer reports them itself when it evaluates final splits
    if not (workdir / f"abstract_icons_{split}" / "report.json").exists():
      eval_cmd = [python, "-m", "abstract_cls.main", *common, "--mode=eval"]
      eval_s += _run([*eval_cmd, f"--config.eval.split={split}"], log)
  shutil.rmtree(scratch, ignore_errors=True)
  result = dict(
    config=name,
    seed=seed,
    command="python -m abstract_cls.main --config=configs/" + f"{name}.py --config.seed={seed}",
    command_to_exit_s=round(command_s, 1),
    separate_eval_s=round(eval_s, 1),
    model=json.loads((workdir / "config.json").read_text())["model"],
    image_size=json.loads((workdir / "config.json").read_text())["data"]["image_size"],
    machine=f"{cpu_model()} ({os.cpu_count()} cores)",
    commit=git_commit(),
    date=datetime.date.today().isoformat(),
    **training_curve(workdir),
  )
  for split in SPLITS:
    report = json.loads((workdir / f"abstract_icons_{split}" / "report.json").read_text())
    result[split] = {
      k: report[k] for k in ("accuracy", "macro_f1", "checkpoint_step") if k in report
    }
    if split == "test":
      result["test_per_domain"] = report.get("per_domain", {})
  RESULTS.mkdir(parents=True, exist_ok=True)
  out_path.write_text(json.dumps(result, indent=1) + "\n")
  print(
    f"[done] {name} seed {seed}: {command_s / 60:.1f} min, test macro-F1 "
    f"{result['test']['macro_f1']:.3f}",
    flush=True,
  )
  return result


def load_all() -> dict[str, list[dict]]:
  out: dict[str, list[dict]] = {}
  for path in sorted(RESULTS.glob("*_seed*.json")):
    r = json.loads(path.read_text())
    out.setdefault(r["config"], []).append(r)
  return out


def _mean(runs, get, digits: int = 3) -> str:
  """Mean ± sample std over the runs (just the value for one run)."""
  values = [get(r) for r in runs]
  m = float(np.mean(values))
  if len(values) == 1:
    return f"{m:.{digits}f}"
  return f"{m:.{digits}f} ± {float(np.std(values, ddof=1)):.{digits}f}"


def _minutes(r) -> float:
  return (r["command_to_exit_s"] + r["separate_eval_s"]) / 60


def family_table(runs: dict[str, list[dict]]) -> str:
  head = (
    "| config | model | px | epochs | command to exit (min) | train acc (last tenth) | "
    "converged | test accuracy | test macro-F1 | unseen-style macro-F1 | seeds |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|\n"
  )
  lines = []
  for name in FAMILIES:
    rs = runs.get(name)
    if not rs:
      continue
    model = rs[0]["model"]
    opts = model.get("options", {})
    desc = model["name"] + (f" width {opts['width']}" if opts.get("width", 1.0) != 1.0 else "")
    minutes = _mean(rs, _minutes, digits=1)
    lines.append(
      f"| `configs/{name}.py` | {desc} | {rs[0]['image_size']} | {rs[0]['epochs']:.0f} | "
      f"{minutes} | {_mean(rs, lambda r: r['final_train_accuracy'])} | "
      f"{'yes' if all(r['converged'] for r in rs) else 'no'} | "
      f"{_mean(rs, lambda r: r['test']['accuracy'])} | "
      f"**{_mean(rs, lambda r: r['test']['macro_f1'])}** | "
      f"{_mean(rs, lambda r: r['test_unseen_style']['macro_f1'])} | {len(rs)} |"
    )
  return head + "\n".join(lines) + "\n"


def provenance(runs: dict[str, list[dict]]) -> str:
  flat = [r for rs in runs.values() for r in rs]
  machines = sorted({r["machine"] for r in flat})
  commits = sorted({r["commit"] for r in flat})
  return (
    f"Machine: {'; '.join(machines)}. Commits: {', '.join(commits)}. Command: "
    "`python -m tools.family_recipes --configs=NAME --seeds=0,1` (each run a fresh process, "
    "empty compilation cache, data set prepared from the embedded archive). Converged: the "
    f"last tenth of training gained < {PLATEAU_POINTS:.0f} points of training accuracy. "
    "Test and unseen-style: the checkpoint with the best validation macro-F1.\n"
  )


def default_run_text(runs: list[dict]) -> str:
  lines = [
    "Default run: `python -m abstract_cls.main --config=configs/resnet.py` "
    f"({runs[0]['model']['name']}, width {runs[0]['model']['options'].get('width', 1.0)}, "
    f"{runs[0]['image_size']} px, {runs[0]['epochs']:.0f} epochs) on `abstract_icons`; "
    f"{runs[0]['machine']}; commit {', '.join(sorted({r['commit'] for r in runs}))}.",
    "",
    "| seed | command to exit (min) | test accuracy | test macro-F1 | unseen-style accuracy | "
    "unseen-style macro-F1 |",
    "|---|---|---|---|---|---|",
  ]
  for r in sorted(runs, key=lambda r: r["seed"]):
    lines.append(
      f"| {r['seed']} | {_minutes(r):.1f} | {r['test']['accuracy']:.3f} | {r['test']['macro_f1']:.3f} "
      f"| {r['test_unseen_style']['accuracy']:.3f} | {r['test_unseen_style']['macro_f1']:.3f} |"
    )
  if len(runs) > 1:
    lines.append(
      f"| mean | {_mean(runs, _minutes, digits=1)} "
      f"| {_mean(runs, lambda r: r['test']['accuracy'])} "
      f"| **{_mean(runs, lambda r: r['test']['macro_f1'])}** "
      f"| {_mean(runs, lambda r: r['test_unseen_style']['accuracy'])} "
      f"| {_mean(runs, lambda r: r['test_unseen_style']['macro_f1'])} |"
    )
  domains = runs[0].get("test_per_domain", {})
  if domains:
    lines += [
      "",
      "Test macro-F1 per domain (mean over seeds): "
      + "; ".join(
        f"{d} {_mean(runs, lambda r, d=d: r['test_per_domain'][d]['macro_f1'])}" for d in domains
      )
      + ".",
    ]
  return "\n".join(lines) + "\n"


def write_reports() -> None:
  runs = load_all()
  if not runs:
    raise SystemExit(f"no results under {RESULTS}: run some configs first")
  text = family_table(runs) + "\n" + provenance(runs)
  (ROOT / "results" / "recipes_readme.md").write_text(text)
  if "resnet" in runs:
    (ROOT / "results" / "default_run.md").write_text(default_run_text(runs["resnet"]))
  print(text)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
  )
  parser.add_argument("--configs", default=",".join(FAMILIES))
  parser.add_argument("--seeds", default="0,1")
  parser.add_argument("--report", action="store_true", help="only write the tables")
  parser.add_argument("--python", default=sys.executable)
  args = parser.parse_args(argv)
  if not args.report:
    for seed in (int(s) for s in args.seeds.split(",")):
      for name in args.configs.split(","):
        if not (ROOT / "configs" / f"{name}.py").exists():
          raise SystemExit(f"configs/{name}.py does not exist; known: {', '.join(FAMILIES)}")
        run_one(name, seed, args.python)
  write_reports()
  return 0


if __name__ == "__main__":
  sys.exit(main())
