"""Where data lives on a mesh with one or more processes.

A batch-sharded array's rows are split over the devices along the mesh axis 'data'; each
process reads and decodes only the rows its own devices hold (`process_rows`) and the global
array is assembled from those pieces (`global_batch`), so input work and host memory do not
grow with the number of processes. A split kept in device memory can be row-sharded the same
way; `gather_rows` then picks a batch out of it without ever replicating it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


def process_rows(sharding: NamedSharding, num_rows: int) -> slice:
  """The rows of a [num_rows, ...] array with `sharding` that this process's devices hold."""
  bounds = sorted(
    (index[0].start or 0, num_rows if index[0].stop is None else index[0].stop)
    for index in sharding.addressable_devices_indices_map((num_rows,)).values()
  )
  start, stop = bounds[0][0], bounds[-1][1]
  covered = sum(b - a for a, b in {(a, b) for a, b in bounds})
  if covered != stop - start:
    raise ValueError(
      f"this process's devices hold rows {bounds} of {num_rows}: not one contiguous block "
      "(the mesh must list each process's devices together)"
    )
  return slice(start, stop)


def global_batch(sharding: NamedSharding, local: dict, num_rows: int) -> dict:
  """This process's rows (numpy, process_rows(sharding, num_rows)) -> global jax arrays."""
  return {
    k: jax.make_array_from_process_local_data(sharding, v, (num_rows,) + v.shape[1:])
    for k, v in local.items()
  }


def replicate(tree, mesh: Mesh):
  """Host values (numpy or single-device arrays, the same on every process) -> arrays
  replicated over the mesh; works across processes (each builds its own shards)."""
  sharding = NamedSharding(mesh, P())

  def put(x):
    if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      return jax.random.wrap_key_data(put(jax.random.key_data(x)), impl=jax.random.key_impl(x))
    host = np.asarray(jax.device_get(x))
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

  return jax.tree_util.tree_map(put, tree)


def padded_rows(num_rows: int, mesh: Mesh) -> int:
  """num_rows rounded up to a multiple of the devices on 'data' (row-sharded storage)."""
  shards = mesh.shape[DATA_AXIS]
  return -(-num_rows // shards) * shards


def gather_rows(table: jax.Array, indices: jax.Array, mesh: Mesh) -> jax.Array:
  """table[indices] for a table row-sharded over 'data' and replicated indices; the result
  is batch-sharded. Each device looks up the rows it stores (zeros elsewhere) and sends each
  device the part of the batch it holds (all-to-all), where one of the copies of each row is
  the row and the others zeros: no device ever holds the whole table, and no reduction
  over the data type is needed."""
  shards = mesh.shape[DATA_AXIS]

  def local(shard, indices):
    rows = shard.shape[0]
    offset = indices - jax.lax.axis_index(DATA_AXIS) * rows
    inside = (offset >= 0) & (offset < rows)
    picked = shard[jnp.clip(offset, 0, rows - 1)]
    picked = jnp.where(inside.reshape((-1,) + (1,) * (picked.ndim - 1)), picked, 0)
    parts = picked.reshape((shards, -1) + picked.shape[1:])
    return jnp.max(jax.lax.all_to_all(parts, DATA_AXIS, 0, 0), axis=0)

  return jax.shard_map(local, mesh=mesh, in_specs=(P(DATA_AXIS), P()), out_specs=P(DATA_AXIS))(
    table, indices
  )


def eval_positions(num_examples: int, batch: int, rows: slice) -> np.ndarray:
  """Positions of a split this process evaluates: rows `rows` of each global batch."""
  starts = np.arange(0, num_examples, batch)
  positions = [np.arange(s + rows.start, min(s + rows.stop, num_examples)) for s in starts]
  return np.concatenate(positions) if positions else np.zeros(0, np.int64)
