"""Evaluation: predictions over an EvalInput, metrics, and --mode=eval with the official report.

The official report (task README): per-class F1, recall printed as "acc", support; macro-F1;
accuracy — produced by abstract_cls.evaluation.report.official_text. --mode=eval writes
report.json / report.md / confusion.png into WORKDIR/<data name>_<split>[_official]/.
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np
from jax.experimental import multihost_utils

from abstract_cls.data import pipeline as pipeline_lib
from abstract_cls.train import checkpointing
from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train import step as step_lib
from abstract_cls.train.errors import ConfigError

# The task's protocol runs the evaluation with these seeds and requires accuracy and
# macro-F1 to agree within 0.1 across them.
OFFICIAL_SEEDS = (0, 5, 10)
OFFICIAL_TOLERANCE = 0.1


def _to_host(x) -> np.ndarray:
  if jax.process_count() > 1:
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
  return np.asarray(jax.device_get(x))


def predict_arrays(eval_step, params, rest, eval_input) -> dict[str, np.ndarray]:
  """Runs the model over every batch; -> pred [N], prob [N, K], loss [N] in split order."""
  outputs = {"pred": [], "prob": [], "loss": []}
  for batch in eval_input.batches():
    out = eval_step(params, rest, batch["image"], batch["label"])
    mask = _to_host(batch["mask"]).astype(bool)
    for key in outputs:
      outputs[key].append(_to_host(out[key])[mask])
  result = {k: np.concatenate(v) for k, v in outputs.items()}
  if len(result["pred"]) != eval_input.num_examples:
    raise RuntimeError(
      f"evaluation produced {len(result['pred'])} predictions for "
      f"{eval_input.num_examples} examples"
    )
  return result


def compute_metrics(eval_step, params, rest, eval_input) -> dict:
  """Contract 3 metrics (accuracy, macro_f1, per_class, per_domain, confusion) plus loss."""
  from abstract_cls.evaluation import metrics as metrics_lib  # pylint: disable=g-import-not-at-top

  out = predict_arrays(eval_step, params, rest, eval_input)
  metrics = metrics_lib.compute(
    np.asarray(eval_input.labels), out["pred"], np.asarray(eval_input.domains)
  )
  metrics["loss"] = float(np.mean(out["loss"]))
  metrics["num_examples"] = int(eval_input.num_examples)
  return metrics


def make_eval_input(config, split: str, mesh, official_protocol: bool = False):
  """The pipeline's EvalInput; data problems (unknown set, split, manual dir) -> ConfigError."""
  try:
    return pipeline_lib.make_eval_input(
      config.data, split, mesh, config.eval.batch_size, official_protocol=official_protocol
    )
  except (ValueError, FileNotFoundError) as e:
    raise ConfigError(f"data {config.data.name!r} split {split!r}: {e}") from e


def report_dir(workdir: str, data_name: str, split: str, official: bool) -> str:
  suffix = "_official" if official else ""
  return os.path.join(os.path.abspath(workdir), f"{data_name}_{split}{suffix}")


def run_eval(config, workdir: str) -> dict:
  """--mode=eval: restores config.eval.checkpoint ('best' | 'latest' | step) from the workdir,
  evaluates config.data / config.eval.split, prints the official report, writes the files."""
  from abstract_cls.evaluation import report as report_lib  # pylint: disable=g-import-not-at-top

  mesh_lib.maybe_initialize_distributed()
  model, _, step = checkpointing.restore_for_inference(workdir, config.eval.checkpoint)
  graphs, params, rest = state_lib.split_model(model)
  mesh = mesh_lib.make_mesh(config.train.num_devices)
  replicated = mesh_lib.replicated(mesh)
  params, rest = jax.device_put((params, rest), replicated)
  eval_step = step_lib.make_eval_step(graphs, mesh, config.eval.flip_tta)
  split, official = config.eval.split, bool(config.eval.official_protocol)
  eval_input = make_eval_input(config, split, mesh, official)
  metrics = compute_metrics(eval_step, params, rest, eval_input)
  metrics["checkpoint_step"] = int(step)
  if official and config.eval.seed_check:
    metrics["seed_check"] = _seed_check(eval_step, params, rest, eval_input, metrics)
  out_dir = report_dir(workdir, config.data.name, split, official)
  if mesh_lib.is_primary():
    print(
      f"Checkpoint step {step} of {workdir}; data {config.data.name}, split {split}"
      f"{' (official protocol: resize 256, centre-crop 224)' if official else ''}; "
      f"{eval_input.num_examples} images."
    )
    print(report_lib.official_text(metrics))
    report_lib.write(metrics, out_dir)
    if "seed_check" in metrics:
      check = metrics["seed_check"]
      print(
        f"Seeds {list(OFFICIAL_SEEDS)}: accuracy {check['accuracy']}, macro-F1 "
        f"{check['macro_f1']}; within {OFFICIAL_TOLERANCE}: {check['agree']}"
      )
      with open(os.path.join(out_dir, "seed_check.json"), "w", encoding="utf-8") as f:
        json.dump(check, f, indent=1)
    print(f"Wrote report.json, report.md and confusion.png to {out_dir}")
  return metrics


def _seed_check(eval_step, params, rest, eval_input, metrics) -> dict:
  """Re-runs the evaluation under each official seed (as the global JAX seed for anything
  random at eval time, of which our eval path has none) and checks agreement."""
  accuracies, f1s = [], []
  for seed in OFFICIAL_SEEDS:
    np.random.seed(seed)
    m = compute_metrics(eval_step, params, rest, eval_input) if seed else metrics
    accuracies.append(round(float(m["accuracy"]), 6))
    f1s.append(round(float(m["macro_f1"]), 6))
  agree = (
    max(accuracies) - min(accuracies) <= OFFICIAL_TOLERANCE
    and max(f1s) - min(f1s) <= OFFICIAL_TOLERANCE
  )
  return {
    "seeds": list(OFFICIAL_SEEDS),
    "accuracy": accuracies,
    "macro_f1": f1s,
    "agree": bool(agree),
  }
