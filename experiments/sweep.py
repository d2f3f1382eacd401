"""Shared sweep machinery: configs from a base config + overrides, run or skip, collect, aggregate.

A study is a list of `Variant`s (a name, labels for the tables, config overrides) run for
every seed of a `Preset` through abstract_cls.train.loop.train_and_evaluate (Contract 5).
Each (variant, seed) has its own workdir OUT/runs/<variant>/seed_<s>/; a finished run leaves
result.json there and is skipped on the next call (an unfinished one resumes from its
checkpoint, as the trainer does). After training, the best checkpoint by validation macro-F1
(model selection on the training data's validation split) is evaluated on the study's
`EvalSpec`s, which may restrict a union of splits to some domains.

Training-set restrictions (a stratified subset for the quick preset, training domains for
the unseen-domain study) go through the pipeline's existing `data.cleaned_manifest` field:
the sweep writes a CSV that marks the excluded files keep=0, so no pipeline change is needed.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import json
import os
import pathlib
import platform
import runpy
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULT_FILE = "result.json"


@dataclasses.dataclass(frozen=True)
class Variant:
  """One configuration of a study: `overrides` maps dotted config keys to values."""

  name: str
  overrides: Mapping[str, Any]
  labels: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  train_domains: tuple[str, ...] = ()  # () = every domain


@dataclasses.dataclass(frozen=True)
class EvalSpec:
  """Evaluate the selected checkpoint on the union of `splits`, keeping only `domains`."""

  name: str
  splits: tuple[str, ...]
  domains: tuple[str, ...] = ()  # () = every domain


@dataclasses.dataclass(frozen=True)
class Preset:
  name: str
  description: str  # what it runs, in words, for the tables' stamp
  seeds: tuple[int, ...]
  overrides: Mapping[str, Any]  # applied to every run before the variant's overrides
  train_fraction: float = 1.0  # stratified subset of the training split (per class, >= 1)
  # Split renames for data sets without them (the synthetic set has train/validation only).
  split_alias: Mapping[str, str] = dataclasses.field(default_factory=dict)


def load_config(config_file: str) -> ml_collections.ConfigDict:
  path = pathlib.Path(config_file)
  if not path.is_absolute():
    path = ROOT / path
  if not path.is_file():
    raise FileNotFoundError(f"config file {path} does not exist")
  return runpy.run_path(str(path))["get_config"]()


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


# ---------------------------------------------------------------------------------------------
# Data: file metadata per split, the cleaned-manifest filter, cached evaluation inputs.


def split_metadata(data_config, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(labels, domains, file_names) of a split without decoding pixels."""
  from abstract_cls.data import sources  # pylint: disable=g-import-not-at-top

  plain = ml_collections.ConfigDict(data_config.to_dict())
  plain.cleaned_manifest = ""
  source = sources.open_source(plain, split)
  meta = [sources.record_metadata(source[i]) for i in range(len(source))]
  return (
    np.array([m[0] for m in meta], np.int32),
    np.array([m[1] for m in meta], np.int32),
    np.array([m[2] for m in meta], dtype=str),
  )


def domain_indices(names: Sequence[str]) -> list[int]:
  from abstract_cls import taxonomy  # pylint: disable=g-import-not-at-top

  unknown = [n for n in names if n not in taxonomy.DOMAIN_INDEX]
  if unknown:
    raise ValueError(f"unknown domain(s) {unknown}; known: {taxonomy.DOMAINS}")
  return [taxonomy.DOMAIN_INDEX[n] for n in names]


def write_train_filter(
  data_config, preset: Preset, variant: Variant, seed: int, path: pathlib.Path
) -> str:
  """Writes the cleaned-manifest CSV for this run's training restrictions; '' if none.

  Dropped: train/validation files outside variant.train_domains, and (train_fraction < 1)
  a per-class random part of the train split chosen by `seed` (at least one image per class).
  """
  if preset.train_fraction >= 1.0 and not variant.train_domains:
    return ""
  rows = []
  rng = np.random.default_rng(1000 + seed)
  keep_domains = set(domain_indices(variant.train_domains)) if variant.train_domains else None
  for split in ("train", "validation"):
    labels, domains, files = split_metadata(data_config, split)
    keep = np.ones(len(files), bool)
    if keep_domains is not None:
      keep &= np.isin(domains, list(keep_domains))
    if split == "train" and preset.train_fraction < 1.0:
      for c in np.unique(labels):
        members = np.flatnonzero((labels == c) & keep)
        n = max(1, int(round(preset.train_fraction * len(members))))
        keep[rng.permutation(members)[n:]] = False
    rows += [
      (f, "1" if k else "0", "" if k else "experiments: outside this run's training set")
      for f, k in zip(files, keep)
    ]
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open("w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["file_name", "keep", "reason"])
    writer.writerows(rows)
  return str(path)


_EVAL_CACHE: dict[tuple, Any] = {}


def _eval_input(config, split: str, mesh):
  """EvalInput for `split` with no training filter; decoded once per process and data config."""
  from abstract_cls.train import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top

  data = ml_collections.ConfigDict(config.data.to_dict())
  data.cleaned_manifest = ""
  key = (
    json.dumps(data.to_dict(), sort_keys=True, default=str),
    split,
    config.eval.batch_size,
    mesh.devices.size,
  )
  if key not in _EVAL_CACHE:
    plain = ml_collections.ConfigDict(config.to_dict())
    plain.data = data
    _EVAL_CACHE[key] = evaluate_lib.make_eval_input(plain, split, mesh)
  return _EVAL_CACHE[key]


def restore_best(workdir: str):
  """The run's checkpoint with the best validation macro-F1, as an inference model."""
  from abstract_cls.train import checkpointing  # pylint: disable=g-import-not-at-top

  return checkpointing.restore_for_inference(workdir, "best")


def evaluate_checkpoint(config, workdir: str, specs: Sequence[EvalSpec]) -> dict:
  """Restores the best checkpoint and evaluates every spec; -> {spec name: metrics}."""
  import jax  # pylint: disable=g-import-not-at-top

  from abstract_cls.evaluation import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import state as state_lib
  from abstract_cls.train import step as step_lib

  model, _, best_step = restore_best(workdir)
  graphs, params, rest = state_lib.split_model(model)
  mesh = mesh_lib.make_mesh(config.train.num_devices)
  params, rest = jax.device_put((params, rest), mesh_lib.replicated(mesh))
  eval_step = step_lib.make_eval_step(graphs, mesh, config.eval.flip_tta)
  predictions = {}
  out = {"_best_step": int(best_step)}
  for spec in specs:
    labels, preds, domains = [], [], []
    for split in spec.splits:
      if split not in predictions:
        eval_input = _eval_input(config, split, mesh)
        arrays = evaluate_lib.predict_arrays(eval_step, params, rest, eval_input)
        predictions[split] = (
          np.asarray(eval_input.labels),
          arrays["pred"],
          np.asarray(eval_input.domains),
        )
      lab, pred, dom = predictions[split]
      keep = np.isin(dom, domain_indices(spec.domains)) if spec.domains else np.ones(len(lab), bool)
      labels.append(lab[keep])
      preds.append(pred[keep])
      domains.append(dom[keep])
    labels, preds, domains = map(np.concatenate, (labels, preds, domains))
    metrics = metrics_lib.compute(labels, preds, domains)
    metrics.pop("confusion", None)
    metrics["num_examples"] = int(len(labels))
    out[spec.name] = metrics
  return out


# ---------------------------------------------------------------------------------------------
# Running a sweep.


def run_dir(out_dir: str | os.PathLike, variant: Variant, seed: int) -> pathlib.Path:
  return pathlib.Path(out_dir) / "runs" / variant.name / f"seed_{seed}"


def _config_hash(config) -> str:
  return hashlib.sha256(config.to_json_best_effort(sort_keys=True).encode()).hexdigest()[:16]


def run_one(
  config_file: str,
  preset: Preset,
  variant: Variant,
  seed: int,
  out_dir,
  eval_specs: Sequence[EvalSpec],
  extra: Callable[[Any, str], dict] | None = None,
  log=print,
) -> dict:
  """Trains (or resumes, or skips when result.json matches this config) one run."""
  from abstract_cls.train import loop  # pylint: disable=g-import-not-at-top

  workdir = run_dir(out_dir, variant, seed)
  config = build_config(config_file, preset, variant, seed)
  filter_path = workdir / "train_filter.csv"
  restricted = preset.train_fraction < 1.0 or bool(variant.train_domains)
  config.data.cleaned_manifest = str(filter_path) if restricted else ""
  digest = _config_hash(config) + f"-f{preset.train_fraction}"
  result_path = workdir / RESULT_FILE
  if result_path.exists():
    done = json.loads(result_path.read_text())
    if done.get("config_hash") == digest:
      log(f"[skip] {variant.name} seed {seed}: done ({result_path})")
      return done
    # A finished run of another config: its checkpoints must not be resumed.
    log(f"[rerun] {variant.name} seed {seed}: config changed since {result_path}")
    shutil.rmtree(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  if restricted:
    write_train_filter(config.data, preset, variant, seed, filter_path)
  log(f"[run] {variant.name} seed {seed} -> {workdir}")
  start = time.time()
  diverged = ""
  try:
    final = loop.train_and_evaluate(config, str(workdir))
  except FloatingPointError as e:  # a result too (deep nets without normalisation)
    diverged = str(e)
    log(f"[diverged] {variant.name} seed {seed}: {e}")
    final = dict(step=None, train=(train_rows(workdir) or [{}])[-1])
  train_s = time.time() - start
  try:
    evals = evaluate_checkpoint(config, str(workdir), eval_specs)
  except Exception as e:  # pylint: disable=broad-except
    if not diverged:
      raise
    evals = {"_best_step": None}  # diverged before the first checkpoint
    log(f"[no checkpoint] {variant.name} seed {seed}: {type(e).__name__}")
  result = dict(
    study_variant=variant.name,
    labels=dict(variant.labels),
    seed=seed,
    config_hash=digest,
    train_wall_s=train_s,
    wall_s=time.time() - start,
    final_step=final["step"],
    best_step=evals.pop("_best_step"),
    final_train_row=final["train"],
    evals=evals,
    diverged=diverged,
  )
  if extra is not None and evals:
    result.update(extra(config, str(workdir)))
  result_path.write_text(json.dumps(result, indent=1))
  log(
    f"[done] {variant.name} seed {seed}: {result['wall_s']:.0f} s"
    + (" (diverged), " if diverged else ", ")
    + ", ".join(f"{k} macro-F1 {v['macro_f1']:.3f}" for k, v in evals.items())
  )
  return result


def git_commit() -> str:
  try:
    commit = subprocess.run(
      ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
      ["git", "status", "--porcelain", "--", "abstract_cls", "configs", "experiments/*.py"],
      cwd=ROOT,
      text=True,
      capture_output=True,
      check=True,
    ).stdout.split("\n")
  except (OSError, subprocess.CalledProcessError):
    return "unknown"
  dirty = [line[3:] for line in dirty if line.strip() and not line.startswith("??")]
  # Other engineers edit the tree while sweeps run: name what differed from the commit.
  return commit + (
    f" + uncommitted changes to {len(dirty)} files ({', '.join(dirty[:4])}"
    f"{', ...' if len(dirty) > 4 else ''})"
    if dirty
    else ""
  )


def machine() -> str:
  import jax  # pylint: disable=g-import-not-at-top

  model = platform.processor() or platform.machine()
  try:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        model = line.split(":", 1)[1].strip()
        break
  except OSError:
    pass
  backend = jax.default_backend()
  if backend != "cpu":
    model = f"{jax.devices()[0].device_kind} ({backend}); host {model}"
  # The dev box is shared: the load says how much of it a sweep had.
  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  return f"{os.cpu_count()}-core {model}, load average {load:.0f} at sweep start"


def run_sweep(
  study: str,
  config_file: str,
  preset: Preset,
  variants: Sequence[Variant],
  out_dir,
  eval_specs: Sequence[EvalSpec],
  extra=None,
  command: str = "",
  log=print,
) -> list[dict]:
  """Runs every (variant, seed); writes OUT/meta.json (the stamp) and returns the results."""
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  meta_path = out / "meta.json"
  meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
  if meta.get("preset") != preset.name:
    meta = dict(
      study=study,
      preset=preset.name,
      preset_description=preset.description,
      seeds=list(preset.seeds),
      machine=machine(),
      commit=git_commit(),
      started=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
      command=command or f"python -m experiments.{study} --preset={preset.name} --out={out}",
    )
    meta_path.write_text(json.dumps(meta, indent=1))
  results = []
  start = time.time()
  # Seed-major: every variant's first seed before any second seed, so a sweep cut short
  # still compares all variants (with fewer seeds; the tables give n per cell).
  for seed in preset.seeds:
    for variant in variants:
      results.append(run_one(config_file, preset, variant, seed, out, eval_specs, extra, log))
  meta["finished"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
  meta["sweep_wall_s_this_call"] = time.time() - start
  meta["total_run_wall_s"] = sum(r["wall_s"] for r in results)
  meta["num_runs"] = len(results)
  meta_path.write_text(json.dumps(meta, indent=1))
  return results


def load_results(out_dir) -> list[dict]:
  """Every finished run's result.json under OUT/runs (for report-only calls)."""
  paths = sorted(pathlib.Path(out_dir).glob(f"runs/*/seed_*/{RESULT_FILE}"))
  return [json.loads(p.read_text()) for p in paths]


# ---------------------------------------------------------------------------------------------
# Logs of one run.


def read_jsonl(path) -> list[dict]:
  path = pathlib.Path(path)
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def train_rows(workdir) -> list[dict]:
  return [r for r in read_jsonl(pathlib.Path(workdir) / "metrics.jsonl") if "eval" not in r]


def eval_rows(workdir) -> list[dict]:
  return [r for r in read_jsonl(pathlib.Path(workdir) / "metrics.jsonl") if "eval" in r]


def layer_grad_norms(workdir) -> list[dict]:
  return read_jsonl(pathlib.Path(workdir) / "layer_grad_norms.jsonl")
