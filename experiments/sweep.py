"""Shared sweep machinery: configs from a base config + overrides, run or skip, evaluate, record.

A study is a list of `Variant`s (a name, labels for the tables, config overrides, optionally
an initialisation scheme and its own seeds) run through abstract_cls.train.loop.
train_and_evaluate. Each (variant, seed) has its own workdir OUT/runs/<variant>/seed_<s>/; a
finished run leaves result.json there and is skipped on the next call (an unfinished one
resumes from its checkpoint, as the trainer does). After training, the best checkpoint by
validation macro-F1 (model selection on the training data's validation split) is evaluated
on the study's `EvalSpec`s, which may restrict a union of splits to some domains.

result.json is the run's whole record for the reports: the evaluations, and the training and
validation curves copied from metrics.jsonl (experiments.run_record), so the other files of a
workdir (checkpoints, logs) stay out of the repository.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib
import json
import os
import pathlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ml_collections

from experiments import (
  checkpoint_eval,
  initialisation,
  provenance,
  run_identity,
  run_record,
  train_filter,
)

ROOT = provenance.ROOT
RESULT_FILE = "result.json"


@dataclasses.dataclass(frozen=True)
class Variant:
  """One configuration of a study: `overrides` maps dotted config keys to values."""

  name: str
  overrides: Mapping[str, Any]
  labels: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  train_domains: tuple[str, ...] = ()  # () = every domain
  init: str = "default"  # an experiments.initialisation scheme applied after construction
  seeds: tuple[int, ...] | None = None  # None = the preset's seeds


@dataclasses.dataclass(frozen=True)
class EvalSpec:
  """Evaluate the selected checkpoint on the union of `splits`, keeping only `domains`."""

  name: str
  splits: tuple[str, ...]
  domains: tuple[str, ...] = ()  # () = every domain


@dataclasses.dataclass(frozen=True)
class Preset:
  name: str
  description: str  # what it runs, in words, for the reports' stamp
  seeds: tuple[int, ...]
  overrides: Mapping[str, Any]  # applied to every run before the variant's overrides
  train_fraction: float = 1.0  # stratified subset of the training split (per class, >= 1)
  # Split renames for data sets without them (the synthetic set has train/validation only).
  split_alias: Mapping[str, str] = dataclasses.field(default_factory=dict)


def load_config(config_file: str) -> ml_collections.ConfigDict:
  """get_config() of configs/<name>.py, imported as the module configs.<name>."""
  path = pathlib.Path(config_file)
  path = path if path.is_absolute() else ROOT / path
  if not path.is_file():
    raise FileNotFoundError(f"config file {path} does not exist")
  if path.parent != ROOT / "configs":
    raise ValueError(f"config file {path}: the studies use the files in {ROOT / 'configs'}")
  return importlib.import_module(f"configs.{path.stem}").get_config()


def apply_overrides(config: ml_collections.ConfigDict, overrides: Mapping[str, Any]) -> None:
  """Sets config[a][b][c] = value for each 'a.b.c'; unknown top sections are an error."""
  for dotted, value in overrides.items():
    *parents, leaf = dotted.split(".")
    node = config
    for i, part in enumerate(parents):
      if part not in node:
        if i == 0:
          raise KeyError(f"override {dotted!r}: config has no section {part!r}")
        node[part] = ml_collections.ConfigDict()
      node = node[part]
    if leaf not in node and not (parents and parents[-1] == "options"):
      raise KeyError(f"override {dotted!r}: config has no field {leaf!r} (typo?)")
    node[leaf] = value


def build_config(config_file: str, preset: Preset, variant: Variant, seed: int):
  config = load_config(config_file)
  apply_overrides(config, preset.overrides)
  apply_overrides(config, variant.overrides)
  config.seed = seed
  return config


def plan(preset: Preset, variants: Sequence[Variant]) -> list[tuple[Variant, int]]:
  """Seed-major order: every variant's first seed before any second seed, so a sweep cut
  short still compares all variants (with fewer seeds; the tables give n per cell)."""
  seeds = sorted({s for v in variants for s in (v.seeds or preset.seeds)})
  return [(v, s) for s in seeds for v in variants if s in (v.seeds or preset.seeds)]


# ---------------------------------------------------------------------------------------------
# Running a sweep.


def run_dir(out_dir: str | os.PathLike, variant_name: str, seed: int) -> pathlib.Path:
  return pathlib.Path(out_dir) / "runs" / variant_name / f"seed_{seed}"


def _config_hash(config, preset: Preset, variant: Variant) -> str:
  text = config.to_json_best_effort(sort_keys=True)
  text += f"|fraction={preset.train_fraction}|init={variant.init}"
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def _differing(
  done: dict, workdir, settings: dict, preset: Preset, variant: Variant, digest
) -> list:
  """[] when the finished run `done` is this run; else what differs."""
  if done.get("config_hash") == digest:
    return []
  recorded = run_identity.recorded_settings(done, workdir)
  if recorded is None:
    return ["config (no record of the run's settings)"]
  out = run_identity.differing_settings(recorded, settings, _default_settings())
  if done.get("init", "default") != variant.init:
    out.append("init")
  if done.get("train_fraction", 1.0) != preset.train_fraction:
    out.append("train_fraction")
  return out


def _default_settings() -> dict:
  return run_identity.flat_settings(load_config("configs/default.py"))


class Stopped(Exception):
  """The trainer saved and returned on SIGTERM before its last step: the run is not finished,
  so no result is written; the same command resumes it from that checkpoint."""


def _train(config, workdir: pathlib.Path, variant: Variant, log) -> tuple[dict, str]:
  """-> (the trainer's final dict, '' or the divergence message)."""
  from abstract_cls.train import loop  # pylint: disable=g-import-not-at-top

  config = config.copy_and_resolve_references()
  config.eval.final_splits = ()  # the sweep evaluates the selected checkpoint itself
  try:
    with initialisation.with_scheme(variant.init):
      return loop.train_and_evaluate(config, str(workdir)), ""
  except FloatingPointError as e:  # a result too (deep nets without normalisation)
    log(f"[diverged] {variant.name} seed {config.seed}: {e}")
    rows = run_record.train_rows(workdir)
    return dict(step=rows[-1]["step"] if rows else 0, train=rows[-1] if rows else {}), str(e)


def _finished_run(
  workdir: pathlib.Path,
  seed: int,
  settings: dict,
  preset: Preset,
  variant: Variant,
  digest,
  out_dir,
  log,
) -> dict | None:
  """The result.json in workdir when that finished run is this run; else None (no finished
  run, or one of other settings, which is then set aside)."""
  result_path = workdir / RESULT_FILE
  if not result_path.exists():
    return None
  done = json.loads(result_path.read_text())
  differing = _differing(done, workdir, settings, preset, variant, digest)
  if not differing:
    log(f"[skip] {variant.name} seed {seed}: done ({result_path})")
    return done
  # A finished run of other settings: its checkpoints must not be resumed, nor lost.
  aside = run_identity.set_aside(out_dir, workdir)
  log(
    f"[rerun] {variant.name} seed {seed}: {', '.join(differing[:6])} changed; the old run is in {aside}"
  )
  return None


def _evaluate(
  config, workdir: pathlib.Path, eval_specs, diverged: str, variant: Variant, log
) -> dict:
  """The selected checkpoint's metrics per spec; {"_best_step": None} for a run that
  diverged before its first checkpoint."""
  try:
    return checkpoint_eval.evaluate_checkpoint(config, str(workdir), eval_specs)
  except Exception as e:  # pylint: disable=broad-except
    if not diverged:
      raise
    log(f"[no checkpoint] {variant.name} seed {config.seed}: {type(e).__name__}")
    return {"_best_step": None}  # diverged before the first checkpoint


def run_one(
  config_file: str,
  preset: Preset,
  variant: Variant,
  seed: int,
  out_dir,
  eval_specs: Sequence[EvalSpec],
  extra: Callable[[Any, str], dict] | None = None,
  log=print,
) -> tuple[dict, bool]:
  """Trains (or resumes, or skips when result.json matches this config) one run.

  -> (result, True when this call trained it).
  """
  workdir = run_dir(out_dir, variant.name, seed)
  config = build_config(config_file, preset, variant, seed)
  filter_path = workdir / "train_filter.csv"
  restricted = preset.train_fraction < 1.0 or bool(variant.train_domains)
  config.data.cleaned_manifest = str(filter_path) if restricted else ""
  digest = _config_hash(config, preset, variant)
  settings = run_identity.flat_settings(config)
  result_path = workdir / RESULT_FILE
  done = _finished_run(workdir, seed, settings, preset, variant, digest, out_dir, log)
  if done is not None:
    return done, False
  workdir.mkdir(parents=True, exist_ok=True)
  if restricted:
    train_filter.write(config.data, preset.train_fraction, variant.train_domains, seed, filter_path)
  log(f"[run] {variant.name} seed {seed} -> {workdir}")
  start = time.time()
  final, diverged = _train(config, workdir, variant, log)
  train_s = time.time() - start
  if final.get("preempted"):
    raise Stopped(f"{variant.name} seed {seed} stopped by SIGTERM at step {final['step']}")
  evals = _evaluate(config, workdir, eval_specs, diverged, variant, log)
  result = dict(
    study_variant=variant.name,
    labels=dict(variant.labels),
    seed=seed,
    init=variant.init,
    train_fraction=preset.train_fraction,
    config_hash=digest,
    settings=settings,
    planned_epochs=float(config.train.num_epochs),
    planned_max_steps=int(config.train.max_steps),
    train_wall_s=train_s,
    wall_s=time.time() - start,
    # A resumed run's wall times cover only its last part (None: not known, it diverged).
    resumed_from_step=final.get("start_step"),
    final_step=final["step"],
    best_step=evals.pop("_best_step"),
    final_train_row=final["train"],
    evals=evals,
    diverged=diverged,
    curves=run_record.curves(workdir),
    grad_norms=run_record.grad_norm_samples(workdir),
    commit=provenance.git_commit(),
    cores=provenance.cores_used(),
  )
  if extra is not None and evals:
    result.update(extra(config, str(workdir)))
  result_path.write_text(json.dumps(result, indent=1))
  log(
    f"[done] {variant.name} seed {seed}: {result['wall_s']:.0f} s"
    + (" (diverged), " if diverged else ", ")
    + ", ".join(f"{k} macro-F1 {v['macro_f1']:.3f}" for k, v in evals.items())
  )
  return result, True


def _now() -> str:
  return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _update_meta(path: pathlib.Path, **fields) -> dict:
  """Merges `fields` into OUT/meta.json as it is on disk now (the reports add to it too)."""
  meta = json.loads(path.read_text()) if path.exists() else {}
  meta.update(fields)
  path.write_text(json.dumps(meta, indent=1))
  return meta


def run_sweep(
  study: str,
  config_file: str,
  preset: Preset,
  runs: Sequence[tuple[Variant, int]],
  out_dir,
  eval_specs: Sequence[EvalSpec],
  extra=None,
  command: str = "",
  log=print,
  after_run: Callable[[dict], None] | None = None,
) -> list[dict]:
  """Runs every (variant, seed) in order; writes OUT/meta.json (the stamp); -> the results.

  after_run(result) is called after each run this call trained (not after skipped ones).
  """
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  meta_path = out / "meta.json"
  meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
  if meta.get("preset") == preset.name:  # the preset's text as the code now defines it
    _update_meta(meta_path, preset_description=preset.description, seeds=list(preset.seeds))
  else:
    meta_path.write_text(
      json.dumps(
        dict(
          study=study,
          preset=preset.name,
          preset_description=preset.description,
          seeds=list(preset.seeds),
          machine=provenance.machine(),
          commit=provenance.git_commit(),
          started=_now(),
          command=command or f"python -m experiments.{study} --preset={preset.name} --out={out}",
        ),
        indent=1,
      )
    )
  results = []
  start = time.time()
  for variant, seed in runs:
    result, trained = run_one(config_file, preset, variant, seed, out, eval_specs, extra, log)
    results.append(result)
    if trained:
      _update_meta(meta_path, updated=_now())
      if after_run is not None:
        after_run(result)
  _update_meta(
    meta_path,
    sweep_wall_s_this_call=time.time() - start,
    total_run_wall_s=sum(r["wall_s"] for r in results),
    num_runs=len(results),
  )
  return results


def load_results(out_dir) -> list[dict]:
  """Every finished run's result.json under OUT/runs (for report-only calls)."""
  paths = sorted(pathlib.Path(out_dir).glob(f"runs/*/seed_*/{RESULT_FILE}"))
  return [json.loads(p.read_text()) for p in paths]
