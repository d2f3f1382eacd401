"""Manual dirs in the dcc2022 and AI Hub layouts, with every bad-input case, built in tmp_path.

Each builder returns what a prepare must report: kept per split, {file: skip reason},
and the files that must be listed as fixed.
"""

from __future__ import annotations

import json
import pathlib

import image_fixtures as images


def _write(path: pathlib.Path, data: bytes) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(data)


BAD_IMAGES = {  # name -> (bytes, reason in the report)
  "truncated": (images.truncated_jpeg(), "truncated or corrupt image"),
  "text": (images.NOT_AN_IMAGE, "not an image"),
  "zero": (b"", "empty file"),
  "bomb": (images.bomb_png(), "decompression bomb"),
  "bomb_in_warning_range": (images.bomb_png(9000, 9000), "decompression bomb"),
}


def make_dcc2022(root: pathlib.Path, split_layout: bool = True) -> dict:
  """Random-ish file names, every format, every repairable and every bad case."""
  train = root / "train" if split_layout else root
  good = {  # relative to train root -> (bytes, fixed?)
    "L2_10/qwhxkzmvbnrtyplaoeiu.jpg": (images.rgb(60, 40, "JPEG"), False),
    "L2_10/rgbaxxxxxxxxxxxxxxxx.png": (images.rgba_transparent(), True),
    "L2_10/palettexxxxxxxxxxxxx.gif": (images.palette_gif(), True),
    "L2_10/greyxxxxxxxxxxxxxxxx.png": (images.greyscale(), True),
    "L2_10/bmpxxxxxxxxxxxxxxxxx.bmp": (images.rgb(30, 30, "BMP"), False),
    "L2_10/webpxxxxxxxxxxxxxxxx.webp": (images.rgb(30, 30, "WEBP"), False),
    "L2_10/exifxxxxxxxxxxxxxxxx.jpg": (images.exif_rotated_jpeg(40, 24), True),
    "L2_10/largexxxxxxxxxxxxxxx.jpg": (images.rgb(600, 400, "JPEG"), False),
    "L2_3/cmykxxxxxxxxxxxxxxxx.jpg": (images.cmyk_jpeg(), True),
    "L2_3/grey16xxxxxxxxxxxxxx.png": (images.grey16_png(), True),
    "L2_52/abcdefghijklmnopqrst.png": (images.rgb(20, 20), False),
    "L2_52/nested/abcdefghijklmnopqrsu.png": (images.rgb(20, 20, seed=1), False),
  }
  prefix = "train/" if split_layout else ""
  for name, (data, _) in good.items():
    _write(train / name, data)
  skipped = {}
  for name, (data, reason) in BAD_IMAGES.items():
    _write(train / "L2_3" / f"{name}.jpg", data)
    skipped[f"{prefix}L2_3/{name}.jpg"] = reason
  (train / "L2_40").mkdir()
  skipped[f"{prefix}L2_40/"] = "empty class folder"
  _write(train / "L2_99" / "a.jpg", images.rgb())
  _write(train / "L2_99" / "b.jpg", images.rgb())
  skipped[f"{prefix}L2_99/"] = "unknown class folder"
  _write(train / "misc" / "c.png", images.rgb())
  skipped[f"{prefix}misc/"] = "unknown class folder"
  _write(train / "notes.txt", b"class notes\n")
  skipped[f"{prefix}notes.txt"] = "not in a class folder"
  kept = {"train": len(good)}
  if split_layout:
    _write(root / "valid" / "L2_10" / "zyxwvutsrqponmlkjihg.jpg", images.rgb(50, 50, "JPEG"))
    _write(root / "valid" / "L2_33" / "zyxwvutsrqponmlkjihf.png", images.rgb(50, 50))
    _write(root / "test" / "unlabelled.jpg", images.rgb())
    _write(root / "README.md", b"how we got the data\n")
    skipped["test/"] = "not a train/ or valid/ folder"
    skipped["README.md"] = "not a train/ or valid/ folder"
    kept["validation"] = 2
  fixed = sorted(prefix + name for name, (_, is_fixed) in good.items() if is_fixed)
  return {"kept": kept, "skipped": skipped, "fixed": fixed}


def _label(abs_path: str, domain: str = "SKETCH", bbox="[2, 3, 20, 10]") -> bytes:
  return json.dumps(
    {
      "abstract_image": {
        "img_no": 1,
        "abs_no": 1,
        "abs_domain": domain,
        "abs_width": 40,
        "abs_height": 32,
        "abs_path": abs_path,
        "abs_bbox": bbox,
        "object_scale": "중",
        "gender": "F",
        "age": 51,
        "proficiency": "중",
      }
    },
    ensure_ascii=False,
  ).encode()


def make_aihub(root: pathlib.Path) -> dict:
  """AI Hub tree: images under 원천데이터, labels under 라벨링데이터, per split."""
  source = root / "1.Training" / "원천데이터" / "TS3" / "ABSTRACT_SKETCH" / "L1_6"
  labels = root / "1.Training" / "라벨링데이터" / "TL3" / "ABSTRACT_SKETCH" / "L1_6"
  prefix_src = "1.Training/원천데이터/TS3/ABSTRACT_SKETCH/L1_6/"
  prefix_lbl = "1.Training/라벨링데이터/TL3/ABSTRACT_SKETCH/L1_6/"
  skipped, fixed = {}, []

  def pair(folder: str, stem: str, ext: str, data: bytes | None, label: bytes | None) -> str:
    if data is not None:
      _write(source / folder / f"{stem}{ext}", data)
    if label is not None:
      _write(labels / folder / f"{stem}.json", label)
    return f"{prefix_src}{folder}/{stem}{ext}"

  # Kept: earrings (L2_46, ctg 0816) in the L2 folder; one repaired in each way.
  pair("L2_46", "s_0816_1_1", ".jpg", images.rgb(40, 32, "JPEG"), _label(""))
  fixed.append(
    pair("L2_46", "i_0816_2_1", ".png", images.rgba_transparent(), _label("", "ILLUSTRATION"))
  )
  fixed.append(pair("L2_46", "p_0816_3_1", ".jpg", images.cmyk_jpeg(), _label("", "PICTOGRAM")))
  fixed.append(pair("L2_46", "p_0816_4_1", ".png", images.grey16_png(), _label("", "PICTOGRAM")))
  # abs_path that resolves inside the manual dir (used as given).
  pair(
    "L2_46",
    "s_0817_5_1",
    ".jpg",
    images.rgb(40, 32, "JPEG", seed=3),
    _label(f"/{prefix_src}L2_46/s_0817_5_1.jpg"),
  )
  # No L2 folder: class and object from the ctg id (0554 = horse, L2_33).
  pair("flat", "s_0554_6_1", ".jpg", images.rgb(40, 32, "JPEG", seed=4), _label(""))
  # Bad images with good labels.
  for i, (data, reason) in enumerate(BAD_IMAGES.values()):
    skipped[pair("L2_46", f"s_0816_{10 + i}_1", ".jpg", data, _label(""))] = reason
  # Label problems.
  skipped[pair("L2_46", "s_0816_20_1", ".jpg", images.rgb(), None)] = "missing JSON label"
  pair("L2_46", "s_0816_21_1", ".jpg", images.rgb(), b"{not json")
  skipped[f"{prefix_lbl}L2_46/s_0816_21_1.json"] = "malformed JSON"
  pair("L2_46", "s_0816_22_1", ".jpg", images.rgb(), b'{"something_else": {}}')
  skipped[f"{prefix_lbl}L2_46/s_0816_22_1.json"] = "malformed JSON"
  photo = pair("L2_46", "s_0816_23_1", ".jpg", images.rgb(), _label("", "PHOTO"))
  skipped[photo] = "unknown domain"
  pair("L2_46", "s_0816_24_1", ".jpg", images.rgb(), _label("../../../../../../../etc/passwd"))
  skipped[f"{prefix_lbl}L2_46/s_0816_24_1.json"] = "abs_path escapes the manual dir"
  _write(
    labels / "L2_46" / "zz_copy_of_s_0817_5_1.json",  # claims an image already labelled
    _label(f"/{prefix_src}L2_46/s_0817_5_1.jpg"),
  )
  skipped[f"{prefix_lbl}L2_46/zz_copy_of_s_0817_5_1.json"] = "second label for one image"
  pair("L2_46", "s_0816_25_1", ".jpg", None, _label(""))
  skipped[f"{prefix_lbl}L2_46/s_0816_25_1.json"] = "image not found"
  # Unknown class: a name with an id outside the 20 classes and no L2 folder.
  skipped[pair("flat", "s_0001_1_1", ".jpg", images.rgb(), _label(""))] = "unknown class"
  # Folders.
  (source / "L2_40").mkdir(parents=True)
  skipped[f"{prefix_src}L2_40/"] = "empty class folder"
  pair("L2_7", "s_0050_1_1", ".jpg", images.rgb(), _label(""))
  skipped[f"{prefix_src}L2_7/"] = "unknown class folder"
  skipped[f"{prefix_lbl}L2_7/"] = "unknown class folder"
  # Validation: one good pair, flat.
  _write(root / "2.Validation" / "L2_3" / "i_0016_1_1.png", images.rgb(30, 30))
  _write(root / "2.Validation" / "L2_3" / "i_0016_1_1.json", _label("", "ILLUSTRATION"))
  return {"kept": {"train": 6, "validation": 1}, "skipped": skipped, "fixed": sorted(fixed)}
