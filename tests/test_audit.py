"""Audit end to end on a tiny synthetic fixture with injected duplicates and photos."""

import csv
import json
import pathlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from abstract_cls.audit import inject, report, runner, sources

CLASSES = ("L2_3", "L2_10", "L2_12", "L2_24")


def synthetic_drawing(rng: np.random.Generator, style: str, size: int = 128) -> Image.Image:
  """A random drawing: sketch (strokes), illustration (outlined colour fills) or pictogram."""
  img = Image.new("RGB", (size, size), "white")
  draw = ImageDraw.Draw(img)
  ink = tuple(int(c) for c in rng.integers(0, 200, 3))
  for _ in range(int(rng.integers(3, 7))):
    corner = rng.integers(8, size // 2, 2)
    box = [int(v) for v in np.concatenate([corner, corner + rng.integers(16, size // 2, 2)])]
    shape = rng.integers(0, 3)
    fill = None
    if style == "illustration":
      fill = tuple(int(c) for c in rng.integers(0, 256, 3))
    elif style == "pictogram":
      fill = ink
    if shape == 0:
      draw.ellipse(box, fill=fill, outline=(0, 0, 0) if style != "pictogram" else ink, width=3)
    elif shape == 1:
      draw.rectangle(box, fill=fill, outline=(0, 0, 0) if style != "pictogram" else ink, width=3)
    else:
      points = [tuple(int(v) for v in rng.integers(8, size - 8, 2)) for _ in range(4)]
      draw.line(points, fill=ink, width=int(rng.integers(2, 6)))
  return img


def write_fixture(root: pathlib.Path, per_class: int = 12, seed: int = 0) -> None:
  rng = np.random.default_rng(seed)
  styles = ("sketch", "illustration", "pictogram")
  k = 0
  for split, folder in (("train", "train"), ("validation", "valid")):
    for code in CLASSES:
      (root / folder / code).mkdir(parents=True, exist_ok=True)
      for _ in range(per_class if split == "train" else per_class // 3):
        img = synthetic_drawing(rng, styles[k % 3])
        img.save(root / folder / code / f"img{k:04d}.png")
        k += 1


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
  base = tmp_path_factory.mktemp("clean")
  write_fixture(base)
  out = tmp_path_factory.mktemp("injected")
  truth = inject.inject(
    sources.FolderSource(base), out, inject.InjectOptions(num_duplicates=16, num_photos=10, seed=1)
  )
  return out, truth


@pytest.fixture(scope="module")
def audited(injected, tmp_path_factory):
  root, truth = injected
  source = sources.FolderSource(root)
  result = runner.run_audit(source, runner.AuditOptions(progress=False))
  out = tmp_path_factory.mktemp("audit")
  report.write_outputs(result, out, source)
  return result, out, truth


def _families(truth) -> dict[str, str]:
  """file -> its source original, for every original that got copies and for the copies."""
  family = {d["file"]: d["source"] for d in truth["duplicates"]}
  family.update({d["source"]: d["source"] for d in truth["duplicates"]})
  return family


def test_injected_duplicates_and_photos_removed_and_nothing_else(audited):
  result, _, truth = audited
  removed = {result.items[i].file_name: why for i, why in result.reasons.items()}
  photos = {p["file"] for p in truth["photos"]}
  family = _families(truth)
  assert {f for f, why in removed.items() if why.startswith("photo")} == photos
  # One file per family (an original and its copies) is kept: the largest / earliest-split
  # one, so sometimes the copy stays and the original goes. Every other original stays.
  kept_per_family = {}
  for it in result.items:
    if it.file_name in family and it.file_name not in removed:
      kept_per_family.setdefault(family[it.file_name], []).append(it.file_name)
  assert sorted(kept_per_family) == sorted(set(family.values()))
  assert all(len(kept) == 1 for kept in kept_per_family.values()), kept_per_family
  duplicates = {f for f, why in removed.items() if why.startswith("duplicate")}
  assert duplicates <= set(family)
  assert len(duplicates) == len(truth["duplicates"])
  assert set(removed) == duplicates | photos


def test_removed_duplicates_name_a_kept_file_of_their_family(audited):
  result, _, truth = audited
  family = _families(truth)
  removed = {result.items[i].file_name for i in result.reasons}
  for i, why in result.reasons.items():
    if why.startswith("duplicate_of: "):
      kept = why.split(": ", 1)[1]
      assert kept not in removed
      assert family[kept] == family[result.items[i].file_name]


def test_outputs_written(audited):
  result, out, truth = audited
  summary = json.loads((out / "audit.json").read_text())
  assert summary["num_files"] == len(result.items)
  assert summary["duplicates"]["thresholds"]["phash_max_hamming"] >= 0
  assert summary["leakage"]["num_groups_crossing_splits"] >= 1
  with (out / "cleaned_manifest.csv").open() as f:
    rows = list(csv.DictReader(f))
  assert list(rows[0]) == ["file_name", "keep", "reason"]
  assert len(rows) == len(result.items)
  assert sum(r["keep"] == "0" for r in rows) == len(truth["duplicates"]) + len(truth["photos"])
  assert all((r["keep"] == "1") == (r["reason"] == "") for r in rows)
  text = (out / "report.md").read_text()
  assert "Photo candidates" in text and "Duplicate groups" in text
  for png in out.glob("*.png"):
    assert Image.open(png).size[0] > 0


def test_folder_source_reads_layout_and_aihub_domains(tmp_path):
  (tmp_path / "L2_3").mkdir()
  Image.new("RGB", (20, 20), "white").save(tmp_path / "L2_3" / "s_0001_1_1.jpg")
  Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(tmp_path / "L2_3" / "x.png")
  (tmp_path / "L2_3" / "notes.txt").write_text("x")
  source = sources.FolderSource(tmp_path)
  assert [(it.file_name, it.split, it.domain) for it in source.items] == [
    ("L2_3/s_0001_1_1.jpg", "train", "SKETCH"),
    ("L2_3/x.png", "train", "UNKNOWN"),
  ]
  # Transparent pixels become white, not black.
  assert source.read(1).rgb.min() == 255
  assert source.skipped and "notes.txt" in source.skipped[0]["file"]
