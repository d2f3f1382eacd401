"""Writes an icon archive in the embedded layout (images.zip + manifest.csv)."""

from __future__ import annotations

import csv
import pathlib
import zipfile

import image_fixtures

COLUMNS = (
  "file",
  "split",
  "class_code",
  "domain",
  "l3_object",
  "source_set",
  "icon_name",
  "license",
  "design_group",
  "phash",
)

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
      rows.append(
        [
          member,
          split,
          code,
          domain,
          "",
          "fixture",
          f"icon{i}",
          "CC0-1.0",
          f"group{i}",
          f"{i:016x}",
        ]
      )
    if with_bad_entries:
      archive.writestr("train/truncated.png", _png("rgb", 99, size)[:200])
      rows.append(
        [
          "train/truncated.png",
          "train",
          "L2_10",
          "SKETCH",
          "",
          "fixture",
          "t",
          "CC0-1.0",
          "g",
          "0" * 16,
        ]
      )
      archive.writestr("train/unlisted.png", _png("rgb", 98, size))
      rows.append(
        [
          "train/missing.png",
          "train",
          "L2_10",
          "SKETCH",
          "",
          "fixture",
          "m",
          "CC0-1.0",
          "g",
          "0" * 16,
        ]
      )
  with (directory / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
  kept = {}
  for split, *_ in CLEAN_ICONS:
    kept[split] = kept.get(split, 0) + 1
  skipped = (
    {
      "train/truncated.png": "truncated or corrupt image",
      "train/unlisted.png": "not in manifest",
      "train/missing.png": "missing from archive",
    }
    if with_bad_entries
    else {}
  )
  return {"kept": kept, "skipped": skipped, "fixed": ["train/icon004.png"]}


def write_synthetic_archive(
  directory: pathlib.Path, num_images: int, size: int = 128, seed: int = 0
) -> dict[str, int]:
  """An archive of `num_images` icon-like PNGs (flat shapes on white), imbalanced
  across classes like the real data; returns images per split. For timing and the chart."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  from PIL import ImageDraw  # pylint: disable=import-outside-toplevel

  rng = np.random.default_rng(seed)
  codes = [c for c in __import__("abstract_cls.taxonomy", fromlist=["x"]).class_codes()]
  weights = rng.uniform(1, 6, len(codes))
  splits = rng.choice(
    ["train", "validation", "test", "test_unseen_style"], num_images, p=[0.7, 0.1, 0.1, 0.1]
  )
  directory.mkdir(parents=True, exist_ok=True)
  rows, per_split = [], {}
  with zipfile.ZipFile(directory / "images.zip", "w", zipfile.ZIP_STORED) as archive:
    for i, split in enumerate(splits):
      image = image_fixtures.Image.new("RGB", (size, size), "white")
      draw = ImageDraw.Draw(image)
      for _ in range(3):
        x0, y0 = (int(v) for v in rng.integers(0, size // 2, 2))
        x1, y1 = (int(v) for v in (x0, y0) + rng.integers(8, size // 2, 2))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
      member = f"{split}/{i:06d}.png"
      archive.writestr(member, image_fixtures.encode(image, "PNG"))
      code = codes[rng.choice(len(codes), p=weights / weights.sum())]
      domain = ("SKETCH", "ILLUSTRATION", "PICTOGRAM")[i % 3]
      rows.append(
        [
          member,
          split,
          code,
          domain,
          "",
          "synthetic",
          f"icon{i}",
          "CC0-1.0",
          f"group{i // 4}",
          f"{i:016x}",
        ]
      )
      per_split[split] = per_split.get(split, 0) + 1
  with (directory / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
  return per_split
