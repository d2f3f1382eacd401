"""Orbax checkpoints: asynchronous saves, the last N plus the best by validation macro-F1.

Layout: WORKDIR/checkpoints/<step>/{model,train,config,meta}
  model : {'params', 'rest', 'average'}  (what inference needs)
  train : {'step', 'opt_state'}      (what resuming adds)
  config: the run's ConfigDict as JSON
  meta  : {'step', 'epoch', 'data_iterator': {'step'}} — the input pipeline's batch at step N
          depends only on (seed, N), so the step is the whole iterator state.
A checkpoint that fails to restore (half-written, truncated, deleted files) is moved to
WORKDIR/corrupt_checkpoints/ with a warning and the previous one is used. Checkpoints written
under another model or optimiser are not corrupt: resuming from them is refused with an error
naming the differing config fields, and they stay where they are. With several processes,
process 0 decides what is unreadable and every process acts on its decision.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from flax import nnx
from jax.experimental import multihost_utils
from orbax.checkpoint import checkpoint_managers as policies

from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import optimizer as optimizer_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train.config_checks import flat_fields
from abstract_cls.train.errors import CheckpointNotFoundError, ConfigError

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
  """Every process calls this for the same steps (the decision is process 0's)."""
  if mesh_lib.is_primary():
    message = (
      f"WARNING: checkpoint step {step} in {checkpoint_dir(workdir)} is unreadable "
      f"({reason[:300]}); moving it to corrupt_checkpoints/ and using the previous one."
    )
    logging.warning(message)
    print(message, flush=True)
    target = os.path.join(
      os.path.abspath(workdir), "corrupt_checkpoints", f"{step}-{int(time.time())}"
    )
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.move(os.path.join(checkpoint_dir(workdir), str(step)), target)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f"move_aside_{step}")


def _broadcast_steps(steps: list[int]) -> list[int]:
  """Process 0's list of steps, on every process."""
  if jax.process_count() == 1:
    return steps
  count = int(multihost_utils.broadcast_one_to_all(np.int32(len(steps))))
  padded = np.zeros(count, np.int64)
  padded[: min(count, len(steps))] = steps[:count]
  return [int(s) for s in multihost_utils.broadcast_one_to_all(padded)]


def _set_aside_unreadable_steps(workdir: str) -> None:
  """Process 0 scans the step folders; every process then takes part in the same moves."""
  reasons = {}
  directory = checkpoint_dir(workdir)
  if mesh_lib.is_primary() and os.path.isdir(directory):
    for name in sorted(os.listdir(directory)):
      if name.isdigit():
        reason = _unreadable_json(os.path.join(directory, name))
        if reason:
          reasons[int(name)] = reason
  for step in _broadcast_steps(sorted(reasons)):
    _move_aside(workdir, step, reasons.get(step, ""))


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


def _all_processes_agree(ok: bool) -> bool:
  """True when `ok` holds on every process (a restore that failed anywhere failed)."""
  if jax.process_count() == 1:
    return ok
  return bool(np.all(multihost_utils.process_allgather(np.asarray(ok))))


def saved_config(manager: ocp.CheckpointManager, step: int) -> ml_collections.ConfigDict:
  restored = manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
  return ml_collections.ConfigDict(restored["config"])


def _state_layout(tree) -> tuple:
  """Structure, shapes and dtypes of a (possibly abstract) state, without shardings."""
  leaves, treedef = jax.tree_util.tree_flatten(tree)
  return treedef, [(tuple(x.shape), str(x.dtype)) for x in leaves]


def check_resumable(
  manager: ocp.CheckpointManager, workdir: str, config, mesh, abstract_state
) -> None:
  """Raises ConfigError when the newest checkpoint holds another model or optimiser state
  than `config` builds, naming the config fields that differ; nothing is moved."""
  steps = manager.all_steps()
  if not steps:
    return
  try:
    saved = saved_config(manager, max(steps))
    optimizer = optimizer_lib.make_optimizer(saved.optimizer)
    _, saved_state = state_lib.abstract_train_state(saved, mesh, optimizer)
  except Exception:  # pylint: disable=broad-except  # unreadable: restore_latest sets it aside
    return
  if _state_layout(saved_state) == _state_layout(abstract_state):
    return
  old, new = flat_fields(saved.to_dict()), flat_fields(config.to_dict())
  fields = [
    f"{key} {old.get(key)!r} -> {new.get(key)!r}"
    for key in sorted(set(old) | set(new))
    if key.startswith(("model.", "optimizer.")) and old.get(key) != new.get(key)
  ]
  raise ConfigError(
    f"{checkpoint_dir(workdir)} holds checkpoints of another model or optimiser "
    f"({', '.join(fields) or 'same config fields, other array shapes'}); use another "
    "--workdir, or the settings it was trained with, to resume (its checkpoints were left "
    "in place)"
  )


def restore_latest(manager: ocp.CheckpointManager, workdir: str, abstract_state: dict):
  """-> (state, step) from the newest readable checkpoint, or (None, 0) when there is none."""
  abstract_model = _abstract_key_data({k: abstract_state[k] for k in ("params", "rest", "average")})
  abstract_train = {"step": abstract_state["step"], "opt_state": abstract_state["opt_state"]}
  for step in sorted(manager.all_steps(), reverse=True):
    restored, error = None, None
    try:
      restored = manager.restore(
        step,
        args=ocp.args.Composite(
          model=ocp.args.StandardRestore(abstract_model),
          train=ocp.args.StandardRestore(abstract_train),
        ),
      )
    except Exception as e:  # pylint: disable=broad-except  # any failure = unusable checkpoint
      error = e
    if not _all_processes_agree(error is None):
      _move_aside(workdir, step, f"{type(error).__name__}: {error}" if error else "")
      manager.reload()
      continue
    model = _data_to_keys(
      restored["model"], {k: abstract_state[k] for k in ("params", "rest", "average")}
    )
    state = dict(model, step=restored["train"]["step"], opt_state=restored["train"]["opt_state"])
    return state, step
  return None, 0


def _resolve_step(manager: ocp.CheckpointManager, workdir: str, step) -> list[int]:
  """Candidate steps, most wanted first: a named step, or best / latest then older ones.

  'best' is the highest validation macro-F1; without any evaluated checkpoint (a run stopped
  before its first evaluation) it is the latest."""
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
    return steps if best is None else [best] + [s for s in steps if s != best]
  if step == "latest":
    return steps
  raise ValueError(f"checkpoint step must be 'best', 'latest' or a step number, got {step!r}")


def _restore_model(manager, step: int, sharding):
  """-> (model in eval mode, config) of `step`, arrays placed with `sharding`."""
  config = saved_config(manager, step)
  graphs_out = []

  def init():
    graphs, params, rest = state_lib.split_model(state_lib.build_model(config.model, config.seed))
    graphs_out.append(graphs)
    average = state_lib.average_template(config.optimizer, params, rest)
    return dict(params=params, rest=rest, average=average)

  abstract = mesh_lib.abstract_like(jax.eval_shape(init), sharding)
  restored = manager.restore(
    step, args=ocp.args.Composite(model=ocp.args.StandardRestore(_abstract_key_data(abstract)))
  )["model"]
  restored = _data_to_keys(restored, abstract)
  model = nnx.merge(graphs_out[0].eval, *state_lib.inference_variables(restored))
  return model, config


def restore_for_inference(workdir: str, step="best", mesh=None):
  """-> (model in eval mode, config, step) from WORKDIR/checkpoints.

  step: 'best' (highest validation macro-F1; the latest when no evaluation was recorded),
  'latest' or a step number. EMA weights are used when the run kept them. Arrays are
  replicated over `mesh` (every process restores its own devices' copies), or land on the
  first local device without one.
  """
  if not os.path.isdir(checkpoint_dir(workdir)):
    raise CheckpointNotFoundError(
      f"no checkpoint in {checkpoint_dir(workdir)} (directory missing): train first "
      f"(python -m abstract_cls.main --mode=train --workdir={workdir} --config=...)"
    )
  if mesh is None:
    sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  else:
    sharding = mesh_lib.replicated(mesh)
  manager = make_manager(workdir, async_save=False, create=False)
  last_error = None
  try:
    for candidate in _resolve_step(manager, workdir, step):
      try:
        model, config = _restore_model(manager, candidate, sharding)
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
      return model, config, candidate
  finally:
    manager.close()
  raise CheckpointNotFoundError(
    f"no readable checkpoint in {checkpoint_dir(workdir)} (last error: {last_error})"
  )
