"""aihub_abstract: the AI Hub abstract-image set (dataSetSn=617) as downloaded (manual dir).

Images `{s|i|p}_{ctg_id}_{img_no}_{abs_no}.jpg` and one JSON label per image (same stem;
AI Hub keeps them in parallel trees such as 원천데이터/ and 라벨링데이터/) below
1.Training/ (-> train) and 2.Validation/ (-> validation); a folder without them (images/ +
labels/, or the image and label zips unpacked side by side) is one train split when its
image/JSON pairs match. Class from the L2_xx folder
in the path, else from the level-3 ctg_id in the file name; domain from
abstract_image.abs_domain. Optionally crops to abstract_image.abs_bbox ("[x, y, w, h]").
Folders of level-2 categories outside the 20 competition classes are not read (listed
once each in the report).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from abstract_cls import taxonomy
from abstract_cls.data import decode
from abstract_cls.data.builders import manual_files, reporting_builder

SPLIT_FOLDER = re.compile(r"^(\d+\.)?(training|validation)$", re.IGNORECASE)
FILE_NAME = re.compile(r"^([sip])_(\d{4})_(\d+)_(\d+)$")
DOMAINS = taxonomy.DOMAINS[:3]

EXPECTED_LAYOUT = """\
  MANUAL_DIR/1.Training/... -> train and/or MANUAL_DIR/2.Validation/... -> validation
  (also 'Training'/'Validation', at most two folders deep; without them the whole folder is
  the train split, e.g. MANUAL_DIR/images/ + MANUAL_DIR/labels/), holding at any depth the images
  {s|i|p}_{ctg_id}_{img_no}_{abs_no}.jpg and one JSON label per image with the same stem,
  {"abstract_image": {"abs_domain": "SKETCH|ILLUSTRATION|PICTOGRAM",
                      "abs_bbox": "[x, y, w, h]", "abs_path": "...", ...}},
  in L2_xx class folders or named by a level-3 ctg_id of the 20 classes."""


@dataclasses.dataclass(eq=False)
class AihubAbstractConfig(tfds.core.BuilderConfig):
  stored_short_side: int | None = 256  # None: store at the original size
  crop_to_bbox: bool = False


def config_name(stored_short_side: int | None, crop_to_bbox: bool) -> str:
  size = f"s{stored_short_side}" if stored_short_side else "original"
  return f"{'crop' if crop_to_bbox else 'full'}_{size}"


def _config(stored_short_side: int | None, crop_to_bbox: bool) -> AihubAbstractConfig:
  size = (
    f"shorter side downscaled to {stored_short_side} px" if stored_short_side else "original size"
  )
  return AihubAbstractConfig(
    name=config_name(stored_short_side, crop_to_bbox),
    stored_short_side=stored_short_side,
    crop_to_bbox=crop_to_bbox,
    description=f"{'cropped to abs_bbox' if crop_to_bbox else 'whole image'}, {size}",
  )


def _has_label_pairs(folder: str) -> bool:
  """True when some JSON file below `folder` has an image file with the same stem."""
  labels, others = set(), set()
  for _, _, files in os.walk(folder):
    for name in files:
      stem, ext = os.path.splitext(name)
      (labels if ext.lower() == ".json" else others).add(stem)
      if stem in labels and stem in others:
        return True
  return False


def find_split_roots(manual_dir: str, depth: int = 2) -> dict[str, str]:
  """{split: folder}: the Training/Validation folders, else the whole manual dir as train
  when it holds image/JSON pairs; raises ManualDirError when it has neither."""
  found: dict[str, str] = {}
  level = [manual_dir]
  for _ in range(depth):
    below = []
    for folder in level:
      for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not entry.is_dir():
          continue
        match = SPLIT_FOLDER.match(entry.name)
        if match:
          found.setdefault(
            "train" if match.group(2).lower() == "training" else "validation", entry.path
          )
        else:
          below.append(entry.path)
    if found:
      return found
    level = below
  if _has_label_pairs(manual_dir):
    return {"train": manual_dir}
  raise reporting_builder.ManualDirError(
    f"aihub_abstract: no 1.Training/ or 2.Validation/ folder in {manual_dir}, and no image "
    f"with a JSON label of the same name below it.\nExpected layout:\n{EXPECTED_LAYOUT}"
  )


def parse_bbox(value: Any) -> tuple[float, float, float, float] | None:
  """abs_bbox "[x, y, w, h]" (a string in AI Hub's JSON, a list in some copies) or None."""
  if isinstance(value, str):
    try:
      value = json.loads(value)
    except ValueError:
      return None
  if (
    not isinstance(value, (list, tuple))
    or len(value) != 4
    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
  ):
    return None
  x, y, w, h = (float(v) for v in value)
  return (x, y, w, h) if w > 0 and h > 0 else None


@dataclasses.dataclass
class _Item:
  image: str  # absolute path
  label_json: dict
  code: str  # class code
  l3_object: str


class AihubAbstract(reporting_builder.ReportingBuilder):
  """AI Hub abstract images of the 20 competition classes (manual dir)."""

  name = "aihub_abstract"
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First version."}
  BUILDER_CONFIGS = [_config(256, False), _config(256, True)]
  DEFAULT_BUILDER_CONFIG_NAME = "full_s256"
  EXPECTED_LAYOUT = EXPECTED_LAYOUT
  MANUAL_DOWNLOAD_INSTRUCTIONS = EXPECTED_LAYOUT

  @classmethod
  def from_options(
    cls, data_dir, stored_short_side: int | None = 256, crop_to_bbox: bool = False, **options: Any
  ):
    registered = {c.name: c for c in cls.BUILDER_CONFIGS}
    config = registered.get(config_name(stored_short_side, crop_to_bbox)) or _config(
      stored_short_side, crop_to_bbox
    )
    return cls(data_dir=data_dir, config=config, file_format="array_record", **options)

  def _info(self) -> tfds.core.DatasetInfo:
    return reporting_builder.dataset_info(self, __doc__)

  def _name(self, path: str) -> str:
    return manual_files.relative(path, self._manual_dir)

  def _walk(self, root: str) -> tuple[list[str], dict[str, list[str]]]:
    """(JSON paths, {stem: image paths}) below root; prunes non-competition L2 folders."""
    codes = set(taxonomy.class_codes())
    labels, images = [], {}

    def unreadable(error: OSError) -> None:
      self.report.skip(
        self._name(error.filename) + "/", "unreadable folder", error.strerror or str(error)
      )

    for folder, dirs, files in os.walk(root, onerror=unreadable):
      dirs.sort()
      for name in list(dirs):
        if manual_files.CLASS_FOLDER.match(name) and name not in codes:
          dirs.remove(name)
          path = os.path.join(folder, name)
          self.report.skip(
            self._name(path) + "/", "unknown class folder", manual_files.unknown_class_detail(path)
          )
      if not files and not dirs and manual_files.CLASS_FOLDER.match(os.path.basename(folder)):
        self.report.skip(self._name(folder) + "/", "empty class folder")
      for name in sorted(files):
        path = os.path.join(folder, name)
        if name.lower().endswith(".json"):
          labels.append(path)
        else:
          images.setdefault(os.path.splitext(name)[0], []).append(path)
    return labels, images

  def _image_for(
    self, label_path: str, abs_path: Any, images: dict[str, list[str]]
  ) -> tuple[str | None, str]:
    """(image path or None, problem). Rejects an abs_path that points outside the manual dir."""
    stem = os.path.splitext(os.path.basename(label_path))[0]
    if isinstance(abs_path, str) and abs_path.strip():
      relative = abs_path.replace("\\", "/").lstrip("/")
      if "\x00" in relative:
        return None, "abs_path is not a file path"
      candidate = os.path.normpath(os.path.join(self._manual_dir, relative))
      resolved = os.path.realpath(candidate)  # also catches symlinks pointing outside
      if os.path.commonpath([resolved, self._real_manual_dir]) != self._real_manual_dir:
        return None, "abs_path escapes the manual dir"
      if os.path.isfile(candidate):
        return candidate, ""
      stem = os.path.splitext(os.path.basename(relative))[0] or stem
    paths = images.get(stem) or images.get(os.path.splitext(os.path.basename(label_path))[0])
    if paths:
      return paths[0], ""
    return None, "image not found"

  def _class_of(self, image_path: str, label_path: str) -> tuple[str | None, str]:
    """(class code or None, level-3 object) from L2_xx folders, else from the ctg_id."""
    codes = set(taxonomy.class_codes())
    code = None
    for path in (image_path, label_path):
      folders = [p for p in self._name(path).split("/")[:-1] if p in codes]
      if folders:
        code = folders[-1]
        break
    match = FILE_NAME.match(os.path.splitext(os.path.basename(image_path))[0])
    from_id = taxonomy.l3_id_to_class().get(match.group(2)) if match else None
    if code is None and from_id is not None:
      code = taxonomy.class_codes()[from_id[0]]
    l3_object = from_id[1] if from_id and taxonomy.class_codes()[from_id[0]] == code else ""
    return code, l3_object

  def _items(self, root: str) -> list[_Item]:
    labels, images = self._walk(root)
    used: set[str] = set()
    items = []
    for label_path in labels:
      name = self._name(label_path)
      stem = os.path.splitext(os.path.basename(label_path))[0]
      same_stem = images.get(stem, [])
      try:
        with open(label_path, encoding="utf-8-sig") as f:
          label_json = json.load(f)
        block = label_json["abstract_image"]
        if not isinstance(block, dict):
          raise TypeError("abstract_image is not an object")
      except (OSError, ValueError, KeyError, TypeError) as e:
        used.update(same_stem)  # The pair is listed once, under the label's name.
        self.report.skip(name, "malformed JSON", f"{type(e).__name__}: {e}")
        continue
      domain = block.get("abs_domain")
      image, problem = self._image_for(label_path, block.get("abs_path"), images)
      if problem:
        used.update(same_stem)
        self.report.skip(name, problem, str(block.get("abs_path", stem)))
        continue
      if image in used:  # Another label already claimed it (copies of a label file).
        self.report.skip(name, "second label for one image", self._name(image))
        continue
      used.add(image)
      if domain not in DOMAINS:
        self.report.skip(self._name(image), "unknown domain", f"abs_domain={domain!r} in {name}")
        continue
      code, l3_object = self._class_of(image, label_path)
      if code is None:
        self.report.skip(
          self._name(image),
          "unknown class",
          "no L2_xx folder in the path and no known ctg_id in the name",
        )
        continue
      items.append(_Item(image, label_json, code, l3_object))
    for paths in images.values():
      for path in paths:
        if path not in used:
          self.report.skip(self._name(path), "missing JSON label")
    return items

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    manual_dir = dl_manager._manual_dir  # pylint: disable=protected-access
    self._manual_dir = os.path.abspath(os.fspath(manual_dir))
    self._real_manual_dir = os.path.realpath(self._manual_dir)
    roots = find_split_roots(self._manual_dir)
    return self.generators({split: self._items(root) for split, root in roots.items()})

  def _cropped(self, pixels: np.ndarray, bbox_value: Any, name: str) -> np.ndarray:
    bbox = parse_bbox(bbox_value)
    if bbox is None:
      self.report.fix(name, f"abs_bbox {bbox_value!r} malformed; whole image kept")
      return pixels
    height, width = pixels.shape[:2]
    x, y, w, h = bbox
    left, top = max(0, round(x)), max(0, round(y))
    right, bottom = min(width, round(x + w)), min(height, round(y + h))
    if right - left < 2 or bottom - top < 2:
      self.report.fix(
        name, f"abs_bbox {bbox_value!r} outside the {width}x{height} image; whole image kept"
      )
      return pixels
    if (left, top, right, bottom) != (round(x), round(y), round(x + w), round(y + h)):
      self.report.fix(name, f"abs_bbox {bbox_value!r} clipped to the {width}x{height} image")
    return pixels[top:bottom, left:right]

  def _example(self, item: _Item) -> tuple[str, dict] | None:
    name = self._name(item.image)
    config = self.builder_config
    try:
      # Crop coordinates refer to the full image: decode at full size before cropping.
      decoded = decode.decode_image(
        item.image,
        name=name,
        shorter_side=None if config.crop_to_bbox else config.stored_short_side,
      )
    except decode.ImageDecodeError as e:
      self.report.skip(name, e.reason, e.detail)
      return None
    if decoded.fixes:
      self.report.fix(name, "; ".join(decoded.fixes))
    pixels = decoded.pixels
    if config.crop_to_bbox:
      pixels = self._cropped(pixels, item.label_json["abstract_image"].get("abs_bbox"), name)
      if config.stored_short_side:
        pixels = decode.downscale_to_shorter_side(pixels, config.stored_short_side)
    return name, {
      "image": decode.encode_png(pixels),
      "label": item.code,
      "domain": item.label_json["abstract_image"]["abs_domain"],
      "file_name": name,
      "l3_object": item.l3_object,
    }
