"""Evaluation of a run's selected checkpoint (best validation macro-F1) on a study's EvalSpecs.

Each spec is the union of its splits, optionally restricted to some domains; a split's
predictions are computed once per call and its decoded input once per process.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ml_collections
import numpy as np

from experiments import train_filter

if TYPE_CHECKING:
  from experiments.sweep import EvalSpec

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
      keep = (
        np.isin(dom, train_filter.domain_indices(spec.domains))
        if spec.domains
        else np.ones(len(lab), bool)
      )
      labels.append(lab[keep])
      preds.append(pred[keep])
      domains.append(dom[keep])
    labels, preds, domains = map(np.concatenate, (labels, preds, domains))
    metrics = metrics_lib.compute(labels, preds, domains)
    metrics.pop("confusion", None)
    metrics["num_examples"] = int(len(labels))
    out[spec.name] = metrics
  return out
