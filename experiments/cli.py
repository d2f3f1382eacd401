"""The one command every study shares: `python -m experiments.<study> --preset=P --out=DIR`.

A study module provides STUDY, TITLE, CONFIG_FILE, PRESETS (smoke / cpu / gpu), CRITERION
(experiments.convergence), variants(preset), eval_specs(preset), report(runs, meta, out_dir)
-> Markdown body, findings(runs, out_dir) -> [Finding] and key_figure(runs, out_dir) -> str
(the digest line), both given the converged runs only. Optional: plan(preset)
-> [(Variant, seed)] (run order and per-variant seeds), extra(config, workdir) -> dict (more
numbers per run), followup_variants(preset, results, out_dir), measure(preset, out_dir) (work
before the sweep), headline(run) -> eval spec name of the run's summary figures (default
'test'), bar(runs) -> (met or None, text) (a study-level condition for its findings),
PUBLISHED = {preset: path} (a copy of that preset's report.md at the path).
The sweep runs (skipping finished runs), then OUT/report.md, OUT/summary.md (the digest line)
and OUT/summary.json are written from every finished run's result.json; --report_only
rebuilds them without training.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import signal
import sys
import time
from collections.abc import Callable
from types import ModuleType

from experiments import chance, sweep, tables
from experiments import findings as findings_lib

HEADLINE_SPLIT = "test"


def default_out(study: str) -> str:
  return f"experiments/results/{study}"


def run_plan(module: ModuleType, preset: sweep.Preset) -> list[tuple[sweep.Variant, int]]:
  if hasattr(module, "plan"):
    return module.plan(preset)
  return sweep.plan(preset, module.variants(preset))


def chance_levels(module: ModuleType, preset: sweep.Preset) -> dict:
  """{eval spec name: chance.levels} from the split labels (no image decoded)."""
  from experiments import train_filter  # pylint: disable=g-import-not-at-top

  config = sweep.build_config(module.CONFIG_FILE, preset, sweep.Variant("chance", {}), 0)
  alias = dict(preset.split_alias)
  train_labels = train_filter.split_metadata(config.data, "train")[0]
  out = {}
  for spec in module.eval_specs(preset):
    labels = []
    for split in dict.fromkeys(alias.get(s, s) for s in spec.splits):
      lab, dom, _ = train_filter.split_metadata(config.data, split)
      if spec.domains:
        lab = lab[[d in train_filter.domain_indices(spec.domains) for d in dom]]
      labels.append(lab)
    out[spec.name] = chance.levels(_concat(labels), train_labels)
  return out


def _concat(parts):
  import numpy as np  # pylint: disable=g-import-not-at-top

  return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def with_convergence(module: ModuleType, results: list[dict]) -> list[dict]:
  """Each result with 'converged', 'convergence' (the reason) and 'final_train_error'."""
  out = []
  for r in results:
    verdict = module.CRITERION.check(r)
    out.append(
      dict(
        r,
        converged=verdict.converged,
        convergence=verdict.reason,
        final_train_error=verdict.final_train_error,
      )
    )
  return out


def _headline(module: ModuleType, run: dict) -> str:
  return module.headline(run) if hasattr(module, "headline") else HEADLINE_SPLIT


def study_findings(module: ModuleType, runs: list[dict], out_dir) -> tuple[list, tuple]:
  """(findings from the converged runs, (bar met, bar text)); unmet bar -> all unchecked."""
  converged = [r for r in runs if r["converged"]]
  bar = module.bar(converged) if hasattr(module, "bar") else (None, "")
  found = module.findings(converged, out_dir)
  if bar[0] is False:
    found = [findings_lib.unchecked(f, f"the study's bar is not met ({bar[1]})") for f in found]
  return found, bar


def write_report(module: ModuleType, out_dir: pathlib.Path) -> str:
  """OUT/report.md, OUT/summary.md and OUT/summary.json from every finished run."""
  meta_path = out_dir / "meta.json"
  if not meta_path.exists():
    raise FileNotFoundError(f"{meta_path} is missing: run the sweep first")
  meta = json.loads(meta_path.read_text())
  preset = module.PRESETS.get(meta.get("preset"))
  if preset is not None:  # the planned seeds (a sweep may run seed by seed)
    meta["seeds"] = list(preset.seeds)
  if "chance" not in meta:
    meta["chance"] = chance_levels(module, preset)
    meta_path.write_text(json.dumps(meta, indent=1))
  runs = with_convergence(module, sweep.load_results(out_dir))
  found, bar = study_findings(module, runs, out_dir)
  run_commits = tables.run_commits(runs)
  text = tables.stamp(meta, len(runs), run_commits) + "\n" + completeness(module, meta, runs) + "\n"
  text += chance_table(meta["chance"]) + "\n"
  text += convergence_section(module, runs, bar) + "\n"
  text += module.report(runs, meta, out_dir) if runs else "_No finished run yet._\n"
  text += "\n**Findings** (converged runs only; each names the claim it checks):\n\n"
  text += "".join(f.markdown() + "\n" for f in found) if found else "- none checked yet.\n"
  (out_dir / "report.md").write_text(text, encoding="utf-8")
  published = getattr(module, "PUBLISHED", {}).get(meta.get("preset"))
  if published:  # a copy where the README's readers look for it
    (sweep.ROOT / published).write_text(text, encoding="utf-8")
  summary = summary_line(module, meta, runs, out_dir)
  (out_dir / "summary.md").write_text(summary + "\n", encoding="utf-8")
  summary = summary_record(module, meta, runs, found, bar)
  (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
  return text


def chance_table(levels: dict) -> str:
  rows = [
    [
      name,
      lv["n"],
      f"{100 * lv['majority']['accuracy']:.1f}",
      f"{100 * lv['majority']['macro_f1']:.1f}",
      f"{100 * lv['uniform']['accuracy']:.1f}",
      f"{100 * lv['uniform']['macro_f1']:.1f}",
    ]
    for name, lv in levels.items()
  ]
  return (
    "**Chance levels** (a guess that ignores the image: always the training split's most "
    "frequent class, or a uniform random class, expected value):\n\n"
    + tables.markdown_table(
      [
        "evaluated on",
        "images",
        "majority accuracy %",
        "majority macro-F1 %",
        "uniform accuracy %",
        "uniform macro-F1 %",
      ],
      rows,
    )
  )


def convergence_section(module: ModuleType, runs: list[dict], bar: tuple) -> str:
  text = f"**Convergence.** A run counts when it {module.CRITERION.describe()}."
  if bar[1]:
    verdict = {True: "met", False: "NOT met", None: "not checked yet"}[bar[0]]
    text += f" Study bar: {bar[1]} — **{verdict}**."
  text += "\n\n"
  rows = [
    [
      r["study_variant"],
      r["seed"],
      "yes" if r["converged"] else "**no**",
      tables.fmt([r["final_train_error"]]).replace(" (n=1)", ""),
      r["convergence"],
    ]
    for r in sorted(runs, key=lambda r: (r["study_variant"], r["seed"]))
  ]
  return text + tables.markdown_table(
    ["variant", "seed", "converged", "final training error %", "criterion"], rows
  )


def completeness(module: ModuleType, meta: dict, results: list[dict]) -> str:
  """Which planned (variant, seed) runs finished, and the total time they took."""
  preset = module.PRESETS.get(meta.get("preset"))
  planned = [(v.name, s) for v, s in run_plan(module, preset)] if preset else []
  if getattr(module, "followup_variants", None) is not None and preset is not None:
    planned += [("best_combination", s) for s in preset.seeds]
  done = {(r["study_variant"], r["seed"]) for r in results}
  missing = [f"{n} seed {s}" for n, s in planned if (n, s) not in done]
  minutes = sum(r["wall_s"] for r in results) / 60
  text = (
    f"Finished runs: {len(done)} of {len(planned)} planned, {minutes:.0f} minutes of run time "
    "in total (training, compiles, evaluation)."
  )
  if missing:
    text += (
      f" **Not run yet** (rerunning the command resumes): "
      f"{', '.join(missing[:12])}{', ...' if len(missing) > 12 else ''}."
    )
  return text + "\n"


def summary_line(module: ModuleType, meta: dict, runs: list[dict], out_dir) -> str:
  """The digest line: the study's key figure beside the chance level of its headline split."""
  converged = [r for r in runs if r["converged"]]
  figure = (
    module.key_figure(converged, out_dir) if converged else "no run has met its criterion yet."
  )
  lv = meta["chance"].get(HEADLINE_SPLIT) or next(iter(meta["chance"].values()))
  commits = tables.run_commits(runs)
  return (
    f"**{module.TITLE}** (preset `{meta['preset']}`, "
    f"commit {', '.join(commits) or tables.short_commit(meta)}, "
    f"{sum(r['converged'] for r in runs)}/{len(runs)} runs converged): {figure} "
    f"Chance: macro-F1 {100 * lv['best']['macro_f1']:.1f}%, accuracy "
    f"{100 * lv['best']['accuracy']:.1f}%."
  )


def summary_record(module: ModuleType, meta: dict, runs, found, bar) -> dict:
  """summary.json: the machine-readable study summary."""
  lv = meta["chance"].get(HEADLINE_SPLIT) or next(iter(meta["chance"].values()))

  def headline(r, key):
    return r["evals"].get(_headline(module, r), {}).get(key)

  return dict(
    study=module.STUDY,
    preset=meta.get("preset"),
    commit=meta.get("commit"),
    machine=meta.get("machine"),
    command=meta.get("command"),
    chance=dict(lv["best"]),
    chance_by_split=meta["chance"],
    criterion=module.CRITERION.describe(),
    bar={"text": bar[1], "met": bar[0]} if bar[1] else None,
    runs=[
      dict(
        variant=r["study_variant"],
        seed=r["seed"],
        converged=r["converged"],
        convergence=r["convergence"],
        diverged=bool(r.get("diverged")),
        final_train_error=_finite_or_none(r["final_train_error"]),
        test_split=_headline(module, r),
        test_accuracy=headline(r, "accuracy"),
        test_macro_f1=headline(r, "macro_f1"),
      )
      for r in runs
    ],
    findings=[f.as_dict() for f in found],
  )


def _finite_or_none(x):
  return None if x is None or x != x else float(x)


def run_study(
  module: ModuleType,
  preset: sweep.Preset,
  out_dir: pathlib.Path,
  after_run: Callable[[dict], None] | None = None,
  log=print,
) -> None:
  """Runs the sweep, then the study's measurements if it has any (the training runs first:
  they are the shorter part, so a stopped study keeps them), and writes the reports."""
  command = f"python -m experiments.{module.STUDY} --preset={preset.name} --out={out_dir}"
  start = time.time()
  specs = [_aliased(s, preset) for s in module.eval_specs(preset)]
  common = dict(extra=getattr(module, "extra", None), command=command, log=log)

  def refresh(result):
    write_report(module, out_dir)
    if after_run is not None:
      after_run(result)

  followup = getattr(module, "followup_variants", None)
  runs = run_plan(module, preset)
  if followup is None:
    sweep.run_sweep(
      module.STUDY, module.CONFIG_FILE, preset, runs, out_dir, specs, after_run=refresh, **common
    )
  else:  # variants chosen from the first seed's results (e.g. a best combination)
    for seed in preset.seeds:
      one = dataclasses.replace(preset, seeds=(seed,))
      first = [(v, s) for v, s in runs if s == seed]
      results = sweep.run_sweep(
        module.STUDY, module.CONFIG_FILE, one, first, out_dir, specs, after_run=refresh, **common
      )
      more = [(v, seed) for v in followup(one, results, out_dir)]
      sweep.run_sweep(
        module.STUDY, module.CONFIG_FILE, one, more, out_dir, specs, after_run=refresh, **common
      )
  if hasattr(module, "measure"):
    module.measure(preset, out_dir, log=log)
  log(f"{module.STUDY}: sweep took {tables.hours_minutes(time.time() - start)}")
  write_report(module, out_dir)


STOPPED_EXIT_CODE = 128 + signal.SIGTERM  # the shell's status for a process ended by SIGTERM


def main(module: ModuleType, argv=None) -> int:
  parser = argparse.ArgumentParser(
    prog=f"python -m experiments.{module.STUDY}", description=(module.__doc__ or "").split("\n")[0]
  )
  parser.add_argument("--preset", default="cpu", choices=sorted(module.PRESETS))
  parser.add_argument("--out", default=None, help=f"default {default_out(module.STUDY)}")
  parser.add_argument(
    "--report_only",
    action="store_true",
    help="only rebuild report.md, summary.md, summary.json and the plots from finished runs",
  )
  parser.add_argument(
    "--variants",
    default="",
    help="comma-separated variant names to run (default all); lets two "
    "processes share a sweep without running the same workdir",
  )
  args = parser.parse_args(argv)
  preset = module.PRESETS[args.preset]
  if args.variants:
    module = _restricted(module, args.variants.split(","))
  out_dir = pathlib.Path(args.out or default_out(module.STUDY))
  if args.report_only:
    write_report(module, out_dir)
  else:
    try:
      run_study(module, preset, out_dir, log=lambda m: print(m, flush=True))
    except sweep.Stopped as stopped:
      write_report(module, out_dir)  # the finished runs; the stopped one has no result yet
      print(f"{stopped}; re-run the same command to resume it.", flush=True)
      return STOPPED_EXIT_CODE
  print(f"Wrote {out_dir / 'report.md'}", flush=True)
  return 0


def _restricted(module: ModuleType, names: list[str]) -> ModuleType:
  """A view of `module` whose plan runs only `names` (the report covers every finished run)."""
  restricted = ModuleType(module.__name__)
  restricted.__dict__.update(module.__dict__)

  def plan(preset):
    everything = run_plan(module, preset)
    known = {v.name for v, _ in everything}
    unknown = [n for n in names if n not in known]
    if unknown:
      raise SystemExit(f"--variants: unknown {unknown}; known: {sorted(known)}")
    return [(v, s) for v, s in everything if v.name in names]

  restricted.plan = plan
  restricted.followup_variants = None
  return restricted


def _aliased(spec: sweep.EvalSpec, preset: sweep.Preset) -> sweep.EvalSpec:
  """Smoke presets run on the synthetic set, which has only train/validation splits."""
  alias = getattr(preset, "split_alias", {}) or {}
  splits = tuple(dict.fromkeys(alias.get(s, s) for s in spec.splits))  # ordered, no repeats
  return sweep.EvalSpec(spec.name, splits, spec.domains)


if __name__ == "__main__":
  sys.exit(
    "run a study: python -m experiments.<gradients_at_init|depth|architectures|"
    "regularisation|imbalance|domains> --preset=cpu"
  )
