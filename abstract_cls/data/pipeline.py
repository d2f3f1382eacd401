"""Contract 3: one input interface for training and evaluation, batch-sharded over 'data'.

In-memory mode keeps the split as one uint8 array on the devices; the trainer's jitted step
calls `TrainInput.batch`, which picks the step's examples (sampling.device_batch_indices)
and augments them there, so a step costs the host nothing. Streaming mode reads with grain
worker processes (`TrainInput.host_batch(step)`) and augments with the same device code.
Either way the batch at step N depends only on (seed, N); the checkpointed state is the step.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from abstract_cls import taxonomy
from abstract_cls.data import array_cache, augment, sampling, sources, streaming

DATA_AXIS = "data"
OFFICIAL_RESIZE = 256
OFFICIAL_CROP = 224


@dataclasses.dataclass
class SplitArrays:
  images: np.ndarray  # uint8 [N, S, S, 3]
  labels: np.ndarray  # int32 [N]
  domains: np.ndarray  # int32 [N]
  file_names: np.ndarray  # str [N]
  l3_objects: np.ndarray  # str [N] ('' if unknown)

  def __len__(self) -> int:
    return len(self.labels)


def _decode_all(source: Sequence, size: int, crop: int | None) -> SplitArrays:
  out = size if crop is None else crop
  images = np.empty((len(source), out, out, 3), np.uint8)
  meta = [None] * len(source)

  def work(i: int) -> None:
    record = source[i]
    meta[i] = sources.record_metadata(record)
    image = sources.decode_resized(record["image"], size, meta[i][2])
    if crop is not None:
      off = (size - crop) // 2
      image = image[off : off + crop, off : off + crop]
    images[i] = image

  # PIL releases the GIL while decoding and resizing, so threads use every core.
  with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
    list(pool.map(work, range(len(source)), chunksize=64))
  return SplitArrays(
    images=images,
    labels=np.array([m[0] for m in meta], np.int32).reshape(-1),
    domains=np.array([m[1] for m in meta], np.int32).reshape(-1),
    file_names=np.array([m[2] for m in meta], dtype=str).reshape(-1),
    l3_objects=np.array([m[3] for m in meta], dtype=str).reshape(-1),
  )


def load_arrays(
  data_config, split: str, *, source: Sequence | None = None, official_protocol: bool = False
) -> SplitArrays:
  """Decodes a split into memory at data_config.image_size (official: 256, centre 224).

  `source` is any sequence of Contract 2 records (tests, other loaders); by default the
  TFDS builder `data_config.name` with the hold-out and cleaned manifest applied, and the
  decoded arrays cached beside the TFDS data (data.cache_decoded; see array_cache).
  """
  size = OFFICIAL_RESIZE if official_protocol else data_config.image_size
  crop = OFFICIAL_CROP if official_protocol else None
  cache = None
  if source is None:
    cache = array_cache.cache_dir(data_config, split, size, official_protocol)
    cached = array_cache.load(cache)
    if cached is not None:
      return SplitArrays(**cached)
    source = sources.open_source(data_config, split)
  arrays = _decode_all(source, size, crop)
  array_cache.save(cache, dataclasses.asdict(arrays))
  return arrays


def _resolve_mode(data_config, num_examples: int, size: int) -> str:
  if data_config.mode in ("in_memory", "streaming"):
    return data_config.mode
  if data_config.mode != "auto":
    raise ValueError(f"data.mode {data_config.mode!r} is not 'auto', 'in_memory' or 'streaming'")
  needed_mb = num_examples * size * size * 3 / 2**20
  return "in_memory" if needed_mb <= data_config.memory_budget_mb else "streaming"


def _check_batch(mesh: Mesh, global_batch_size: int) -> None:
  if DATA_AXIS not in mesh.axis_names:
    raise ValueError(f"mesh axes {mesh.axis_names} lack the batch axis {DATA_AXIS!r}")
  shards = mesh.shape[DATA_AXIS]
  if global_batch_size % shards:
    raise ValueError(
      f"global batch size {global_batch_size} is not divisible by the "
      f"{shards} devices on mesh axis {DATA_AXIS!r}"
    )


def _metadata(source: Sequence) -> tuple[np.ndarray, ...]:
  meta = [sources.record_metadata(source[i]) for i in range(len(source))]
  return (
    np.array([m[0] for m in meta], np.int32).reshape(-1),
    np.array([m[1] for m in meta], np.int32).reshape(-1),
    np.array([m[2] for m in meta], dtype=str).reshape(-1),
  )


@dataclasses.dataclass(frozen=True)
class BatchSpec:
  """Everything static about building a training batch (hashable: a jit cache key)."""

  sampling: sampling.SamplingSpec
  augment: augment.AugmentOptions
  image_size: int
  batch_sharding: NamedSharding


def build_batch(
  spec: BatchSpec, device_data: dict, host_batch: dict, step: jax.Array, key: jax.Array
) -> dict[str, jax.Array]:
  """The training batch of `step` (pure; TrainInput.batch binds `spec`)."""
  shard = lambda x: jax.lax.with_sharding_constraint(x, spec.batch_sharding)
  if device_data:
    idx = shard(sampling.device_batch_indices(spec.sampling, device_data, step))
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
  """See module docstring; attributes as in Contract 3."""

  def __init__(
    self,
    data_config,
    mesh: Mesh,
    seed: int,
    global_batch_size: int,
    mode: str,
    labels: np.ndarray,
    *,
    arrays: SplitArrays | None = None,
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
    self.spec = BatchSpec(
      self.plan.spec,
      augment.AugmentOptions.from_config(data_config),
      self.image_size,
      self.batch_sharding,
    )
    if mode == "in_memory":
      self.device_data = jax.device_put(
        dict(
          images=arrays.images,
          domains=np.asarray(arrays.domains, np.int32),
          **self.plan.device_arrays(),
        ),
        NamedSharding(mesh, P()),
      )  # Replicated: any device can gather any example.
      self._stream = None
      self._epoch_order = jax.jit(
        lambda arrays, epoch: (sampling.epoch_order(self.plan.spec, arrays, epoch), epoch),
        out_shardings=NamedSharding(mesh, P()),
      )
      self._order_epoch = None
      self.prepare_epoch(0)
    else:
      self.device_data = {}
      self._stream = streaming.TrainStream(
        source, self.plan, self.image_size, data_config.num_workers, data_config.prefetch_batches
      )

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
    """Streaming: the uint8 batch of `step` (numpy); in-memory: {}."""
    if self._stream is None:
      return {}
    return self._stream.host_batch(step)

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


def make_train_input(
  data_config,
  split: str,
  mesh: Mesh,
  seed: int,
  global_batch_size: int,
  *,
  source: Sequence | None = None,
  arrays: SplitArrays | None = None,
) -> TrainInput:
  """Contract 3. `arrays` (already decoded) or `source` replace reading the TFDS builder."""
  _check_batch(mesh, global_batch_size)
  size = data_config.image_size
  if arrays is not None:
    mode = "in_memory"
  else:
    if source is None:
      source = sources.open_source(data_config, split)
    mode = _resolve_mode(data_config, len(source), size)
  if mode == "in_memory":
    if arrays is None:
      arrays = load_arrays(data_config, split, source=source)
    if arrays.images.shape[1:] != (size, size, 3):
      raise ValueError(f"arrays have images {arrays.images.shape[1:]}, expected {(size, size, 3)}")
    return TrainInput(
      data_config, mesh, seed, global_batch_size, mode, arrays.labels, arrays=arrays
    )
  labels, _, _ = _metadata(source)
  return TrainInput(data_config, mesh, seed, global_batch_size, mode, labels, source=source)


class EvalInput:
  """Evaluation batches in split order, padded to the global batch, sharded over 'data'."""

  def __init__(
    self,
    data_config,
    mesh: Mesh,
    global_batch_size: int,
    official_protocol: bool,
    labels: np.ndarray,
    domains: np.ndarray,
    file_names: np.ndarray,
    *,
    arrays: SplitArrays | None = None,
    source: Sequence | None = None,
  ):
    self.num_examples = len(labels)
    self.labels, self.domains, self.file_names = labels, domains, file_names
    self.global_batch_size = global_batch_size
    self.official_protocol = official_protocol
    self._arrays = arrays
    self._source = source
    self._size = OFFICIAL_RESIZE if official_protocol else data_config.image_size
    self._crop = OFFICIAL_CROP if official_protocol else None
    self._workers = data_config.num_workers
    self._buffer = data_config.prefetch_batches
    self._sharding = NamedSharding(mesh, P(DATA_AXIS))
    self._normalize = jax.jit(lambda x: augment.normalize(x / 255.0), out_shardings=self._sharding)

  @property
  def image_size(self) -> int:
    return self._crop or self._size

  def _host_chunks(self) -> Iterator[dict[str, np.ndarray]]:
    b = self.global_batch_size
    if self._arrays is not None:
      a = self._arrays
      for start in range(0, len(a), b):
        yield dict(
          image=a.images[start : start + b],
          label=a.labels[start : start + b],
          domain=a.domains[start : start + b],
        )
    else:
      yield from streaming.eval_batches(
        self._source, self._size, self._crop, b, self._workers, self._buffer
      )

  def batches(self) -> Iterator[dict[str, Any]]:
    """dict(image float32 normalised, label, domain, mask bool) per global batch."""
    b = self.global_batch_size
    for chunk in self._host_chunks():
      n = len(chunk["label"])
      pad = b - n
      padded = {
        k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) if pad else v
        for k, v in chunk.items()
      }
      padded["mask"] = np.arange(b) < n
      on_device = jax.device_put(padded, self._sharding)
      on_device["image"] = self._normalize(on_device["image"])
      yield on_device


def make_eval_input(
  data_config,
  split: str,
  mesh: Mesh,
  global_batch_size: int,
  official_protocol: bool = False,
  *,
  source: Sequence | None = None,
  arrays: SplitArrays | None = None,
) -> EvalInput:
  """Contract 3. official_protocol: resize 256x256, centre-crop 224, ImageNet mean/std."""
  _check_batch(mesh, global_batch_size)
  size = OFFICIAL_CROP if official_protocol else data_config.image_size
  if arrays is None:
    if source is None:
      source = sources.open_source(data_config, split)
    if _resolve_mode(data_config, len(source), size) == "in_memory":
      arrays = load_arrays(data_config, split, source=source, official_protocol=official_protocol)
  if arrays is not None:
    if arrays.images.shape[1:] != (size, size, 3):
      raise ValueError(f"arrays have images {arrays.images.shape[1:]}, expected {(size, size, 3)}")
    return EvalInput(
      data_config,
      mesh,
      global_batch_size,
      official_protocol,
      arrays.labels,
      arrays.domains,
      arrays.file_names,
      arrays=arrays,
    )
  labels, domains, file_names = _metadata(source)
  return EvalInput(
    data_config,
    mesh,
    global_batch_size,
    official_protocol,
    labels,
    domains,
    file_names,
    source=source,
  )
