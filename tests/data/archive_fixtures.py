"""Writes an icon archive in the Contract 1 layout (images.zip + manifest.csv)."""
from __future__ import annotations

import csv
import pathlib
import zipfile

import image_fixtures

COLUMNS = ("file", "split", "class_code", "domain", "l3_object", "source_set",
           "icon_name", "license", "design_group", "phash")

# (split, class_code, domain, image kind). Kinds: rgb (stored as is), palette (fixed).
CLEAN_ICONS = (
    ("train", "L2_10", "SKETCH", "rgb"),
    ("train", "L2_3", "ILLUSTRATION", "rgb"),
    ("train", "L2_52", "PICTOGRAM", "rgb"),
    ("train", "L2_33", "PICTOGRAM", "rgb"),
    ("train", "L2_33", "SKETCH", "palette"),
    ("validation", "L2_10", "SKETCH", "rgb"),
    ("validation", "L2_52", "ILLUSTRATION", "rgb"),
    ("test", "L2_3", "PICTOGRAM", "rgb"),
    ("test", "L2_46", "SKETCH", "rgb"),
    ("test_unseen_style", "L2_25", "ILLUSTRATION", "rgb"),
    ("test_unseen_style", "L2_40", "PICTOGRAM", "rgb"),
)


def _png(kind: str, seed: int, size: int) -> bytes:
  if kind == "rgb":
    return image_fixtures.rgb(size, size, "PNG", seed=seed)
  if kind == "palette":
    image = image_fixtures.Image.open(image_fixtures.io.BytesIO(image_fixtures.palette_gif(size)))
    return image_fixtures.encode(image, "PNG")
  raise ValueError(kind)


def write_archive(directory: pathlib.Path, size: int = 128, with_bad_entries: bool = True) -> dict:
  """Writes the archive; returns the expected counts (kept per split, skipped reasons)."""
  directory.mkdir(parents=True, exist_ok=True)
  rows = []
  with zipfile.ZipFile(directory / "images.zip", "w", zipfile.ZIP_STORED) as archive:
    for i, (split, code, domain, kind) in enumerate(CLEAN_ICONS):
      member = f"{split}/icon{i:03d}.png"
      archive.writestr(member, _png(kind, i, size))
      rows.append([member, split, code, domain, "", "fixture", f"icon{i}", "CC0-1.0",
                   f"group{i}", f"{i:016x}"])
    if with_bad_entries:
      archive.writestr("train/truncated.png", _png("rgb", 99, size)[:200])
      rows.append(["train/truncated.png", "train", "L2_10", "SKETCH", "", "fixture", "t",
                   "CC0-1.0", "g", "0" * 16])
      archive.writestr("train/unlisted.png", _png("rgb", 98, size))
      rows.append(["train/missing.png", "train", "L2_10", "SKETCH", "", "fixture", "m",
                   "CC0-1.0", "g", "0" * 16])
  with (directory / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
  kept = {}
  for split, *_ in CLEAN_ICONS:
    kept[split] = kept.get(split, 0) + 1
  skipped = ({"train/truncated.png": "truncated or corrupt image",
              "train/unlisted.png": "not in manifest",
              "train/missing.png": "missing from archive"} if with_bad_entries else {})
  return {"kept": kept, "skipped": skipped, "fixed": ["train/icon004.png"]}
