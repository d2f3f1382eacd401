"""abstract_icons prepare time on a synthetic 10,000-icon archive (budget: < 60 s on 2 cores).

Slow (writing the archive takes a while):
  python -m pytest -m slow -s tests/data/test_prepare_speed.py
"""
import time

import pytest

import archive_fixtures
from abstract_cls.data import builders


@pytest.mark.slow
def test_abstract_icons_prepares_10k_icons_within_a_minute(tmp_path):
  per_split = archive_fixtures.write_synthetic_archive(tmp_path / "archive", 10_000)
  start = time.perf_counter()
  builder = builders.prepare("abstract_icons", tmp_path / "tfds", archive_dir=tmp_path / "archive")
  seconds = time.perf_counter() - start
  print(f"\nabstract_icons: prepared 10,000 synthetic 128 px icons in {seconds:.1f} s")
  assert builder.split_counts() == per_split
  assert seconds < 60
