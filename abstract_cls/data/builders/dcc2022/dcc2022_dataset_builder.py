"""dcc2022: the 2022 Data Creator Camp data as teams received it (manual dir).

Class folders L2_xx with randomly named JPEG/PNG/GIF/BMP/WebP files, either under
train/ and valid/ parents (-> train, validation) or directly in the manual dir (-> train
only; the input pipeline splits off a seeded stratified validation set). Every image is
decoded robustly (alpha on white, EXIF, palette/greyscale/16-bit/CMYK -> RGB),
downscaled to the configured stored size and stored as PNG.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import tensorflow_datasets as tfds

from abstract_cls import taxonomy
from abstract_cls.data import decode
from abstract_cls.data.builders import manual_files, reporting_builder

# Folder names accepted as split parents (lower-cased) -> TFDS split.
SPLIT_FOLDERS = {
  "train": "train",
  "training": "train",
  "valid": "validation",
  "validation": "validation",
  "val": "validation",
}

EXPECTED_LAYOUT = """\
  MANUAL_DIR/train/L2_10/<any name>.jpg ... and MANUAL_DIR/valid/L2_10/...  -> train, validation
  or MANUAL_DIR/L2_10/<any name>.jpg ...                                   -> train only
  (class folders L2_10 ... L2_52, see abstract_cls/classes.csv; JPEG/PNG/GIF/BMP/WebP;
  a single wrapper folder around either layout is fine)"""


@dataclasses.dataclass(eq=False)
class Dcc2022Config(tfds.core.BuilderConfig):
  stored_short_side: int | None = 256  # None: store at the original size


def config_name(stored_short_side: int | None) -> str:
  return f"s{stored_short_side}" if stored_short_side else "original"


def _config(stored_short_side: int | None) -> Dcc2022Config:
  return Dcc2022Config(
    name=config_name(stored_short_side),
    stored_short_side=stored_short_side,
    description=(
      f"shorter side downscaled to {stored_short_side} px" if stored_short_side else "original size"
    ),
  )


def find_split_roots(manual_dir: str) -> dict[str, str]:
  """{split: folder holding the class folders}; raises ManualDirError for other layouts."""
  entries = sorted((e for e in os.scandir(manual_dir)), key=lambda e: e.name)
  dirs = [e for e in entries if e.is_dir()]
  split_roots = {}
  for entry in dirs:
    split = SPLIT_FOLDERS.get(entry.name.lower())
    if split and split not in split_roots:
      split_roots[split] = entry.path
  if "train" in split_roots:
    return split_roots
  if any(manual_files.CLASS_FOLDER.match(e.name) for e in dirs):
    return {"train": manual_dir}
  visible = [e for e in entries if not e.name.startswith(".")]
  if len(visible) == 1 and visible[0].is_dir():  # e.g. an archive that unpacks into one folder
    return find_split_roots(visible[0].path)
  found = ", ".join(e.name + ("/" if e.is_dir() else "") for e in entries[:10]) or "nothing"
  raise reporting_builder.ManualDirError(
    f"dcc2022: {manual_dir} has neither train/ (and valid/) nor L2_xx class folders "
    f"(found: {found}).\nExpected layout:\n{EXPECTED_LAYOUT}"
  )


class Dcc2022(reporting_builder.ReportingBuilder):
  """The competition's 20 class folders, as received (manual dir)."""

  name = "dcc2022"
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First version."}
  BUILDER_CONFIGS = [_config(256), _config(None)]
  DEFAULT_BUILDER_CONFIG_NAME = "s256"
  EXPECTED_LAYOUT = EXPECTED_LAYOUT
  MANUAL_DOWNLOAD_INSTRUCTIONS = EXPECTED_LAYOUT

  @classmethod
  def from_options(cls, data_dir, stored_short_side: int | None = 256, **options: Any):
    registered = {c.name: c for c in cls.BUILDER_CONFIGS}
    config = registered.get(config_name(stored_short_side)) or _config(stored_short_side)
    return cls(data_dir=data_dir, config=config, file_format="array_record", **options)

  def _info(self) -> tfds.core.DatasetInfo:
    return reporting_builder.dataset_info(self, __doc__)

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    manual_dir = dl_manager._manual_dir  # pylint: disable=protected-access
    manual_dir = os.path.abspath(os.fspath(manual_dir))
    split_roots = find_split_roots(manual_dir)
    if split_roots.get("train") != manual_dir:  # split layout: list what else is at the top
      used = set(split_roots.values())
      top = os.path.dirname(split_roots["train"])
      for entry in sorted(os.scandir(top), key=lambda e: e.name):
        if entry.path not in used:
          name = manual_files.relative(entry.path, manual_dir) + ("/" if entry.is_dir() else "")
          self.report.skip(name, "not a train/ or valid/ folder", "not read")
    codes = set(taxonomy.class_codes())
    files_per_split = {}

    def unreadable(error: OSError) -> None:
      self.report.skip(
        manual_files.relative(error.filename, manual_dir) + "/",
        "unreadable folder",
        error.strerror or str(error),
      )

    for split, root in split_roots.items():
      files = []
      for entry in sorted(os.scandir(root), key=lambda e: e.name):
        name = manual_files.relative(entry.path, manual_dir)
        if not entry.is_dir():
          self.report.skip(name, "not in a class folder")
        elif entry.name not in codes:
          self.report.skip(
            name + "/", "unknown class folder", manual_files.unknown_class_detail(entry.path)
          )
        else:
          class_files = [
            (path, entry.name) for path in manual_files.files_below(entry.path, unreadable)
          ]
          if not class_files:
            self.report.skip(name + "/", "empty class folder")
          files += class_files
      files_per_split[split] = files
    self._manual_dir = manual_dir
    return self.generators(files_per_split)

  def _example(self, item: tuple[str, str]) -> tuple[str, dict] | None:
    path, code = item
    name = manual_files.relative(path, self._manual_dir)
    try:
      decoded = decode.decode_image(
        path, name=name, shorter_side=self.builder_config.stored_short_side
      )
    except decode.ImageDecodeError as e:
      self.report.skip(name, e.reason, e.detail)
      return None
    if decoded.fixes:
      self.report.fix(name, "; ".join(decoded.fixes))
    return name, {
      "image": decode.encode_png(decoded.pixels),
      "label": code,
      "domain": "UNKNOWN",
      "file_name": name,
      "l3_object": "",
    }
