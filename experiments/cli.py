"""The one command every study shares: `python -m experiments.<study> --preset=P --out=DIR`.

A study module provides STUDY, CONFIG_FILE, PRESETS, variants(preset), eval_specs(preset),
optionally extra(config, workdir) -> dict (more numbers per run), and
write_report(results, meta, out_dir) -> Markdown text; summary_line(results, meta) -> str.
The sweep runs (skipping finished runs), then the report is written to OUT/report.md with
its PNG plots beside it. --report_only rebuilds the report from the runs already on disk.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
import time
from types import ModuleType

from experiments import sweep, tables


def default_out(study: str) -> str:
  return f"experiments/results/{study}"


def write_report(module: ModuleType, out_dir: pathlib.Path) -> str:
  """OUT/report.md and OUT/summary.md from every finished run under OUT/runs."""
  meta_path = out_dir / "meta.json"
  if not meta_path.exists():
    raise FileNotFoundError(f"{meta_path} is missing: run the sweep first")
  meta = json.loads(meta_path.read_text())
  if meta.get("preset") in module.PRESETS:  # the planned seeds (a sweep may run seed by seed)
    meta["seeds"] = list(module.PRESETS[meta["preset"]].seeds)
  results = sweep.load_results(out_dir)
  if not results:
    raise FileNotFoundError(f"no finished runs under {out_dir / 'runs'}")
  body = module.write_report(results, meta, out_dir)
  text = tables.stamp(meta, len(results)) + "\n" + completeness(module, meta, results) + "\n" + body
  (out_dir / "report.md").write_text(text, encoding="utf-8")
  published = getattr(module, "PUBLISHED", {}).get(meta.get("preset"))
  if published:  # a copy where the README's readers look for it
    (sweep.ROOT / published).write_text(text, encoding="utf-8")
  summary = module.summary_line(results, meta)
  (out_dir / "summary.md").write_text(summary.rstrip("\n") + "\n", encoding="utf-8")
  return text


def completeness(module: ModuleType, meta: dict, results: list[dict]) -> str:
  """Which planned (variant, seed) runs finished, and the total time they took."""
  preset = module.PRESETS.get(meta.get("preset"))
  names = [v.name for v in module.variants(preset)] if preset else []
  if getattr(module, "followup_variants", None) is not None:
    names.append("best_combination")
  seeds = list(meta.get("seeds", []))
  done = {(r["study_variant"], r["seed"]) for r in results}
  missing = [f"{n} seed {s}" for s in seeds for n in names if (n, s) not in done]
  minutes = sum(r["wall_s"] for r in results) / 60
  text = (
    f"Finished runs: {len(done)} of {len(names) * len(seeds)} planned "
    f"({len(names)} variants x {len(seeds)} seeds), {minutes:.0f} minutes of run time "
    "in total (training, compiles, evaluation)."
  )
  if missing:
    text += (
      f" **Not run** (the sweep was stopped at the time limit; rerunning the command "
      f"resumes): {', '.join(missing[:12])}{', ...' if len(missing) > 12 else ''}."
    )
  return text + "\n"


def main(module: ModuleType, argv=None) -> int:
  parser = argparse.ArgumentParser(
    prog=f"python -m experiments.{module.STUDY}", description=(module.__doc__ or "").split("\n")[0]
  )
  parser.add_argument("--preset", default="quick", choices=sorted(module.PRESETS))
  parser.add_argument("--out", default=None, help=f"default {default_out(module.STUDY)}")
  parser.add_argument(
    "--report_only",
    action="store_true",
    help="only rebuild report.md and the plots from finished runs",
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
  command = f"python -m experiments.{module.STUDY} --preset={preset.name} --out={out_dir}"
  if not args.report_only:
    start = time.time()
    specs = [_aliased(s, preset) for s in module.eval_specs(preset)]
    extra = getattr(module, "extra", None)
    followup = getattr(module, "followup_variants", None)
    if followup is None:
      sweep.run_sweep(
        module.STUDY,
        module.CONFIG_FILE,
        preset,
        module.variants(preset),
        out_dir,
        specs,
        extra=extra,
        command=command,
      )
    else:  # variants chosen from the first seed's results (e.g. a best combination)
      for seed in preset.seeds:
        one = dataclasses.replace(preset, seeds=(seed,))
        results = sweep.run_sweep(
          module.STUDY,
          module.CONFIG_FILE,
          one,
          module.variants(one),
          out_dir,
          specs,
          extra=extra,
          command=command,
        )
        sweep.run_sweep(
          module.STUDY,
          module.CONFIG_FILE,
          one,
          followup(one, results, out_dir),
          out_dir,
          specs,
          extra=extra,
          command=command,
        )
    print(f"{module.STUDY}: sweep took {tables.hours_minutes(time.time() - start)}", flush=True)
  write_report(module, out_dir)
  print(f"Wrote {out_dir / 'report.md'}", flush=True)
  return 0


def _restricted(module: ModuleType, names: list[str]) -> ModuleType:
  """A view of `module` whose variants() returns only `names` (report: every finished run)."""
  restricted = ModuleType(module.__name__)
  restricted.__dict__.update(module.__dict__)

  def variants(preset):
    known = {v.name: v for v in module.variants(preset)}
    unknown = [n for n in names if n not in known]
    if unknown:
      raise SystemExit(f"--variants: unknown {unknown}; known: {sorted(known)}")
    return [known[n] for n in names]

  restricted.variants = variants
  restricted.followup_variants = (
    None if "followup_variants" not in module.__dict__ else module.followup_variants
  )
  return restricted


def _aliased(spec: sweep.EvalSpec, preset: sweep.Preset) -> sweep.EvalSpec:
  """Tiny presets run on the synthetic set, which has only train/validation splits."""
  alias = getattr(preset, "split_alias", {}) or {}
  splits = tuple(dict.fromkeys(alias.get(s, s) for s in spec.splits))  # ordered, no repeats
  return sweep.EvalSpec(spec.name, splits, spec.domains)


if __name__ == "__main__":
  sys.exit(
    "run a study: python -m experiments.<depth|architectures|regularisation|imbalance|domains>"
  )
