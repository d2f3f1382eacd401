"""A split decoded into memory (SplitArrays) and the checks shared by training and evaluation
input: batch divisibility, in-memory or streaming, record metadata."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from collections.abc import Sequence

import numpy as np
from jax.sharding import Mesh

from abstract_cls.data import array_cache, placement, sources

DATA_AXIS = placement.DATA_AXIS
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
  data_config,
  split: str,
  *,
  source: Sequence | None = None,
  official_protocol: bool = False,
  cache: bool | None = None,
) -> SplitArrays:
  """Decodes a split into memory at data_config.image_size (official: 256, centre 224).

  `source` is any sequence of records (tests, other loaders, one process's part); by default
  the TFDS builder `data_config.name` with the hold-out and cleaned manifest applied.
  cache: keep the decoded arrays beside the TFDS data and read them back next time
  (data.cache_decoded; see array_cache); by default only when reading the builder's split.
  """
  size = OFFICIAL_RESIZE if official_protocol else data_config.image_size
  crop = OFFICIAL_CROP if official_protocol else None
  if cache is None:
    cache = source is None
  path = None
  if cache:
    path = array_cache.cache_dir(data_config, split, size, official_protocol)
    cached = array_cache.load(path)
    if cached is not None:
      return SplitArrays(**cached)
  if source is None:
    source = sources.open_source(data_config, split)
  arrays = _decode_all(source, size, crop)
  array_cache.save(path, dataclasses.asdict(arrays))
  return arrays


def resolve_mode(data_config, num_examples: int, size: int) -> str:
  if data_config.mode in ("in_memory", "streaming"):
    return data_config.mode
  if data_config.mode != "auto":
    raise ValueError(f"data.mode {data_config.mode!r} is not 'auto', 'in_memory' or 'streaming'")
  needed_mb = num_examples * size * size * 3 / 2**20
  return "in_memory" if needed_mb <= data_config.memory_budget_mb else "streaming"


def check_batch(mesh: Mesh, global_batch_size: int) -> None:
  if DATA_AXIS not in mesh.axis_names:
    raise ValueError(f"mesh axes {mesh.axis_names} lack the batch axis {DATA_AXIS!r}")
  shards = mesh.shape[DATA_AXIS]
  if global_batch_size % shards:
    raise ValueError(
      f"global batch size {global_batch_size} is not divisible by the "
      f"{shards} devices on mesh axis {DATA_AXIS!r}"
    )


def split_metadata(source: Sequence) -> tuple[np.ndarray, ...]:
  meta = [sources.record_metadata(source[i]) for i in range(len(source))]
  return (
    np.array([m[0] for m in meta], np.int32).reshape(-1),
    np.array([m[1] for m in meta], np.int32).reshape(-1),
    np.array([m[2] for m in meta], dtype=str).reshape(-1),
  )


def check_images(arrays: SplitArrays, size: int) -> None:
  if arrays.images.shape[1:] != (size, size, 3):
    raise ValueError(f"arrays have images {arrays.images.shape[1:]}, expected {(size, size, 3)}")
