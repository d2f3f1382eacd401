"""Streaming mode: grain worker processes read, decode and resize on the host.

Element i of the grain dataset is row k of step's global batch, for i = step * rows + j and
k = first_row + j: each process reads only the rows of the batch its own devices hold
(placement.process_rows). The example is chosen by the numpy sampler from (seed, step)
alone, so the host batch for step N never depends on what was read before: restarting at
step N is building the dataset from position N * rows.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator, Sequence

import grain
import numpy as np
from absl import flags

from abstract_cls.data import sampling, sources

# Streams are indexed by position; this many epochs is "forever" for any training run.
_MAX_EPOCHS = 100_000


class _ReadDecodeAt:
  """Position -> decoded example (picklable: grain sends it to every worker)."""

  def __init__(self, source: Sequence, plan: sampling.EpochPlan, image_size: int, rows: slice):
    self.source = source
    self.image_size = image_size
    self.sampler = sampling.HostSampler(plan)
    self.first_row = rows.start
    self.rows = rows.stop - rows.start

  def __call__(self, position: int) -> dict[str, np.ndarray]:
    step, j = divmod(int(position), self.rows)
    index = int(self.sampler.batch_indices(step)[self.first_row + j])
    return _decode_record(self.source[index], self.image_size, None)


class _DecodeRecord:
  """Record -> decoded example at a size, optionally centre-cropped (official protocol)."""

  def __init__(self, image_size: int, centre_crop: int | None):
    self.image_size = image_size
    self.centre_crop = centre_crop

  def __call__(self, record: dict) -> dict[str, np.ndarray]:
    return _decode_record(record, self.image_size, self.centre_crop)


def _decode_record(record: dict, size: int, centre_crop: int | None) -> dict[str, np.ndarray]:
  label, domain, file_name, _ = sources.record_metadata(record)
  image = sources.decode_resized(record["image"], size, file_name)
  if centre_crop:
    off = (size - centre_crop) // 2
    image = image[off : off + centre_crop, off : off + centre_crop]
  return dict(image=image, label=np.int32(label), domain=np.int32(domain))


def _iterate(dataset: grain.MapDataset, num_workers: int, buffer: int) -> Iterator:
  it_ds = dataset.to_iter_dataset()
  if num_workers > 0:
    # grain 0.2.18 reads an absl flag when starting workers and fails outside absl.app
    # (google/grain#1355, fixed after this release): defaults are what we want.
    if not flags.FLAGS.is_parsed():
      flags.FLAGS.mark_as_parsed()
    it_ds = it_ds.mp_prefetch(
      grain.MultiprocessingOptions(num_workers=num_workers, per_worker_buffer_size=max(1, buffer))
    )
  return iter(it_ds)


class TrainStream:
  """This process's rows of the batches of consecutive steps; a jump to another step restarts
  the workers there."""

  def __init__(
    self,
    source: Sequence,
    plan: sampling.EpochPlan,
    image_size: int,
    num_workers: int,
    buffer: int,
    rows: slice,
  ):
    self._read = _ReadDecodeAt(source, plan, image_size, rows)
    self._batch = self._read.rows
    self._num_workers = num_workers
    self._buffer = buffer
    self._iterator = None
    self._next_step = -1
    # Stop the workers before interpreter teardown, where grain's own cleanup fails noisily.
    atexit.register(self.close)

  def close(self) -> None:
    if self._iterator is not None:
      self._iterator.close()
      self._iterator = None

  def host_batch(self, step: int) -> dict[str, np.ndarray]:
    step = int(step)
    if self._iterator is None or step != self._next_step:
      self.close()
      start = step * self._batch
      stop = (step + self._read.sampler.plan.steps_per_epoch * _MAX_EPOCHS) * self._batch
      ds = (
        grain.MapDataset.range(start, stop).map(self._read).batch(self._batch, drop_remainder=True)
      )
      self._iterator = _iterate(ds, self._num_workers, self._buffer)
    self._next_step = step + 1
    # Plain copies: grain hands out shared-memory arrays whose cleanup fails if one is still
    # alive at interpreter exit; a copy is cheap next to decoding.
    return {k: np.array(v) for k, v in next(self._iterator).items()}


def eval_batches(
  source: Sequence,
  image_size: int,
  centre_crop: int | None,
  batch: int,
  num_workers: int,
  buffer: int,
) -> Iterator[dict[str, np.ndarray]]:
  """Decoded examples in source order, `batch` at a time (the last one may be short)."""
  ds = grain.MapDataset.source(source).map(_DecodeRecord(image_size, centre_crop)).batch(batch)
  iterator = _iterate(ds, num_workers, buffer)
  try:
    for batch in iterator:
      yield {k: np.array(v) for k, v in batch.items()}
  finally:
    iterator.close()
