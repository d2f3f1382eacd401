"""Evaluation: predictions over an EvalInput, metrics, and the official report of a checkpoint.

The official report (task README): per-class F1, recall printed as "acc", support; macro-F1;
accuracy — produced by abstract_cls.evaluation.report.official_text. `evaluate_checkpoint`
writes report.json / report.md / confusion.png into WORKDIR/<data name>_<split>[_official]/;
--mode=eval and the trainer's evaluation of its selected checkpoint both go through it.
The model and its input size always come from the checkpoint's own config.
"""

from __future__ import annotations

import os

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from abstract_cls.data import pipeline as pipeline_lib
from abstract_cls.train import checkpointing
from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train import step as step_lib
from abstract_cls.train.config_checks import flat_fields
from abstract_cls.train.errors import ConfigError

# Config fields a checkpoint fixes: the network and the input size it was trained at.
CHECKPOINT_FIELDS = ("model.", "data.image_size")


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
  """evaluation.metrics (accuracy, macro_f1, per_class, per_domain, confusion) plus loss."""
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


def _fixed_by_checkpoint(key: str) -> bool:
  return key.startswith(CHECKPOINT_FIELDS[0]) or key == CHECKPOINT_FIELDS[1]


def inference_config(config, checkpoint_config, overrides: dict | None = None):
  """`config` with the model and data.image_size of the checkpoint's config.

  overrides: the command line's --config.x.y values; one that contradicts the checkpoint is
  a ConfigError, and so is the official protocol (224-px crops) on a model trained at
  another size.
  """
  saved = flat_fields(checkpoint_config.to_dict())
  for key, value in (overrides or {}).items():
    value = list(value) if isinstance(value, tuple) else value
    if _fixed_by_checkpoint(key) and saved.get(key) != value:
      raise ConfigError(
        f"--config.{key}={value!r} contradicts the checkpoint, which was trained with "
        f"{key}={saved.get(key)!r}; model and input settings come from the checkpoint"
      )
  merged = ml_collections.ConfigDict(config.to_dict())
  merged.model = ml_collections.ConfigDict(checkpoint_config.model.to_dict())
  merged.data.image_size = int(checkpoint_config.data.image_size)
  if merged.eval.official_protocol and merged.data.image_size != pipeline_lib.OFFICIAL_CROP:
    raise ConfigError(
      f"eval.official_protocol feeds {pipeline_lib.OFFICIAL_CROP}-px centre crops, but the "
      f"checkpoint was trained at data.image_size={merged.data.image_size}; evaluate it "
      f"without the official protocol, or train at {pipeline_lib.OFFICIAL_CROP} px"
    )
  given = flat_fields(config.to_dict())
  differing = sorted(k for k, v in saved.items() if _fixed_by_checkpoint(k) and given.get(k) != v)
  if differing and mesh_lib.is_primary():
    print(
      f"Model and input settings from the checkpoint: {merged.model.name} at "
      f"{merged.data.image_size} px (the given config differs in {', '.join(differing)})."
    )
  return merged


def evaluate_checkpoint(
  config,
  workdir: str,
  split: str,
  *,
  checkpoint="best",
  overrides: dict | None = None,
  mesh=None,
  print_report: bool = True,
) -> dict:
  """Restores `checkpoint` ('best' | 'latest' | step) of the workdir, evaluates `split` of
  config.data and writes the report files; -> metrics with checkpoint_step."""
  from abstract_cls.evaluation import report as report_lib  # pylint: disable=g-import-not-at-top

  if mesh is None:
    mesh = mesh_lib.make_mesh(config.train.num_devices)
  model, checkpoint_config, step = checkpointing.restore_for_inference(workdir, checkpoint, mesh)
  config = inference_config(config, checkpoint_config, overrides)
  graphs, params, rest = state_lib.split_model(model)
  eval_step = step_lib.make_eval_step(graphs, mesh, config.eval.flip_tta)
  official = bool(config.eval.official_protocol)
  eval_input = make_eval_input(config, split, mesh, official)
  metrics = compute_metrics(eval_step, params, rest, eval_input)
  metrics["checkpoint_step"] = int(step)
  out_dir = report_dir(workdir, config.data.name, split, official)
  if mesh_lib.is_primary():
    report_lib.write(metrics, out_dir)
    if print_report:
      print(
        f"Checkpoint step {step} of {workdir}; data {config.data.name}, split {split}"
        f"{' (official protocol: resize 256, centre-crop 224)' if official else ''}; "
        f"{eval_input.num_examples} images."
      )
      print(report_lib.official_text(metrics))
      print(f"Wrote report.json, report.md and confusion.png to {out_dir}")
  return metrics


def run_eval(config, workdir: str, overrides: dict | None = None) -> dict:
  """--mode=eval: the official report of config.eval.checkpoint on config.eval.split."""
  mesh_lib.maybe_initialize_distributed()
  return evaluate_checkpoint(
    config,
    workdir,
    config.eval.split,
    checkpoint=config.eval.checkpoint,
    overrides=overrides,
  )
