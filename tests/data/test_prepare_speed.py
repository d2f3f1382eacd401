"""abstract_icons prepare time on a synthetic 10,000-icon archive (budget: < 60 s on 2 cores).

Slow (writing the archive takes a while):
  python -m pytest -m slow -s tests/data/test_prepare_speed.py
"""

import time

import archive_fixtures
import pytest

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


@pytest.mark.slow
def test_dcc2022_prepare_rate_on_the_real_size_mix(tmp_path):
  """100 smooth JPEGs in the competition's common sizes (README: 300², 700², 1200²,
  2480x3508); prints images/s so a full 25,503-file prepare can be estimated."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  from PIL import Image, ImageDraw  # pylint: disable=import-outside-toplevel

  rng = np.random.default_rng(0)
  sizes = [(300, 300)] * 40 + [(700, 700)] * 30 + [(1200, 1200)] * 20 + [(2480, 3508)] * 10
  for i, size in enumerate(sizes):
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
      (x0, x1), (y0, y1) = (sorted(rng.integers(0, side, 2).tolist()) for side in size)
      draw.ellipse(
        (x0, y0, x1, y1),
        fill=tuple(int(c) for c in rng.integers(0, 255, 3)),
        outline="black",
        width=5,
      )
    folder = tmp_path / "manual" / ("L2_10", "L2_33")[i % 2]
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / f"{i:020d}.jpg", quality=90)
  start = time.perf_counter()
  builder = builders.prepare("dcc2022", tmp_path / "tfds", tmp_path / "manual")
  seconds = time.perf_counter() - start
  assert builder.split_counts() == {"train": 100}
  print(
    f"\ndcc2022: 100 JPEGs (real size mix) prepared at stored size 256 in {seconds:.1f} s "
    f"= {100 / seconds:.1f} images/s; 25,503 files: ~{25503 / 100 * seconds / 60:.0f} min"
  )
