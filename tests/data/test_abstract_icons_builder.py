"""abstract_icons builder: committed dummy data, bad archive entries, staleness, real archive.

tfds.testing.DatasetBuilderTestCase needs TensorFlow (not installed), so these are plain
pytest tests that prepare from the dummy data and check split counts and the report.
"""

import concurrent.futures
import pathlib
import shutil
import time

import archive_fixtures
import numpy as np
import pytest

from abstract_cls.data import builders
from abstract_cls.data.builders.abstract_icons import abstract_icons_dataset_builder as icons_lib

DUMMY_DIR = pathlib.Path(icons_lib.__file__).parent / "dummy_data"


def _check(builder, expected):
  assert builder.split_counts() == expected["kept"]
  report = builders.read_report(builder.data_dir)
  assert report["kept"] == sum(expected["kept"].values())
  assert {e["file"]: e["reason"] for e in report["skipped"]} == expected["skipped"]
  assert [e["file"] for e in report["fixed"]] == expected["fixed"]


def test_dummy_data_prepares_with_expected_counts(tmp_path):
  expected = archive_fixtures.write_archive(tmp_path / "regenerated", size=32)
  builder = builders.prepare("abstract_icons", tmp_path / "tfds", archive_dir=DUMMY_DIR)
  _check(builder, expected)
  record = builder.as_data_source("validation")[0]
  assert record["image"].dtype == np.uint8 and record["image"].shape == (32, 32, 3)
  assert record["file_name"].decode().startswith("validation/")
  assert 0 <= record["label"] < 20 and 0 <= record["domain"] < 3


def test_changed_archive_is_prepared_again(tmp_path):
  archive = tmp_path / "archive"
  archive_fixtures.write_archive(archive, size=16, with_bad_entries=False)
  first = builders.prepare("abstract_icons", tmp_path / "tfds", archive_dir=archive)
  assert builders.read_report(first.data_dir)["skipped"] == []
  expected = archive_fixtures.write_archive(archive, size=16, with_bad_entries=True)
  _check(builders.prepare("abstract_icons", tmp_path / "tfds", archive_dir=archive), expected)


def test_a_copy_of_the_archive_elsewhere_reuses_the_prepared_data(tmp_path):
  """Two checkouts share ~/tensorflow_datasets: the same archive at another path is the same
  data, so the second does not prepare it again (and delete files the first is reading)."""
  archive_fixtures.write_archive(tmp_path / "one", size=16, with_bad_entries=False)
  shutil.copytree(tmp_path / "one", tmp_path / "two")
  first = builders.prepare("abstract_icons", tmp_path / "tfds", archive_dir=tmp_path / "one")
  info = pathlib.Path(first.data_dir) / "dataset_info.json"
  stamp = info.stat().st_mtime_ns
  builders.prepare("abstract_icons", tmp_path / "tfds", archive_dir=tmp_path / "two")
  assert info.stat().st_mtime_ns == stamp


def test_unknown_name_lists_known_ones(tmp_path):
  with pytest.raises(ValueError, match="unknown dataset 'imagenet'") as error:
    builders.prepare("imagenet", tmp_path)
  assert all(name in str(error.value) for name in builders.BUILDERS)


def test_missing_archive_is_a_clear_error(tmp_path):
  with pytest.raises(icons_lib.ArchiveError, match="manifest.csv"):
    builders.prepare("abstract_icons", tmp_path / "tfds", archive_dir=tmp_path / "nothing")


@pytest.mark.skipif(
  not (icons_lib.EMBEDDED_DIR / "manifest.csv").exists(),
  reason="embedded archive not generated yet (tools/build_icons)",
)
def test_real_embedded_archive_prepares_quickly(tmp_path):
  start = time.perf_counter()
  builder = builders.prepare("abstract_icons", tmp_path)
  seconds = time.perf_counter() - start
  counts = builder.split_counts()
  print(f"abstract_icons: prepared {sum(counts.values())} images {counts} in {seconds:.1f} s")
  assert set(counts) == set(icons_lib.SPLITS)
  assert builders.read_report(builder.data_dir)["skipped"] == []
  assert seconds < 60


def test_bad_options_are_clear_errors(tmp_path):
  with pytest.raises(ValueError, match="bad builder option"):
    builders.prepare("abstract_icons", tmp_path, archive_dir=DUMMY_DIR, crop_to_bbox=True)
  with pytest.raises(ValueError, match="takes no manual dir"):
    builders.prepare("abstract_icons", tmp_path, manual_dir=tmp_path)


def test_concurrent_prepares_of_one_dataset_both_succeed(tmp_path):
  def prepare_and_count(_):
    return builders.prepare("abstract_icons", tmp_path, archive_dir=DUMMY_DIR).split_counts()

  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    results = list(pool.map(prepare_and_count, range(2)))
  assert (
    results[0] == results[1] == {"train": 5, "validation": 2, "test": 2, "test_unseen_style": 2}
  )
