"""train_and_evaluate: the training loop around the jitted step.

Per step the host only enqueues work (the batch is built on the device from the step
number); it waits for the device only every log_every steps (metrics fetch), at layer-norm
steps, at evaluations and at saves. Checkpoints are selected on train.selection_split (best
macro-F1); when training ends, the selected checkpoint is reported on eval.final_splits.
Re-running the same command resumes from the newest readable checkpoint. SIGTERM (a
preemption notice) finishes the current step, saves and returns; with several processes
every process stops at the same step.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time

import jax
import numpy as np
from absl import logging
from flax import nnx

from abstract_cls.data import pipeline as pipeline_lib
from abstract_cls.data import sources as sources_lib
from abstract_cls.train import checkpointing, metrics_writer
from abstract_cls.train import evaluate as evaluate_lib
from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import optimizer as optimizer_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train import step as step_lib
from abstract_cls.train.config_checks import validate_config
from abstract_cls.train.errors import ConfigError


def itstime(step: int, every: int, total_steps: int = 0) -> bool:
  """True every `every` steps (never for every <= 0) and at step `total_steps` (if > 0)."""
  return (every > 0 and step % every == 0) or step == total_steps


class Preemption:
  """Whether SIGTERM (a preemption notice) asks the run to save and stop after a step.

  One process: a Python SIGTERM handler sets a flag. Several: JAX's preemption service
  handles SIGTERM itself (a Python handler would replace it) and reports the same step to
  every process through the checkpoint manager.
  """

  def __init__(self):
    self.requested = False
    self._previous = None
    if jax.process_count() == 1:
      try:
        self._previous = signal.signal(signal.SIGTERM, self._handle)
      except ValueError:  # not the main thread (e.g. called from a worker thread)
        self._previous = None

  def _handle(self, signum, frame):
    del signum, frame
    self.requested = True

  def reached(self, manager, step: int) -> bool:
    """Call once per step, on every process, with the step just completed."""
    if jax.process_count() > 1:
      return manager.reached_preemption(step)
    return self.requested

  def close(self):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


@dataclasses.dataclass
class Run:
  """What the loop needs, built once by `start`."""

  config: object
  workdir: str
  mesh: object
  train_input: pipeline_lib.TrainInput
  eval_input: object
  total_steps: int
  schedule: dict
  state: dict
  start_step: int
  manager: object
  writer: metrics_writer.MetricsWriter
  train_step: object
  eval_step: object
  new_accumulators: object
  param_template: object
  preemption: Preemption

  @property
  def steps_per_epoch(self) -> int:
    return self.train_input.steps_per_epoch

  def close(self) -> None:
    self.preemption.close()
    self.manager.wait_until_finished()
    self.manager.close()
    self.writer.close()


def _make_input(make, config, split: str, *args):
  try:
    return make(config.data, split, *args)
  except (ValueError, FileNotFoundError) as e:
    raise ConfigError(f"data {config.data.name!r} split {split!r}: {e}") from e


def _total_steps(config, steps_per_epoch: int) -> int:
  total = int(round(config.train.num_epochs * steps_per_epoch))
  if config.train.max_steps > 0:
    total = min(total, config.train.max_steps) if total else config.train.max_steps
  return total


def start(config, workdir: str) -> Run:
  """Joins the other processes, builds input, state (resumed when the workdir has a
  checkpoint), jitted steps and logs."""
  mesh_lib.maybe_initialize_distributed()
  mesh_lib.enable_compilation_cache(config.train.compilation_cache_dir)
  mesh = mesh_lib.make_mesh(config.train.num_devices)
  train_input = _make_input(
    pipeline_lib.make_train_input, config, "train", mesh, config.seed, config.train.batch_size
  )
  selection = config.train.selection_split
  eval_input = _make_input(
    pipeline_lib.make_eval_input, config, selection, mesh, config.eval.batch_size
  )
  total_steps = _total_steps(config, train_input.steps_per_epoch)
  # The seed travels as an argument too, so runs that differ only in seed share a program.
  schedule = mesh_lib.replicate(
    dict(
      optimizer_lib.schedule_values(config.optimizer, train_input.steps_per_epoch, total_steps),
      seed=np.asarray(config.seed, np.int32),
    ),
    mesh,
  )
  optimizer = optimizer_lib.make_optimizer(config.optimizer)
  graphs, state = state_lib.create_train_state(config, mesh, optimizer)
  manager = checkpointing.make_manager(workdir, config.train.keep_checkpoints)
  try:
    checkpointing.check_resumable(manager, workdir, config, mesh, state)
    restored, start_step = checkpointing.restore_latest(
      manager, workdir, mesh_lib.abstract_like(state)
    )
  except BaseException:
    manager.close()
    raise
  if restored is not None:
    state = restored
    logging.info("Resumed from step %d", start_step)
  if mesh_lib.is_primary():
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w", encoding="utf-8") as f:
      f.write(config.to_json_best_effort(indent=1))
  return Run(
    config=config,
    workdir=workdir,
    mesh=mesh,
    train_input=train_input,
    eval_input=eval_input,
    total_steps=total_steps,
    schedule=schedule,
    state=state,
    start_step=start_step,
    manager=manager,
    writer=metrics_writer.MetricsWriter(
      workdir,
      enabled=mesh_lib.is_primary(),
      total_steps=total_steps,
      initial_step=start_step,
      progress_bar=config.train.progress_bar,
    ),
    train_step=step_lib.make_train_step(
      graphs, train_input, optimizer, config, train_input.class_weights, mesh
    ),
    eval_step=step_lib.make_eval_step(graphs, mesh, config.eval.flip_tta),
    new_accumulators=jax.jit(step_lib.init_accumulators, out_shardings=mesh_lib.replicated(mesh)),
    param_template=jax.eval_shape(
      lambda: nnx.split(state_lib.build_model(config.model, config.seed), nnx.Param, ...)[1]
    ),
    preemption=Preemption(),
  )


def check_finite(acc, last_saved_step: int) -> None:
  bad = int(jax.device_get(acc["nonfinite_step"]))
  if bad >= 0:
    raise FloatingPointError(
      f"loss or gradients became NaN/Inf at step {bad + 1} (the update of that step was "
      f"not applied and nothing after step {last_saved_step} was saved); lower the "
      "learning rate, enable optimizer.clip_norm or check the data"
    )


def layer_norm_names(param_template, leaf_norms) -> list:
  """models.layer_norms over per-leaf norms placed into the Param state (which carries the
  layer names as metadata): the per-layer norm is the root of the sum of squared leaf norms."""
  nnx.replace_by_pure_dict(param_template, jax.device_get(leaf_norms))
  from abstract_cls import models as models_lib  # pylint: disable=g-import-not-at-top

  return [(name, float(norm)) for name, norm in models_lib.layer_norms(param_template)]


def evaluate_selection(run: Run, state: dict, step: int) -> dict:
  """Metrics of `state` on the selection split, written to the logs."""
  params, rest = state_lib.inference_variables(state)
  metrics = evaluate_lib.compute_metrics(run.eval_step, params, rest, run.eval_input)
  split = run.config.train.selection_split
  run.writer.write_eval(step, step / run.steps_per_epoch, split, metrics)
  return metrics


def train_row(acc: dict, step: int, steps_per_epoch: int, images_per_s: float) -> dict:
  """The logged training row from the fetched accumulators."""
  return dict(
    step=step,
    epoch=step / steps_per_epoch,
    loss=float(acc["loss_sum"] / acc["steps"]),
    accuracy=float(acc["correct"] / acc["count"]),
    lr=float(acc["lr"]),
    grad_norm=float(acc["grad_norm"]),
    param_norm=float(acc["param_norm"]),
    update_norm=float(acc["update_norm"]),
    images_per_s=images_per_s,
  )


@dataclasses.dataclass
class Outcome:
  step: int
  last_row: dict
  selection_metrics: dict
  preempted: bool


def train(run: Run) -> Outcome:
  """Steps from run.start_step to run.total_steps (or a preemption); logs, evaluates, saves."""
  config, state, total = run.config, run.state, run.total_steps
  acc = run.new_accumulators()
  eval_every = max(1, int(round(config.train.eval_every_epochs * run.steps_per_epoch)))
  step, last_saved, last_row, metrics = run.start_step, run.start_step, {}, {}
  tick, examples, logged_step, preempted = time.time(), 0, run.start_step, False
  while step < total and not preempted:
    run.train_input.prepare_epoch(step)
    with_norms = itstime(step + 1, config.train.layer_norms_every)
    state, acc, leaf_norms = run.train_step(
      state,
      acc,
      run.train_input.device_data,
      run.train_input.global_host_batch(step),
      run.schedule,
      with_layer_norms=with_norms,
    )
    step += 1
    examples += config.train.batch_size
    if with_norms:
      run.writer.write_layer_norms(step, layer_norm_names(run.param_template, leaf_norms))
    if itstime(step, max(1, config.train.log_every), total):
      check_finite(acc, last_saved)
      now = time.time()
      speed = examples / max(now - tick, 1e-9)
      last_row = train_row(jax.device_get(acc), step, run.steps_per_epoch, speed)
      run.writer.write_train(last_row)
      # Advanced only here, after the device caught up: dispatch runs ahead of it.
      run.writer.advance(step - logged_step)
      acc, tick, examples, logged_step = run.new_accumulators(), now, 0, step
    is_eval = itstime(step, eval_every, total)
    preempted = run.preemption.reached(run.manager, step)
    if is_eval or preempted or itstime(step, config.train.checkpoint_every_steps):
      check_finite(acc, last_saved)
      saved_metrics = None
      if is_eval:
        metrics = evaluate_selection(run, state, step)
        saved_metrics = {k: float(metrics[k]) for k in ("macro_f1", "accuracy")}
      checkpointing.save(
        run.manager, step, state, config, step / run.steps_per_epoch, saved_metrics
      )
      last_saved = step
  if preempted:
    where = f"process {jax.process_index()}: " if jax.process_count() > 1 else ""
    print(f"{where}SIGTERM: saved step {step}; re-run the same command to resume.", file=sys.stderr)
  elif not metrics:  # resumed after the end: report the final state
    metrics = evaluate_selection(run, state, step)
  return Outcome(step, last_row, metrics, preempted)


def final_evaluations(config, workdir: str, mesh, best_step) -> dict:
  """The selected checkpoint (best on the selection split, else the latest) on each of
  eval.final_splits the data set has, reported as --mode=eval does."""
  results = {}
  available = sources_lib.available_splits(config.data)
  checkpoint = "latest" if best_step is None else int(best_step)
  for split in config.eval.final_splits:
    if split not in available:
      if mesh_lib.is_primary():
        print(f"{config.data.name} has no {split!r} split: not reported.", file=sys.stderr)
      continue
    metrics = evaluate_lib.evaluate_checkpoint(
      config, workdir, split, checkpoint=checkpoint, mesh=mesh, print_report=False
    )
    metrics["selected_by"] = "latest" if best_step is None else "best"
    results[split] = metrics
  return results


def train_and_evaluate(config, workdir: str) -> dict:
  """Trains config.model on config.data, selecting checkpoints on train.selection_split.

  Returns dict(step, epoch, train=<last logged train row>, eval={selection split: metrics of
  the last evaluation}, final={split: metrics of the selected checkpoint} (empty when
  preempted), preempted=bool, start_step=the step it resumed from, 0 for a fresh run).
  """
  validate_config(config)
  workdir = os.path.abspath(workdir)
  run = start(config, workdir)
  run.writer.message(
    f"Training {config.model.name} on {config.data.name} "
    f"({run.train_input.num_examples} images, {run.steps_per_epoch} steps/epoch, "
    f"{run.total_steps} steps, {run.mesh.devices.size} devices"
    f"{f', resumed at step {run.start_step}' if run.start_step else ''}) in {workdir}"
  )
  try:
    outcome = train(run)
    run.manager.wait_until_finished()
    best_step = run.manager.best_step()
  finally:
    run.close()
  final = {}
  if not outcome.preempted:
    final = final_evaluations(config, workdir, run.mesh, best_step)
  return dict(
    step=outcome.step,
    epoch=outcome.step / run.steps_per_epoch,
    train=outcome.last_row,
    eval={config.train.selection_split: outcome.selection_metrics},
    final=final,
    preempted=outcome.preempted,
    start_step=run.start_step,
  )
