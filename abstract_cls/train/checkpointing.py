"""Orbax checkpoints: asynchronous saves, the last N plus the best by validation macro-F1.

Layout: WORKDIR/checkpoints/<step>/{model,train,config,meta}
  model : {'params', 'rest', 'average'}  (what inference needs)
  train : {'step', 'opt_state'}      (what resuming adds)
  config: the run's ConfigDict as JSON
  meta  : {'step', 'epoch', 'data_iterator': {'step'}} — the input pipeline's batch at step N
          depends only on (seed, N), so the step is the whole iterator state.
A checkpoint that fails to restore (half-written, truncated, deleted files) is moved to
WORKDIR/corrupt_checkpoints/ with a warning and the previous one is used.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import logging
from flax import nnx
from jax.experimental import multihost_utils
from orbax.checkpoint import checkpoint_managers as policies

from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train.errors import CheckpointNotFoundError

_BEST_METRIC = "macro_f1"


def checkpoint_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), "checkpoints")


_plain_array_saving = []


def _use_plain_array_saving() -> None:
  """On CPU, Orbax's replica-parallel saving slices every replicated array per device with
  an eager op compiled per shape (seconds per save for nothing); save one replica instead."""
  if jax.default_backend() == "cpu" and not _plain_array_saving:
    ocp.type_handlers.register_type_handler(
      jax.Array, ocp.type_handlers.ArrayHandler(use_replica_parallel=False), override=True
    )
    _plain_array_saving.append(True)


def _unreadable_json(step_dir: str) -> str | None:
  """The first JSON file of a step (metrics, config, meta, metadata) that does not parse.

  Orbax reads these when the manager starts, so a truncated one would stop every run."""
  for root, _, files in os.walk(step_dir):
    for name in files:
      path = os.path.join(root, name)
      if name in ("metrics", "metadata", "_CHECKPOINT_METADATA", "_METADATA") or name.endswith(
        ".json"
      ):
        try:
          with open(path, encoding="utf-8") as f:
            json.load(f)
        except (OSError, ValueError) as e:
          return f"{os.path.relpath(path, step_dir)}: {type(e).__name__}: {e}"
  return None


def _move_aside(workdir: str, step: int, reason: str) -> None:
  message = (
    f"WARNING: checkpoint step {step} in {checkpoint_dir(workdir)} is unreadable "
    f"({reason[:300]}); moving it to corrupt_checkpoints/ and using the previous one."
  )
  logging.warning(message)
  print(message, flush=True)
  if mesh_lib.is_primary():
    target = os.path.join(
      os.path.abspath(workdir), "corrupt_checkpoints", f"{step}-{int(time.time())}"
    )
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.move(os.path.join(checkpoint_dir(workdir), str(step)), target)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f"move_aside_{step}")


def _set_aside_unreadable_steps(workdir: str) -> None:
  directory = checkpoint_dir(workdir)
  if not os.path.isdir(directory):
    return
  for name in sorted(os.listdir(directory)):
    if name.isdigit():
      reason = _unreadable_json(os.path.join(directory, name))
      if reason:
        _move_aside(workdir, int(name), reason)


def make_manager(
  workdir: str, keep_last: int = 3, *, async_save: bool = True, create: bool = True
) -> ocp.CheckpointManager:
  """Keeps the last `keep_last` checkpoints and, in addition, the best by validation macro-F1.

  Steps whose JSON parts do not parse are moved to corrupt_checkpoints/ first (with a
  warning); array payloads are checked when restored (restore_latest)."""
  _use_plain_array_saving()
  _set_aside_unreadable_steps(workdir)
  policy = policies.AnyPreservationPolicy(
    [
      policies.LatestN(n=keep_last),
      policies.BestN(
        get_metric_fn=lambda m: m[_BEST_METRIC],
        reverse=False,
        n=1,
        keep_checkpoints_without_metrics=False,
      ),
    ]
  )
  options = ocp.CheckpointManagerOptions(
    best_fn=lambda m: m[_BEST_METRIC],
    best_mode="max",
    preservation_policy=policy,
    enable_async_checkpointing=async_save,
    create=create,
    # A save cut short (SIGKILL, power loss) leaves a *.orbax-checkpoint-tmp-* folder that
    # Orbax never lists as a step; remove such leftovers when a run starts.
    cleanup_tmp_directories=create,
  )
  return ocp.CheckpointManager(
    checkpoint_dir(workdir), options=options, item_names=("model", "train", "config", "meta")
  )


def _is_key(x) -> bool:
  return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _keys_to_data(tree):
  """PRNG key arrays (dropout state) -> their uint32 data, which Orbax can store."""
  return jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _key_impl(template):
  # Restores use abstract templates (ShapeDtypeStruct), which jax.random.key_impl rejects;
  # their key dtype carries the implementation.
  if isinstance(template, jax.Array):
    return jax.random.key_impl(template)
  return template.dtype._impl  # pylint: disable=protected-access


def _data_to_keys(tree, template):
  return jax.tree_util.tree_map(
    lambda x, t: jax.random.wrap_key_data(x, impl=_key_impl(t)) if _is_key(t) else x, tree, template
  )


def _abstract_key_data(template):
  """Abstract template with key leaves replaced by their data's shape, keeping shardings."""

  def convert(x):
    if not _is_key(x):
      return x
    shape = jax.eval_shape(jax.random.key_data, x).shape
    return jax.ShapeDtypeStruct(shape, jax.numpy.uint32, sharding=x.sharding)

  return jax.tree_util.tree_map(convert, template)


def save(
  manager: ocp.CheckpointManager,
  step: int,
  state: dict,
  config,
  epoch: float,
  metrics: dict | None = None,
) -> None:
  """Starts an asynchronous save (device->host copy happens before this returns)."""
  model_item = _keys_to_data({k: state[k] for k in ("params", "rest", "average")})
  train_item = {"step": state["step"], "opt_state": state["opt_state"]}
  meta = {"step": step, "epoch": epoch, "data_iterator": {"step": step}}
  manager.save(
    step,
    args=ocp.args.Composite(
      model=ocp.args.StandardSave(model_item),
      train=ocp.args.StandardSave(train_item),
      config=ocp.args.JsonSave(config.to_dict()),
      meta=ocp.args.JsonSave(meta),
    ),
    metrics=metrics,
    force=True,
  )


def _quarantine(manager: ocp.CheckpointManager, workdir: str, step: int, error: Exception):
  _move_aside(workdir, step, f"{type(error).__name__}: {error}")
  manager.reload()


def restore_latest(manager: ocp.CheckpointManager, workdir: str, abstract_state: dict):
  """-> (state, step) from the newest readable checkpoint, or (None, 0) when there is none."""
  abstract_model = _abstract_key_data({k: abstract_state[k] for k in ("params", "rest", "average")})
  abstract_train = {"step": abstract_state["step"], "opt_state": abstract_state["opt_state"]}
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      restored = manager.restore(
        step,
        args=ocp.args.Composite(
          model=ocp.args.StandardRestore(abstract_model),
          train=ocp.args.StandardRestore(abstract_train),
        ),
      )
    except Exception as e:  # pylint: disable=broad-except  # any failure = unusable checkpoint
      _quarantine(manager, workdir, step, e)
      continue
    model = _data_to_keys(
      restored["model"], {k: abstract_state[k] for k in ("params", "rest", "average")}
    )
    state = dict(model, step=restored["train"]["step"], opt_state=restored["train"]["opt_state"])
    return state, step
  return None, 0


def _resolve_step(manager: ocp.CheckpointManager, workdir: str, step) -> list[int]:
  """Candidate steps, most wanted first: a named step, or best / latest then older ones."""
  steps = sorted(manager.all_steps(), reverse=True)
  if not steps:
    raise CheckpointNotFoundError(
      f"no checkpoint in {checkpoint_dir(workdir)}: train first "
      f"(python -m abstract_cls.main --mode=train --workdir={workdir} --config=...)"
    )
  if isinstance(step, int) or (isinstance(step, str) and step.isdigit()):
    if int(step) not in steps:
      raise CheckpointNotFoundError(
        f"no checkpoint for step {step} in {checkpoint_dir(workdir)}; present: {steps}"
      )
    return [int(step)]
  if step == "best":
    best = manager.best_step()
    return [best] + [s for s in steps if s != best]
  if step == "latest":
    return steps
  raise ValueError(f"checkpoint step must be 'best', 'latest' or a step number, got {step!r}")


def restore_for_inference(workdir: str, step="best"):
  """-> (model in eval mode, config, step) from WORKDIR/checkpoints.

  step: 'best' (highest validation macro-F1; the latest when no evaluation was recorded),
  'latest' or a step number. EMA weights are used when the run kept them. Arrays land on
  the first local device.
  """
  if not os.path.isdir(checkpoint_dir(workdir)):
    raise CheckpointNotFoundError(
      f"no checkpoint in {checkpoint_dir(workdir)} (directory missing): train first "
      f"(python -m abstract_cls.main --mode=train --workdir={workdir} --config=...)"
    )
  manager = make_manager(workdir, async_save=False, create=False)
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  last_error = None
  for candidate in _resolve_step(manager, workdir, step):
    try:
      config = ml_collections.ConfigDict(
        manager.restore(candidate, args=ocp.args.Composite(config=ocp.args.JsonRestore()))["config"]
      )
      graphs_out = []

      def init(config=config, graphs_out=graphs_out):
        graphs, params, rest = state_lib.split_model(
          state_lib.build_model(config.model, config.seed)
        )
        graphs_out.append(graphs)
        average = state_lib.average_template(config.optimizer, params, rest)
        return dict(params=params, rest=rest, average=average)

      abstract = jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), jax.eval_shape(init)
      )
      restored = manager.restore(
        candidate,
        args=ocp.args.Composite(model=ocp.args.StandardRestore(_abstract_key_data(abstract))),
      )["model"]
    except CheckpointNotFoundError:
      raise
    except Exception as e:  # pylint: disable=broad-except  # fall back to an older checkpoint
      if isinstance(step, int) or str(step).isdigit():
        raise
      last_error = e
      message = (
        f"WARNING: checkpoint step {candidate} in {checkpoint_dir(workdir)} is "
        f"unreadable ({type(e).__name__}); trying the previous one."
      )
      logging.warning(message)
      print(message, flush=True)
      continue
    restored = _data_to_keys(restored, abstract)
    model = _merge_for_inference(graphs_out[0], restored)
    manager.close()
    return model, config, candidate
  manager.close()
  raise CheckpointNotFoundError(
    f"no readable checkpoint in {checkpoint_dir(workdir)} (last error: {last_error})"
  )


def _merge_for_inference(graphs, restored):
  return nnx.merge(graphs.eval, *state_lib.inference_variables(restored))
