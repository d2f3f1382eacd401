"""Evaluation input: a split in order, padded to the global batch, sharded over 'data'.

Each process reads and decodes only its rows of each global batch (placement.process_rows);
labels and file names cover the whole split, so metrics are computed from gathered outputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from abstract_cls.data import augment, placement, sources, split_arrays, streaming


class EvalInput:
  """Evaluation batches in split order, padded to the global batch, sharded over 'data'.

  `arrays` / `source` hold this process's examples only: rows `rows` of each global batch
  (placement.eval_positions); labels, domains and file_names cover the whole split.
  """

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
    arrays: split_arrays.SplitArrays | None = None,
    source: Sequence | None = None,
  ):
    self.num_examples = len(labels)
    self.labels, self.domains, self.file_names = labels, domains, file_names
    self.global_batch_size = global_batch_size
    self.official_protocol = official_protocol
    self._arrays = arrays
    self._source = source
    self._size = split_arrays.OFFICIAL_RESIZE if official_protocol else data_config.image_size
    self._crop = split_arrays.OFFICIAL_CROP if official_protocol else None
    self._workers = data_config.num_workers
    self._buffer = data_config.prefetch_batches
    self._sharding = NamedSharding(mesh, P(split_arrays.DATA_AXIS))
    self.rows = placement.process_rows(self._sharding, global_batch_size)
    self._normalize = jax.jit(lambda x: augment.normalize(x / 255.0), out_shardings=self._sharding)

  @property
  def image_size(self) -> int:
    return self._crop or self._size

  def _local_counts(self) -> list[int]:
    """How many of this process's rows of each global batch hold an example."""
    starts = range(0, self.num_examples, self.global_batch_size)
    lo, hi = self.rows.start, self.rows.stop
    return [max(0, min(s + hi, self.num_examples) - (s + lo)) for s in starts]

  def _host_chunks(self) -> Iterator[dict[str, np.ndarray]]:
    """This process's examples of each global batch, in order (possibly none)."""
    counts = self._local_counts()
    if self._arrays is not None:
      a, start = self._arrays, 0
      for n in counts:
        yield dict(
          image=a.images[start : start + n],
          label=a.labels[start : start + n],
          domain=a.domains[start : start + n],
        )
        start += n
      return
    stream = streaming.eval_batches(
      self._source,
      self._size,
      self._crop,
      self.rows.stop - self.rows.start,
      self._workers,
      self._buffer,
    )
    empty = dict(
      image=np.zeros((0, self.image_size, self.image_size, 3), np.uint8),
      label=np.zeros(0, np.int32),
      domain=np.zeros(0, np.int32),
    )
    for n in counts:
      yield next(stream) if n else empty

  def batches(self) -> Iterator[dict[str, Any]]:
    """dict(image float32 normalised, label, domain, mask bool) per global batch."""
    local_rows = self.rows.stop - self.rows.start
    for chunk in self._host_chunks():
      n = len(chunk["label"])
      pad = local_rows - n
      padded = {
        k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) if pad else v
        for k, v in chunk.items()
      }
      padded["mask"] = np.arange(local_rows) < n
      on_device = placement.global_batch(self._sharding, padded, self.global_batch_size)
      on_device["image"] = self._normalize(on_device["image"])
      yield on_device


def _take(arrays: split_arrays.SplitArrays, positions: np.ndarray) -> split_arrays.SplitArrays:
  return split_arrays.SplitArrays(
    **{k: v[positions] for k, v in dataclasses.asdict(arrays).items()}
  )


def make_eval_input(
  data_config,
  split: str,
  mesh: Mesh,
  global_batch_size: int,
  official_protocol: bool = False,
  *,
  source: Sequence | None = None,
  arrays: split_arrays.SplitArrays | None = None,
) -> EvalInput:
  """Evaluation input of `split`. official_protocol: resize 256x256, centre-crop 224,
  ImageNet mean/std. `arrays` (already decoded) or `source` replace reading the builder."""
  split_arrays.check_batch(mesh, global_batch_size)
  size = split_arrays.OFFICIAL_CROP if official_protocol else data_config.image_size
  rows = placement.process_rows(NamedSharding(mesh, P(split_arrays.DATA_AXIS)), global_batch_size)
  whole = rows.stop - rows.start == global_batch_size  # one process reads every example
  from_builder = source is None and arrays is None
  if arrays is None and source is None:
    source = sources.open_source(data_config, split)
  num_examples = len(arrays) if arrays is not None else len(source)
  positions = placement.eval_positions(num_examples, global_batch_size, rows)
  local, local_source = None, None
  if arrays is not None:
    local = arrays if whole else _take(arrays, positions)
  elif split_arrays.resolve_mode(data_config, num_examples, size) == "in_memory":
    part = source if whole else sources.IndexedSource(source, positions)
    local = split_arrays.load_arrays(
      data_config,
      split,
      source=part,
      official_protocol=official_protocol,
      cache=from_builder and whole,
    )
    arrays = local if whole else None
  else:
    local_source = source if whole else sources.IndexedSource(source, positions)
  if local is not None:
    split_arrays.check_images(local, size)
  if arrays is not None:
    labels, domains, file_names = arrays.labels, arrays.domains, arrays.file_names
  else:
    labels, domains, file_names = split_arrays.split_metadata(source)
  return EvalInput(
    data_config,
    mesh,
    global_batch_size,
    official_protocol,
    labels,
    domains,
    file_names,
    arrays=local,
    source=local_source,
  )
