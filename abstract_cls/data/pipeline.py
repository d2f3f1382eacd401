"""One input interface for training and evaluation, batch-sharded over 'data'.

In-memory mode keeps the split as one uint8 array on the devices; the trainer's jitted step
calls `TrainInput.batch`, which picks the step's examples (sampling.device_batch_indices)
and augments them there, so a step costs the host nothing. Streaming mode reads with grain
worker processes (`TrainInput.host_batch(step)`) and augments with the same device code.
Either way the batch at step N depends only on (seed, N); the checkpointed state is the step.

With several processes nothing is read or decoded twice (see placement): in-memory mode
row-shards the split over the devices, each process decoding only the rows its devices
store; streaming and evaluation read only the rows of each batch a process's devices hold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from abstract_cls import taxonomy
from abstract_cls.data import augment, placement, sampling, sources, streaming
from abstract_cls.data.eval_input import EvalInput, make_eval_input
from abstract_cls.data.split_arrays import (
  DATA_AXIS,
  OFFICIAL_CROP,
  OFFICIAL_RESIZE,
  SplitArrays,
  check_batch,
  check_images,
  load_arrays,
  resolve_mode,
  split_metadata,
)

__all__ = [
  "OFFICIAL_CROP",
  "OFFICIAL_RESIZE",
  "BatchSpec",
  "EvalInput",
  "SplitArrays",
  "TrainInput",
  "build_batch",
  "load_arrays",
  "make_eval_input",
  "make_train_input",
]


@dataclasses.dataclass(frozen=True)
class BatchSpec:
  """Everything static about building a training batch (hashable: a jit cache key)."""

  sampling: sampling.SamplingSpec
  augment: augment.AugmentOptions
  image_size: int
  batch_sharding: NamedSharding
  images_row_sharded: bool = False  # in-memory images split over the devices, not replicated


def build_batch(
  spec: BatchSpec, device_data: dict, host_batch: dict, step: jax.Array, key: jax.Array
) -> dict[str, jax.Array]:
  """The training batch of `step` (pure; TrainInput.batch binds `spec`)."""
  shard = lambda x: jax.lax.with_sharding_constraint(x, spec.batch_sharding)
  if device_data:
    idx = sampling.device_batch_indices(spec.sampling, device_data, step)
    if spec.images_row_sharded:
      images = placement.gather_rows(device_data["images"], idx, spec.batch_sharding.mesh)
    else:  # each device gathers its own rows from its full copy
      idx = shard(idx)
      images = device_data["images"][idx]
    labels, domains = device_data["labels"][idx], device_data["domains"][idx]
  else:
    images, labels, domains = host_batch["image"], host_batch["label"], host_batch["domain"]
  images = shard(jnp.asarray(images))
  x, probs = augment.augment_batch(
    key, images, labels, spec.augment, taxonomy.NUM_CLASSES, spec.image_size
  )
  return dict(
    image=shard(x),
    label=shard(jnp.asarray(labels, jnp.int32)),
    label_probs=shard(probs),
    domain=shard(jnp.asarray(domains, jnp.int32)),
  )


class TrainInput:
  """Training batches by step number; see the module docstring.

  In-memory: `device_data` (the split on the devices, with the sampling plan) and `batch`,
  called inside the jitted step. Streaming: `host_batch(step)` (this process's rows, numpy)
  and `global_host_batch(step)` (the batch as arrays sharded over the mesh).
  """

  def __init__(
    self,
    data_config,
    mesh: Mesh,
    seed: int,
    global_batch_size: int,
    mode: str,
    labels: np.ndarray,
    *,
    images: np.ndarray | None = None,
    domains: np.ndarray | None = None,
    images_row_sharded: bool = False,
    source: Sequence | None = None,
  ):
    self.mode = mode
    self.mesh = mesh
    self.seed = seed
    self.image_size = data_config.image_size
    self.global_batch_size = global_batch_size
    self.plan = sampling.make_plan(
      labels, data_config.balance, data_config.undersample_cap, seed, global_batch_size
    )
    self.num_examples = len(labels)
    self.steps_per_epoch = self.plan.steps_per_epoch
    self.class_counts = sampling.class_counts(labels)
    self.class_weights = sampling.class_weights(
      self.class_counts, data_config.class_weighting, data_config.effective_number_beta
    )
    self.batch_sharding = NamedSharding(mesh, P(DATA_AXIS))
    self.rows = placement.process_rows(self.batch_sharding, global_batch_size)
    self.spec = BatchSpec(
      self.plan.spec,
      augment.AugmentOptions.from_config(data_config),
      self.image_size,
      self.batch_sharding,
      images_row_sharded,
    )
    self._stream = None
    self.device_data = {}
    if mode == "in_memory":
      small = dict(domains=np.asarray(domains, np.int32), **self.plan.device_arrays())
      self.device_data = dict(placement.replicate(small, mesh), images=self._images(images))
      self._epoch_order = jax.jit(
        lambda arrays, epoch: (sampling.epoch_order(self.plan.spec, arrays, epoch), epoch),
        out_shardings=NamedSharding(mesh, P()),
      )
      self._order_epoch = None
      self.prepare_epoch(0)
    else:
      self._stream = streaming.TrainStream(
        source,
        self.plan,
        self.image_size,
        data_config.num_workers,
        data_config.prefetch_batches,
        self.rows,
      )

  def _images(self, images: np.ndarray) -> jax.Array:
    """Replicated (any device gathers any example), or row-sharded: `images` are then this
    process's rows of the padded table."""
    if not self.spec.images_row_sharded:
      return placement.replicate(images, self.mesh)
    sharding = NamedSharding(self.mesh, P(DATA_AXIS))
    rows = placement.padded_rows(self.num_examples, self.mesh)
    return placement.global_batch(sharding, {"images": images}, rows)["images"]

  def prepare_epoch(self, step: int) -> None:
    """In-memory mode: stores the visiting order of `step`'s epoch in device_data, so the
    steps of that epoch slice it instead of each sorting the pool again (call before each
    step and pass the new device_data; batches are the same either way)."""
    epoch = int(step) // self.steps_per_epoch
    if not self.device_data or epoch == self._order_epoch:
      return
    order, order_epoch = self._epoch_order(self.device_data, np.int32(epoch))
    self.device_data = dict(self.device_data, epoch_order=order, order_epoch=order_epoch)
    self._order_epoch = epoch

  def host_batch(self, step: int) -> dict[str, np.ndarray]:
    """Streaming: this process's rows (self.rows) of the uint8 batch of `step`; in-memory: {}."""
    if self._stream is None:
      return {}
    return self._stream.host_batch(step)

  def global_host_batch(self, step: int) -> dict[str, jax.Array]:
    """Streaming: the batch of `step` sharded over the mesh, built from every process's
    rows; in-memory: {}."""
    local = self.host_batch(step)
    if not local:
      return {}
    return placement.global_batch(self.batch_sharding, local, self.global_batch_size)

  def close(self) -> None:
    """Stops streaming workers (also done at exit); in-memory: nothing to do."""
    if self._stream is not None:
      self._stream.close()

  def batch(
    self, device_data: dict, host_batch: dict, step: jax.Array, key: jax.Array
  ) -> dict[str, jax.Array]:
    """The training batch of `step`; pure, call it inside the jitted train step.

    `key` drives augmentation only (pass one derived from (seed, step), e.g.
    jax.random.fold_in(key, step), to keep a resumed run identical).
    """
    return build_batch(self.spec, device_data, host_batch, step, key)


def _local_table_rows(data_config, split, mesh, labels, source, arrays) -> np.ndarray:
  """This process's rows of the row-sharded image table, zero rows as padding."""
  size = data_config.image_size
  table = NamedSharding(mesh, P(DATA_AXIS))
  rows = placement.process_rows(table, placement.padded_rows(len(labels), mesh))
  wanted = np.arange(rows.start, min(rows.stop, len(labels)))
  if arrays is not None:
    local = arrays.images[wanted]
  else:
    part = sources.IndexedSource(source, wanted)
    local = load_arrays(data_config, split, source=part, cache=False).images
  images = np.zeros((rows.stop - rows.start, size, size, 3), np.uint8)
  images[: len(wanted)] = local
  return images


def make_train_input(
  data_config,
  split: str,
  mesh: Mesh,
  seed: int,
  global_batch_size: int,
  *,
  source: Sequence | None = None,
  arrays: SplitArrays | None = None,
  row_sharded: bool | None = None,
) -> TrainInput:
  """Training input of `split`. `arrays` (already decoded) or `source` replace reading the
  TFDS builder. row_sharded: in-memory images split over the devices instead of replicated
  (default: with several processes, each then decoding only its rows)."""
  check_batch(mesh, global_batch_size)
  size = data_config.image_size
  if row_sharded is None:
    row_sharded = jax.process_count() > 1
  from_builder = source is None and arrays is None
  if arrays is None and source is None:
    source = sources.open_source(data_config, split)
  mode = "in_memory" if arrays is not None else resolve_mode(data_config, len(source), size)
  if mode == "streaming":
    labels, _, _ = split_metadata(source)
    return TrainInput(data_config, mesh, seed, global_batch_size, mode, labels, source=source)
  if arrays is None and not row_sharded:
    arrays = load_arrays(data_config, split, source=source, cache=from_builder)
  if arrays is not None:
    check_images(arrays, size)
    labels, domains = arrays.labels, arrays.domains
  else:
    labels, domains, _ = split_metadata(source)
  if row_sharded:
    images = _local_table_rows(data_config, split, mesh, labels, source, arrays)
  else:
    images = arrays.images
  return TrainInput(
    data_config,
    mesh,
    seed,
    global_batch_size,
    mode,
    labels,
    images=images,
    domains=domains,
    images_row_sharded=row_sharded,
  )
