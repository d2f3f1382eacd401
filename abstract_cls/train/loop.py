"""train_and_evaluate: the training loop around the jitted step.

Per step the host only enqueues work (the batch is built on the device from the step
number); it waits for the device only every log_every steps (metrics fetch), at layer-norm
steps, at evaluations and at saves. Re-running the same command resumes from the newest
readable checkpoint. SIGTERM finishes the current step, saves and returns.
"""

from __future__ import annotations

import os
import signal
import time

import jax
import numpy as np
from absl import logging
from flax import nnx

from abstract_cls.data import pipeline as pipeline_lib
from abstract_cls.train import checkpointing, metrics_writer
from abstract_cls.train import evaluate as evaluate_lib
from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import optimizer as optimizer_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train import step as step_lib
from abstract_cls.train.config_checks import validate_config
from abstract_cls.train.errors import ConfigError


class _StopFlag:
  """Set by SIGTERM; checked once per step on the host (no device sync)."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def install(self):
    try:
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    except ValueError:  # not the main thread (e.g. called from a worker thread)
      self._previous = None

  def _handle(self, signum, frame):
    del signum, frame
    self.requested = True

  def restore(self):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


def _make_train_input(config, mesh):
  try:
    return pipeline_lib.make_train_input(
      config.data, "train", mesh, config.seed, config.train.batch_size
    )
  except (ValueError, FileNotFoundError) as e:
    raise ConfigError(f"data {config.data.name!r} split 'train': {e}") from e


def _abstract(tree):
  return jax.tree_util.tree_map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree
  )


def _check_finite(acc, last_saved_step):
  bad = int(jax.device_get(acc["nonfinite_step"]))
  if bad >= 0:
    raise FloatingPointError(
      f"loss or gradients became NaN/Inf at step {bad + 1} (the update of that step was "
      f"not applied and nothing after step {last_saved_step} was saved); lower the "
      "learning rate, enable optimizer.clip_norm or check the data"
    )


def _layer_norm_names(param_template, leaf_norms) -> list:
  """models.layer_norms over per-leaf norms placed into the Param state (which carries the
  layer names as metadata): the per-layer norm is the root of the sum of squared leaf norms."""
  nnx.replace_by_pure_dict(param_template, jax.device_get(leaf_norms))
  from abstract_cls import models as models_lib  # pylint: disable=g-import-not-at-top

  return [(name, float(norm)) for name, norm in models_lib.layer_norms(param_template)]


def train_and_evaluate(config, workdir: str) -> dict:
  """Trains config.model on config.data, evaluating config.eval.split; -> final metrics.

  Returns dict(step, epoch, train=<last logged train row>, eval={split: metrics},
  preempted=bool).
  """
  validate_config(config)
  mesh_lib.maybe_initialize_distributed()
  mesh_lib.enable_compilation_cache(config.train.compilation_cache_dir)
  workdir = os.path.abspath(workdir)
  mesh = mesh_lib.make_mesh(config.train.num_devices)
  primary = mesh_lib.is_primary()

  train_input = _make_train_input(config, mesh)
  eval_input = evaluate_lib.make_eval_input(config, config.eval.split, mesh)
  steps_per_epoch = train_input.steps_per_epoch
  total_steps = int(round(config.train.num_epochs * steps_per_epoch))
  if config.train.max_steps > 0:
    total_steps = (
      min(total_steps, config.train.max_steps) if total_steps else config.train.max_steps
    )
  # The seed travels as an argument too, so runs that differ only in seed share a program.
  schedule = mesh_lib.replicate(
    dict(
      optimizer_lib.schedule_values(config.optimizer, steps_per_epoch, total_steps),
      seed=np.asarray(config.seed, np.int32),
    ),
    mesh,
  )
  optimizer = optimizer_lib.make_optimizer(config.optimizer)
  graphs, state = state_lib.create_train_state(config, mesh, optimizer)

  manager = checkpointing.make_manager(workdir, config.train.keep_checkpoints)
  restored, start_step = checkpointing.restore_latest(manager, workdir, _abstract(state))
  if restored is not None:
    state = restored
    logging.info("Resumed from step %d", start_step)
  if primary:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w", encoding="utf-8") as f:
      f.write(config.to_json_best_effort(indent=1))

  train_step = step_lib.make_train_step(
    graphs, train_input, optimizer, config, train_input.class_weights, mesh
  )
  eval_step = step_lib.make_eval_step(graphs, mesh, config.eval.flip_tta)
  new_accumulators = jax.jit(step_lib.init_accumulators, out_shardings=mesh_lib.replicated(mesh))
  acc = new_accumulators()
  param_template = jax.eval_shape(
    lambda: nnx.split(state_lib.build_model(config.model, config.seed), nnx.Param, ...)[1]
  )

  writer = metrics_writer.MetricsWriter(
    workdir,
    enabled=primary,
    total_steps=total_steps,
    initial_step=start_step,
    progress_bar=config.train.progress_bar,
  )
  writer.message(
    f"Training {config.model.name} on {config.data.name} "
    f"({train_input.num_examples} images, {steps_per_epoch} steps/epoch, "
    f"{total_steps} steps, {mesh.devices.size} devices"
    f"{f', resumed at step {start_step}' if start_step else ''}) in {workdir}"
  )
  stop = _StopFlag()
  stop.install()
  eval_every = max(1, int(round(config.train.eval_every_epochs * steps_per_epoch)))
  log_every = max(1, config.train.log_every)
  norms_every = config.train.layer_norms_every
  step, last_saved = start_step, start_step
  last_row, eval_metrics, preempted = {}, {}, False
  tick, examples = time.time(), 0

  def evaluate(step):
    params, rest = state_lib.inference_variables(state)
    metrics = evaluate_lib.compute_metrics(eval_step, params, rest, eval_input)
    writer.write_eval(step, step / steps_per_epoch, config.eval.split, metrics)
    return metrics

  try:
    while step < total_steps:
      train_input.prepare_epoch(step)
      host_batch = train_input.host_batch(step)
      if host_batch:
        host_batch = mesh_lib.shard_global_batch(host_batch, mesh)
      with_norms = norms_every > 0 and (step + 1) % norms_every == 0
      state, acc, leaf_norms = train_step(
        state, acc, train_input.device_data, host_batch, schedule, with_layer_norms=with_norms
      )
      step += 1
      examples += config.train.batch_size
      if with_norms:
        writer.write_layer_norms(step, _layer_norm_names(param_template, leaf_norms))
      if step % log_every == 0 or step == total_steps:
        _check_finite(acc, last_saved)
        values = jax.device_get(acc)
        now = time.time()
        last_row = dict(
          step=step,
          epoch=step / steps_per_epoch,
          loss=float(values["loss_sum"] / values["steps"]),
          accuracy=float(values["correct"] / values["count"]),
          lr=float(values["lr"]),
          grad_norm=float(values["grad_norm"]),
          param_norm=float(values["param_norm"]),
          update_norm=float(values["update_norm"]),
          images_per_s=examples / max(now - tick, 1e-9),
        )
        writer.write_train(last_row)
        # Advanced only here, after the device caught up: dispatch runs ahead of it.
        writer.advance(examples // config.train.batch_size)
        acc, tick, examples = new_accumulators(), now, 0
      is_eval = step % eval_every == 0 or step == total_steps
      is_periodic = (
        config.train.checkpoint_every_steps > 0 and step % config.train.checkpoint_every_steps == 0
      )
      preempted = stop.requested if jax.process_count() == 1 else manager.reached_preemption(step)
      if is_eval or is_periodic or preempted:
        _check_finite(acc, last_saved)
        metrics = None
        if is_eval:
          eval_metrics = evaluate(step)
          metrics = {
            "macro_f1": float(eval_metrics["macro_f1"]),
            "accuracy": float(eval_metrics["accuracy"]),
          }
        checkpointing.save(manager, step, state, config, step / steps_per_epoch, metrics)
        last_saved = step
      if preempted:
        writer.message(f"SIGTERM: saved step {step}; re-run the same command to resume.")
        break
      if config.train.pause_after_step_s > 0:
        time.sleep(config.train.pause_after_step_s)
    if not eval_metrics and not preempted:  # resumed after the end: report the final state
      eval_metrics = evaluate(step)
  finally:
    stop.restore()
    manager.wait_until_finished()
    manager.close()
    writer.close()
  return dict(
    step=step,
    epoch=step / steps_per_epoch,
    train=last_row,
    eval={config.eval.split: eval_metrics},
    preempted=preempted,
  )
