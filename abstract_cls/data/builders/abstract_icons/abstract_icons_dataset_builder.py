"""abstract_icons: the embedded, openly licensed icon set, no download.

Reads abstract_cls/data/embedded/images.zip (or images-*.zip) and manifest.csv.
PNG bytes are stored as they are in the zip (each one is still fully decoded once to
check it is an intact 8-bit RGB PNG); anything else is decoded, fixed and re-encoded.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import os
import pathlib
import struct
import zipfile
import zlib
from typing import Any

import tensorflow_datasets as tfds

from abstract_cls import taxonomy
from abstract_cls.data import decode
from abstract_cls.data.builders import reporting_builder

EMBEDDED_DIR = pathlib.Path(__file__).resolve().parents[2] / "embedded"
MANIFEST_COLUMNS = (
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
SPLITS = ("train", "validation", "test", "test_unseen_style")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ArchiveError(FileNotFoundError):
  """The embedded archive is missing or its manifest is unusable as a whole."""


def _zip_paths(archive_dir: pathlib.Path) -> list[pathlib.Path]:
  paths = [archive_dir / "images.zip"] if (archive_dir / "images.zip").exists() else []
  paths += sorted(pathlib.Path(p) for p in glob.glob(os.fspath(archive_dir / "images-*.zip")))
  return paths


def _read_manifest(path: pathlib.Path) -> list[dict[str, str]]:
  try:
    with path.open(newline="", encoding="utf-8") as f:
      reader = csv.DictReader(f)
      missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or ())]
      if missing:
        raise ArchiveError(
          f"{path}: manifest lacks columns {missing}; expected exactly {','.join(MANIFEST_COLUMNS)}"
        )
      return list(reader)
  except (UnicodeDecodeError, csv.Error) as e:
    raise ArchiveError(f"{path}: manifest is not UTF-8 CSV ({e})") from None


def is_intact_rgb_png(data: bytes) -> bool:
  """True for a complete, uncorrupted, non-interlaced 8-bit RGB PNG without transparency.

  Such bytes can be stored as they are. Checks every chunk CRC and inflates the pixel
  data (bounded) to check its length and row filters: ~10x cheaper than a Pillow decode.
  Anything else returns False and goes through decode.decode_image, which says what is
  wrong or fixes it.
  """
  if not data.startswith(_PNG_SIGNATURE):
    return False
  position, size, pixel_data = len(_PNG_SIGNATURE), None, []
  while position + 12 <= len(data):
    length, kind = struct.unpack(">I4s", data[position : position + 8])
    body_end = position + 8 + length
    if body_end + 4 > len(data):
      return False
    body = data[position + 8 : body_end]
    if zlib.crc32(kind + body) != struct.unpack(">I", data[body_end : body_end + 4])[0]:
      return False
    if kind == b"IHDR":
      width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
      if depth != 8 or colour != 2 or interlace or width * height > decode.MAX_IMAGE_PIXELS:
        return False
      size = (width, height)
    elif kind == b"tRNS":
      return False
    elif kind == b"IDAT":
      pixel_data.append(body)
    elif kind == b"IEND":
      if size is None:
        return False
      stride = 1 + 3 * size[0]
      expected = stride * size[1]
      inflater = zlib.decompressobj()
      try:
        raw = inflater.decompress(b"".join(pixel_data), expected + 1)
      except zlib.error:
        return False
      return len(raw) == expected and inflater.eof and max(raw[::stride]) <= 4
    position = body_end + 4
  return False


def _sha256(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


class AbstractIcons(reporting_builder.ReportingBuilder):
  """Icons in the 20 competition classes and three domains, from the embedded archive."""

  name = "abstract_icons"
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First version, from the embedded archive."}

  def __init__(self, *, archive_dir: str | os.PathLike | None = None, **kwargs: Any):
    """archive_dir: folder with images.zip + manifest.csv (default: the embedded one)."""
    self._archive_dir = pathlib.Path(archive_dir).resolve() if archive_dir else EMBEDDED_DIR
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return reporting_builder.dataset_info(self, __doc__)

  def source_description(self, manual_dir: str | None) -> dict[str, Any]:
    """The archive's content, not its path: two checkouts of the same archive share one
    prepared copy instead of each preparing it again over the other's files."""
    del manual_dir
    manifest = self._archive_dir / "manifest.csv"
    return {
      "manifest_sha256": _sha256(manifest) if manifest.exists() else None,
      "zip_sha256": {p.name: _sha256(p) for p in _zip_paths(self._archive_dir)},
    }

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Nothing to download: the archive ships with the package.
    manifest_path = self._archive_dir / "manifest.csv"
    zip_paths = _zip_paths(self._archive_dir)
    if not manifest_path.exists() or not zip_paths:
      raise ArchiveError(
        f"abstract_icons: no archive in {self._archive_dir} (need manifest.csv and "
        "images.zip or images-*.zip, as in abstract_cls/data/embedded/)."
      )
    members: dict[str, pathlib.Path] = {}
    for zip_path in zip_paths:
      with zipfile.ZipFile(zip_path) as archive:
        for member in archive.namelist():
          if not member.endswith("/"):
            members.setdefault(member, zip_path)
    rows_per_split: dict[str, list[dict[str, str]]] = {s: [] for s in SPLITS}
    listed: set[str] = set()
    codes, domains = set(taxonomy.class_codes()), set(taxonomy.DOMAINS[:3])
    for row in _read_manifest(manifest_path):
      file = row["file"]
      if file in listed:
        self.report.skip(file, "duplicate manifest row")
      elif row["split"] not in rows_per_split:
        self.report.skip(file, "unknown split", row["split"])
      elif row["class_code"] not in codes:
        self.report.skip(file, "unknown class", row["class_code"])
      elif row["domain"] not in domains:
        self.report.skip(file, "unknown domain", row["domain"])
      elif file not in members:
        self.report.skip(file, "missing from archive")
      else:
        rows_per_split[row["split"]].append(row)
      listed.add(file)
    for member in sorted(set(members) - listed):
      self.report.skip(member, "not in manifest")
    self._members = members
    return self.generators({split: rows for split, rows in rows_per_split.items() if rows})

  def _read_member(self, file: str) -> bytes:
    zip_path = self._members[file]
    if zip_path not in self._open_zips:
      self._open_zips[zip_path] = zipfile.ZipFile(zip_path)
    return self._open_zips[zip_path].read(file)

  def _download_and_prepare(self, dl_manager, download_config=None):
    self._open_zips: dict[pathlib.Path, zipfile.ZipFile] = {}
    try:
      super()._download_and_prepare(dl_manager, download_config)
    finally:
      for archive in self._open_zips.values():
        archive.close()

  def _example(self, row: dict[str, str]) -> tuple[str, dict] | None:
    file = row["file"]
    try:
      data = self._read_member(file)
    except (zipfile.BadZipFile, OSError) as e:  # Bad CRC or compressed stream.
      self.report.skip(file, "corrupt zip member", str(e))
      return None
    if not is_intact_rgb_png(data):
      try:
        decoded = decode.decode_image(data, name=file)
      except decode.ImageDecodeError as e:
        self.report.skip(file, e.reason, e.detail)
        return None
      data = decode.encode_png(decoded.pixels)
      self.report.fix(file, "; ".join(decoded.fixes + ("re-encoded as RGB PNG",)))
    return file, {
      "image": data,
      "label": row["class_code"],
      "domain": row["domain"],
      "file_name": file,
      "l3_object": row["l3_object"],
    }
