"""Base class of the three builders: their common features (the record format) and the
prepare report."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from abstract_cls import taxonomy
from abstract_cls.data.builders import report as report_lib

_LOG = logging.getLogger(__name__)


def dataset_info(builder, description: str) -> tfds.core.DatasetInfo:
  """The DatasetInfo every builder here shares: common features, (image, label) supervision."""
  return tfds.core.DatasetInfo(
    builder=builder,
    description=description,
    features=common_features(),
    supervised_keys=("image", "label"),
  )


def common_features() -> tfds.features.FeaturesDict:
  return tfds.features.FeaturesDict(
    {
      # Stored PNG-encoded; any size (the input pipeline resizes).
      "image": tfds.features.Image(shape=(None, None, 3), dtype=np.uint8, encoding_format="png"),
      "label": tfds.features.ClassLabel(names=taxonomy.class_codes()),
      "domain": tfds.features.ClassLabel(names=taxonomy.DOMAINS),
      "file_name": tfds.features.Text(),  # path relative to the source (zip member, manual dir)
      "l3_object": tfds.features.Text(),  # level-3 object type, '' if unknown
    }
  )


class ManualDirError(FileNotFoundError):
  """The manual dir is missing or does not have the layout the builder expects."""


class ReportingBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Writes prepare_report.json into the version folder and prints the counts.

  Subclasses list the items of each split in `_split_generators` (reporting what they
  leave out there), turn one item into a `(key, example)` in `_example` (or return None
  after reporting why it was skipped), and return `self.generators(items_per_split)`.
  Splits left without any usable item are dropped (TFDS cannot write an empty split);
  their items are all in the report.
  """

  # Text shown when the manual dir is missing or has the wrong layout; None = no manual dir.
  EXPECTED_LAYOUT: str | None = None

  def __init__(self, **kwargs: Any):
    super().__init__(**kwargs)
    self.report: report_lib.PrepareReport | None = None

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    # TFDS's own lookup goes through the optional package importlib_resources, which
    # is not installed; the source file is all it needs (to look for checksums.tsv).
    return epath.Path(inspect.getfile(cls))

  @classmethod
  def from_options(cls, data_dir: str | os.PathLike | None, **options: Any):
    """The builder for prepare(); subclasses map options such as stored_short_side to a config."""
    return cls(data_dir=data_dir, file_format="array_record", **options)

  def source_description(self, manual_dir: str | None) -> dict[str, Any]:
    """What the prepare reads; prepare() re-prepares when this differs from the report's."""
    return {"manual_dir": os.path.abspath(manual_dir) if manual_dir else None}

  def check_manual_dir(self, manual_dir: str | os.PathLike) -> str:
    """Returns the manual dir as a string, or raises ManualDirError with the expected layout."""
    manual_dir = os.fspath(manual_dir)
    if not os.path.isdir(manual_dir):
      raise ManualDirError(
        f"{self.name}: manual dir {manual_dir!r} does not exist or is not a directory.\n"
        f"Expected layout:\n{self.EXPECTED_LAYOUT}"
      )
    return manual_dir

  def _download_and_prepare(self, dl_manager, download_config=None):
    manual_dir = None
    if self.EXPECTED_LAYOUT is not None:
      manual_dir = self.check_manual_dir(dl_manager._manual_dir)  # pylint: disable=protected-access
    self.report = report_lib.PrepareReport(self.source_description(manual_dir))
    super()._download_and_prepare(dl_manager=dl_manager, download_config=download_config)
    # self.data_dir is the temporary version folder here; TFDS renames it when done.
    self.report.write(self.data_dir)
    summary = self.report.summary(
      f"{self.name}/{self.builder_config.name}" if self.builder_config else self.name
    )
    print(summary, flush=True)
    _LOG.info("%s", summary)

  def _example(self, item: Any) -> tuple[str, dict] | None:
    raise NotImplementedError

  def generators(self, items_per_split: dict[str, Sequence[Any]]) -> dict[str, Iterator]:
    generators = {}
    for split, items in items_per_split.items():
      for i, item in enumerate(items):  # Find the first usable item before committing a split.
        first = self._example(item)
        if first is not None:
          generators[split] = self._generate_examples(split=split, first=first, rest=items[i + 1 :])
          break
      else:
        self.report.dropped_splits.append(split)
    if not generators:
      examples = "\n".join(f"  {e['file']}: {e['reason']}" for e in self.report.skipped[:20])
      raise ValueError(
        f"{self.name}: no usable image at all.\n"
        f"{self.report.summary(self.name)}\nfirst skipped:\n{examples}"
      )
    return generators

  def _generate_examples(
    self, split: str, first: tuple[str, dict], rest: Sequence[Any]
  ) -> Iterator[tuple[str, dict]]:
    self.report.keep(split)
    yield first
    for item in rest:
      example = self._example(item)
      if example is not None:
        self.report.keep(split)
        yield example

  def split_counts(self) -> dict[str, int]:
    return {name: info.num_examples for name, info in self.info.splits.items()}
