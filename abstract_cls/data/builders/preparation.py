"""prepare(): build (if needed) and return a prepared TFDS builder."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from typing import Any

import tensorflow_datasets as tfds

from abstract_cls.data.builders import report as report_lib
from abstract_cls.data.builders import reporting_builder
from abstract_cls.data.builders.abstract_icons import AbstractIcons
from abstract_cls.data.builders.aihub_abstract import AihubAbstract
from abstract_cls.data.builders.dcc2022 import Dcc2022

BUILDERS: dict[str, type[reporting_builder.ReportingBuilder]] = {
  b.name: b for b in (AbstractIcons, Dcc2022, AihubAbstract)
}


def _is_stale(builder: reporting_builder.ReportingBuilder, manual_dir: str | None) -> bool:
  """True if the prepared data came from another source than the one given now."""
  report = report_lib.read_report(builder.data_dir)
  if report is None:
    return True  # Prepared by something else (or interrupted): rebuild to get a report.
  if builder.EXPECTED_LAYOUT is not None and manual_dir is None:
    return False  # Reading only: whatever manual dir it was prepared from is fine.
  return report.get("source") != builder.source_description(manual_dir)


def prepare(
  name: str,
  data_dir: str | os.PathLike | None = None,
  manual_dir: str | os.PathLike | None = None,
  *,
  overwrite: bool = False,
  **builder_kwargs: Any,
) -> tfds.core.DatasetBuilder:
  """Returns the builder `name`, prepared in array_record format under data_dir.

  Args:
    name: abstract_icons | dcc2022 | aihub_abstract.
    data_dir: TFDS data dir (default: TFDS's, ~/tensorflow_datasets).
    manual_dir: the extracted data for dcc2022 / aihub_abstract. Not needed to read a
      dataset that is already prepared. Given a different one than the prepared data
      came from, the dataset is prepared again.
    overwrite: prepare again even if prepared data exists (e.g. the files in the same
      manual dir changed).
    **builder_kwargs: builder options: abstract_icons: archive_dir; dcc2022:
      stored_short_side; aihub_abstract: stored_short_side, crop_to_bbox.

  Raises:
    ValueError: unknown name (lists the known ones) or unknown builder option.
    ManualDirError: manual dir missing or not in the expected layout.
  """
  if name not in BUILDERS:
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(BUILDERS))}")
  builder_cls = BUILDERS[name]
  if manual_dir is not None:
    if builder_cls.EXPECTED_LAYOUT is None:
      raise ValueError(
        f"{name} takes no manual dir (got {manual_dir!r}); "
        "it reads the archive given by archive_dir (default: embedded)"
      )
    manual_dir = os.fspath(manual_dir)
  builder = _make(builder_cls, data_dir, builder_kwargs)
  if _ready(builder, manual_dir, overwrite):
    return builder
  with _prepare_lock(builder):  # another process (xdist worker, trainer) may be preparing
    builder = _make(builder_cls, data_dir, builder_kwargs)
    if not overwrite and _ready(builder, manual_dir, overwrite):
      return builder  # it was prepared while we waited
    if builder_cls.EXPECTED_LAYOUT is not None:
      if manual_dir is None:
        raise reporting_builder.ManualDirError(
          f"{name} is not prepared in {builder.data_dir} and needs manual_dir.\n"
          f"Expected layout:\n{builder_cls.EXPECTED_LAYOUT}"
        )
      builder.check_manual_dir(manual_dir)
    if _is_prepared(builder):
      # A builder that found prepared data has frozen its DatasetInfo; start from scratch.
      shutil.rmtree(builder.data_dir)
      builder = _make(builder_cls, data_dir, builder_kwargs)
    builder.download_and_prepare(
      file_format="array_record",
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir),
    )
    return builder


def _make(builder_cls, data_dir, builder_kwargs: dict[str, Any]):
  try:
    return builder_cls.from_options(data_dir, **builder_kwargs)
  except TypeError as e:
    raise ValueError(
      f"{builder_cls.name}: bad builder option in {sorted(builder_kwargs)}: {e}"
    ) from None


def _is_prepared(builder) -> bool:
  return builder.data_path.joinpath(tfds.core.constants.DATASET_INFO_FILENAME).exists()


def _ready(builder, manual_dir: str | None, overwrite: bool) -> bool:
  return _is_prepared(builder) and not overwrite and not _is_stale(builder, manual_dir)


@contextlib.contextmanager
def _prepare_lock(builder) -> Iterator[None]:
  """Exclusive lock per dataset and data dir (flock: released if the process dies)."""
  root = os.fspath(builder.data_dir_root)
  os.makedirs(root, exist_ok=True)
  with open(os.path.join(root, f".{builder.name}.prepare.lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)
