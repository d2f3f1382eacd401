"""Where the audited images come from: a competition folder, the embedded archive or a TFDS builder.

Every source yields the same thing: a list of `AuditItem` (the identity of each file, the key
written to the cleaned manifest) and `read(index)` returning the decoded RGB image plus its
original size and encoded byte size (the representative of a duplicate group is the largest).
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib
import re
import zipfile

import numpy as np

from abstract_cls import taxonomy
from abstract_cls.data import decode

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Competition folders use "valid"; the rest of the project says "validation".
_FOLDER_SPLITS = {
  "train": "train",
  "valid": "validation",
  "validation": "validation",
  "val": "validation",
  "test": "test",
}
# AI Hub file names start with s_/i_/p_ + 4-digit level-3 id (see dcc2022 README).
_AIHUB_NAME = re.compile(r"^([sip])_(\d{4})_")
_AIHUB_DOMAIN = {"s": "SKETCH", "i": "ILLUSTRATION", "p": "PICTOGRAM"}
# Earlier splits win when a duplicate group crosses splits: the copy kept is the training one,
# so evaluation splits lose the leaked copies rather than training losing data.
SPLIT_ORDER = ("train", "validation", "test", "test_unseen_style")


def split_rank(split: str) -> int:
  return SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER)


@dataclasses.dataclass(frozen=True)
class AuditItem:
  file_name: str  # key of the cleaned manifest (relative path / TFDS file_name feature)
  split: str
  class_code: str
  domain: str
  source_set: str = ""


@dataclasses.dataclass(frozen=True)
class DecodedImage:
  rgb: np.ndarray  # uint8 [H, W, 3], possibly reduced from the original for speed
  original_size: tuple[int, int]  # (width, height) before any reduction
  num_bytes: int  # encoded size; 0 when unknown


def decode_bytes(data: bytes, name: str, max_side: int = 0) -> DecodedImage:
  """Decodes with the project's robust decoder (alpha on white, EXIF, odd modes).

  max_side > 0 downscales so the shorter side is at most max_side (JPEGs decode at reduced
  scale): the audit works on small views and the competition's 2480x3508 scans would
  otherwise dominate the run time. Raises ValueError (decode.ImageDecodeError) naming the file.
  """
  decoded = decode.decode_image(data, name=name, shorter_side=max_side or None)
  return DecodedImage(decoded.pixels, tuple(decoded.source_size), len(data))


class FolderSource:
  """Competition layout: DIR/L2_xx/* or DIR/{train,valid,...}/L2_xx/*."""

  def __init__(self, root: str | pathlib.Path, split: str = ""):
    self.root = pathlib.Path(root)
    self.description = f"folder:{self.root}"
    if not self.root.is_dir():
      raise FileNotFoundError(f"{self.root}: not a directory")
    codes = set(taxonomy.class_codes())
    self.items: list[AuditItem] = []
    self._paths: list[pathlib.Path] = []
    self.skipped: list[dict] = []
    for path in sorted(self.root.rglob("*")):
      if not path.is_file():
        continue
      rel = path.relative_to(self.root)
      if path.suffix.lower() not in IMAGE_SUFFIXES:
        self.skipped.append({"file": str(rel), "reason": "not an image suffix"})
        continue
      parts = rel.parts
      if len(parts) < 2 or parts[-2] not in codes:
        self.skipped.append({"file": str(rel), "reason": "not inside an L2_xx class folder"})
        continue
      item_split = _FOLDER_SPLITS.get(parts[-3], parts[-3]) if len(parts) >= 3 else "train"
      if split and item_split != split:
        continue
      match = _AIHUB_NAME.match(path.name)
      domain = _AIHUB_DOMAIN[match.group(1)] if match else "UNKNOWN"
      self.items.append(AuditItem(rel.as_posix(), item_split, parts[-2], domain))
      self._paths.append(path)
    if not self.items:
      raise ValueError(f"{self.root}: no images found in L2_xx class folders")

  def raw_bytes(self, index: int) -> bytes:
    return self._paths[index].read_bytes()

  def read(self, index: int, max_side: int = 0) -> DecodedImage:
    return decode_bytes(self.raw_bytes(index), str(self._paths[index]), max_side)


class EmbeddedSource:
  """The embedded archive (docs/DESIGN.md) read straight from images*.zip + manifest.csv."""

  def __init__(self, embedded_dir: str | pathlib.Path, split: str = ""):
    self.dir = pathlib.Path(embedded_dir)
    self.description = f"embedded:{self.dir}"
    manifest = self.dir / "manifest.csv"
    if not manifest.exists():
      raise FileNotFoundError(f"{manifest}: embedded manifest missing")
    with manifest.open(newline="", encoding="utf-8") as f:
      rows = [r for r in csv.DictReader(f) if not split or r["split"] == split]
    if not rows:
      raise ValueError(f"{manifest}: no rows for split {split!r}")
    self._zips = [zipfile.ZipFile(p) for p in sorted(self.dir.glob("images*.zip"))]
    if not self._zips:
      raise FileNotFoundError(f"{self.dir}: no images*.zip archive")
    self._member_zip = {}
    for archive in self._zips:
      for name in archive.namelist():
        self._member_zip[name] = archive
    # Rows the abstract_icons builder would skip are skipped here too (and listed), so the
    # audit sees exactly the builder's records.
    codes, domains = set(taxonomy.class_codes()), set(taxonomy.DOMAINS[:3])
    self.items: list[AuditItem] = []
    self.skipped: list[dict] = []
    seen = set()
    for r in rows:
      problem = (
        "duplicate manifest row"
        if r["file"] in seen
        else f"unknown split {r['split']}"
        if r["split"] not in SPLIT_ORDER
        else "missing from archive"
        if r["file"] not in self._member_zip
        else f"unknown class {r['class_code']}"
        if r["class_code"] not in codes
        else f"unknown domain {r['domain']}"
        if r["domain"] not in domains
        else ""
      )
      seen.add(r["file"])
      if problem:
        self.skipped.append({"file": r["file"], "reason": problem})
      else:
        self.items.append(
          AuditItem(r["file"], r["split"], r["class_code"], r["domain"], r.get("source_set", ""))
        )
    if not self.items:
      raise ValueError(f"{manifest}: no usable rows")

  def raw_bytes(self, index: int) -> bytes:
    name = self.items[index].file_name
    return self._member_zip[name].read(name)

  def read(self, index: int, max_side: int = 0) -> DecodedImage:
    return decode_bytes(self.raw_bytes(index), self.items[index].file_name, max_side)


class TfdsSource:
  """A prepared TFDS builder, read by random access with the PNG left encoded."""

  def __init__(
    self,
    name: str,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    split: str = "",
    **builder_kwargs,
  ):
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    from abstract_cls.data import builders  # pylint: disable=import-outside-toplevel

    builder = builders.prepare(name, data_dir, manual_dir=manual_dir, **builder_kwargs)
    available = sorted(builder.info.splits.keys(), key=split_rank)
    if split and split not in available:
      raise ValueError(f"{name} has no split {split!r}; it has {available}")
    self.description = f"tfds:{name}"
    self.items: list[AuditItem] = []
    self._records = []
    codes = taxonomy.class_codes()
    for split_name in [split] if split else available:
      source = builder.as_data_source(split_name, decoders={"image": tfds.decode.SkipDecoding()})
      for i in range(len(source)):
        record = source[i]
        file_name = record["file_name"]
        if isinstance(file_name, bytes):
          file_name = file_name.decode("utf-8")
        self.items.append(
          AuditItem(
            str(file_name),
            split_name,
            codes[int(record["label"])],
            taxonomy.DOMAINS[int(record["domain"])],
          )
        )
        self._records.append((source, i))
    self.skipped: list[dict] = []

  def raw_bytes(self, index: int) -> bytes:
    source, i = self._records[index]
    return bytes(source[i]["image"])

  def read(self, index: int, max_side: int = 0) -> DecodedImage:
    return decode_bytes(self.raw_bytes(index), self.items[index].file_name, max_side)
