"""Devices, the 1-D data-parallel mesh and multi-host start-up.

Data parallelism only: the batch axis is sharded over the mesh axis 'data' and every
parameter is replicated. Several processes (hosts, or one process per GPU) join through
jax.distributed.initialize() when the environment says there are several of them.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from absl import logging
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from abstract_cls.data import placement

DATA_AXIS = placement.DATA_AXIS
# Host values, the same on every process -> arrays replicated over the mesh.
replicate = placement.replicate


def _wanted_process_count() -> int:
  if os.environ.get("ABSTRACT_CLS_DISTRIBUTED") == "1":
    return 2  # at least two: JAX's cluster auto-detection (TPU pods, SLURM, ...) decides
  if "JAX_NUM_PROCESSES" in os.environ:
    return int(os.environ["JAX_NUM_PROCESSES"])
  if "SLURM_NTASKS" in os.environ and "SLURM_STEP_ID" in os.environ:
    return int(os.environ["SLURM_NTASKS"])  # inside an srun step
  return 1


def maybe_initialize_distributed() -> None:
  """Joins the other processes when JAX_NUM_PROCESSES (or an srun step) says there are any.

  Generic launch: JAX_COORDINATOR_ADDRESS=host:port JAX_NUM_PROCESSES=N JAX_PROCESS_ID=i.
  Under SLURM (srun) JAX discovers all three by itself; on Cloud TPU pod slices (or any
  cluster JAX auto-detects) set ABSTRACT_CLS_DISTRIBUTED=1.
  Must run before anything touches a device.
  """
  if _wanted_process_count() <= 1 or jax.distributed.is_initialized():
    return
  kwargs = {}
  if "JAX_COORDINATOR_ADDRESS" in os.environ:
    kwargs = dict(
      coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
      num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
      process_id=int(os.environ["JAX_PROCESS_ID"]),
    )
  jax.distributed.initialize(**kwargs)
  logging.info(
    "Joined %d processes as process %d; %d global devices.",
    jax.process_count(),
    jax.process_index(),
    jax.device_count(),
  )


def make_mesh(num_devices: int = 0) -> Mesh:
  """A 1-D mesh over all global devices, or the first `num_devices` (single process only)."""
  devices = jax.devices()
  if num_devices > 0:
    if num_devices > len(devices):
      raise ValueError(f"train.num_devices={num_devices} but only {len(devices)} devices exist")
    if jax.process_count() > 1 and num_devices != len(devices):
      raise ValueError("train.num_devices must be 0 (all devices) with several processes")
    devices = devices[:num_devices]
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def abstract_like(tree, sharding=None):
  """ShapeDtypeStructs of `tree`'s arrays (a restore target), each with `sharding`, or with
  the leaf's own sharding when None."""
  return jax.tree_util.tree_map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding or x.sharding), tree
  )


def is_primary() -> bool:
  """Process 0 writes logs, reports and the files other processes only read."""
  return jax.process_index() == 0


def enable_compilation_cache(cache_dir: str) -> None:
  """Persistent XLA cache, so a restarted (or repeated) run does not compile again."""
  cache_dir = cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "abstract_cls", "jax")
  os.makedirs(cache_dir, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", cache_dir)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
