"""The summary command: counts per split x class x domain, sizes, imbalance, chart."""

import json
import pathlib
import subprocess
import sys

import archive_fixtures
from PIL import Image

from abstract_cls import taxonomy
from abstract_cls.data import builders
from abstract_cls.data import summary as summary_lib


def test_summary_counts_match_the_prepared_splits(tmp_path):
  archive_fixtures.write_archive(tmp_path / "archive", size=24)
  builder = builders.prepare("abstract_icons", tmp_path / "tfds", archive_dir=tmp_path / "archive")
  summary = summary_lib.summarize(builder)
  train = summary["splits"]["train"]
  assert train["num_examples"] == 5
  assert train["per_class"]["L2_33"] == 2 and train["per_class"]["L2_10"] == 1
  assert train["counts"][taxonomy.class_index("L2_33")][taxonomy.DOMAIN_INDEX["SKETCH"]] == 1
  assert train["imbalance_ratio"] == 2.0
  assert train["image_size"]["width"]["max"] == 24
  assert "L2_40" in train["missing_classes"]
  text = summary_lib.format_tables(summary)
  assert "== test_unseen_style: 2 images" in text and "UNKNOWN" not in text


def test_summary_command_writes_json_text_and_chart(tmp_path):
  manual = pathlib.Path(builders.BUILDERS["dcc2022"].code_path).parent / "dummy_data"
  out = tmp_path / "out"
  result = subprocess.run(
    [
      sys.executable,
      "-m",
      "abstract_cls.data.summary",
      "--dataset=dcc2022",
      f"--data_dir={tmp_path / 'tfds'}",
      f"--manual_dir={manual}",
      f"--out={out}",
      "--stored_short_side=32",
    ],
    capture_output=True,
    text=True,
    check=True,
  )
  assert "== train: 12 images" in result.stdout and "prepare report: kept 14" in result.stdout
  written = json.loads((out / "summary_dcc2022.json").read_text())
  assert written["splits"]["validation"]["num_examples"] == 2
  assert written["config"] == "s32"
  with Image.open(out / "summary_dcc2022.png") as chart:
    assert chart.size[0] > 800
