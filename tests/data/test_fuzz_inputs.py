"""Fuzzing with hypothesis: the image decoder and the three builders' label parsing.

Mutated PNG/JPEG/GIF/BMP/WebP bytes, AI Hub JSON labels, abstract_icons manifest rows and
dcc2022 folder names. The decoder returns RGB pixels or raises ImageDecodeError; a builder
keeps every file or lists it in the prepare report with a reason (a manual dir or archive
that is unusable as a whole is one clear error) — never any other exception.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import posixpath
import shutil
import tempfile
import zipfile

import image_fixtures as images
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from abstract_cls.data import decode
from abstract_cls.data.builders import ManualDirError
from abstract_cls.data.builders import report as report_lib
from abstract_cls.data.builders.abstract_icons import abstract_icons_dataset_builder as icons_lib
from abstract_cls.data.builders.aihub_abstract import aihub_abstract_dataset_builder as aihub_lib
from abstract_cls.data.builders.dcc2022 import dcc2022_dataset_builder as dcc_lib

pytestmark = pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")

SEEDS = {
  "png": images.rgb(12, 10),
  "rgba_png": images.rgba_transparent(12),
  "grey16_png": images.grey16_png(12),
  "jpeg": images.rgb(12, 10, "JPEG"),
  "exif_jpeg": images.exif_rotated_jpeg(12, 8),
  "cmyk_jpeg": images.cmyk_jpeg(12),
  "gif": images.palette_gif(12),
  "bmp": images.rgb(9, 7, "BMP"),
  "webp": images.rgb(9, 7, "WEBP"),
}
SMALL_LIMIT = 1 << 16  # pixels: mutated headers must not make an example slow
_FUZZ = settings(
  derandomize=True,
  database=None,
  deadline=None,
  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(examples: int):
  """Reproducible runs (same examples on every machine) of `examples` inputs."""
  return settings(_FUZZ, max_examples=examples)


@st.composite
def mutated(draw, data: bytes) -> bytes:
  """`data` with a few byte flips, insertions, deletions or a truncation."""
  out = bytearray(data)
  for _ in range(draw(st.integers(0, 6))):
    kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
    at = draw(st.integers(0, max(len(out) - 1, 0)))
    if kind == "flip" and out:
      out[at] = draw(st.integers(0, 255))
    elif kind == "insert":
      out[at:at] = draw(st.binary(min_size=1, max_size=8))
    elif kind == "delete":
      del out[at : at + draw(st.integers(1, 16))]
    else:
      del out[at:]
  return bytes(out)


def image_bytes():
  return st.sampled_from(sorted(SEEDS)).flatmap(lambda name: mutated(SEEDS[name]))


@fuzz(1500)
@given(data=image_bytes(), shorter_side=st.sampled_from([None, 4, 64]))
def test_decoder_returns_rgb_or_a_decode_error(data, shorter_side):
  try:
    decoded = decode.decode_image(
      data, name="fuzz", shorter_side=shorter_side, max_pixels=SMALL_LIMIT
    )
  except decode.ImageDecodeError as e:
    assert e.reason and e.source_name == "fuzz"
    return
  pixels = decoded.pixels
  assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
  assert pixels.shape[0] > 0 and pixels.shape[1] > 0


# ---------------------------------------------------------------- builders


class _ManualDir:
  """What _split_generators reads from TFDS's download manager."""

  def __init__(self, path):
    self._manual_dir = path


def _run_builder(builder, dl_manager) -> set[str]:
  """Lists and reads every item as a prepare would; -> the kept file names."""
  builder.report = report_lib.PrepareReport({})
  kept = set()
  try:
    generators = builder._split_generators(dl_manager)  # pylint: disable=protected-access
  except ValueError as e:  # the whole input unusable: one clear error, files still listed
    assert "no usable image at all" in str(e), e
    return kept
  for generator in generators.values():
    kept.update(example["file_name"] for _, example in generator)
  return kept


def _listed(name: str, report: report_lib.PrepareReport) -> bool:
  skipped = {e["file"] for e in report.skipped}
  return name in skipped or any(s.endswith("/") and name.startswith(s) for s in skipped)


def _stem(name: str) -> str:
  return posixpath.splitext(posixpath.basename(name))[0]


def _files(root: str) -> list[str]:
  out = []
  for folder, _, files in os.walk(root):
    for name in files:
      path = os.path.join(folder, name)
      rel = os.path.relpath(path, root).replace(os.sep, "/")
      out.append(rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))
  return out


def _paired_image(root: str, name: str) -> str:
  """The image a JSON label names in abs_path (AI Hub pairs by it, not only by stem), or ''."""
  if not name.endswith(".json"):
    return ""
  try:
    path = json.loads(pathlib.Path(root, name).read_bytes())["abstract_image"]["abs_path"]
  except (ValueError, KeyError, TypeError):
    return ""
  return path.replace("\\", "/").lstrip("/") if isinstance(path, str) else ""


def _check_every_file(root: str, builder, kept: set[str]) -> None:
  # An image and its JSON label are one item: kept, or listed once under either name.
  done_stems = {_stem(k) for k in kept} | {_stem(e["file"]) for e in builder.report.skipped}
  for name in _files(root):
    covered = (
      name in kept
      or _listed(name, builder.report)
      or _stem(name) in done_stems
      or _paired_image(root, name) in kept
    )
    assert covered, (name, builder.report.as_dict())


@pytest.fixture(scope="module")
def workspace():
  path = tempfile.mkdtemp(prefix="fuzz_builders_")
  yield pathlib.Path(path)
  shutil.rmtree(path, ignore_errors=True)


def _fresh(workspace: pathlib.Path, name: str) -> pathlib.Path:
  folder = workspace / name
  shutil.rmtree(folder, ignore_errors=True)
  folder.mkdir(parents=True)
  return folder


JSON_VALUES = st.recursive(
  st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats() | st.text(max_size=12),
  lambda inner: (
    st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
  ),
  max_leaves=8,
)
BBOXES = st.one_of(
  st.just("[2, 3, 20, 10]"),
  st.lists(st.one_of(st.integers(-(10**9), 10**9), st.floats()), max_size=5),
  st.lists(st.one_of(st.integers(-(10**9), 10**9), st.floats()), max_size=5).map(json.dumps),
  JSON_VALUES,
)
ABS_PATHS = st.one_of(
  st.sampled_from(["", "/images/s_0816_1_1.jpg", "../../../etc/passwd", "a\x00b.jpg", "/"]),
  st.text(max_size=30),
  JSON_VALUES,
)
LABEL_BLOCKS = st.fixed_dictionaries(
  {
    "abs_domain": st.one_of(
      st.sampled_from(["SKETCH", "ILLUSTRATION", "PICTOGRAM", "PHOTO"]), JSON_VALUES
    ),
    "abs_bbox": BBOXES,
    "abs_path": ABS_PATHS,
  }
)
LABEL_TEXTS = st.one_of(
  LABEL_BLOCKS.map(lambda b: json.dumps({"abstract_image": b})),
  JSON_VALUES.map(json.dumps),
)
STEMS = ["s_0816_1_1", "i_0554_2_1", "p_9999_3_1", "x"]


@st.composite
def aihub_files(draw) -> dict[str, bytes]:
  files = {}
  for stem in draw(st.lists(st.sampled_from(STEMS), min_size=1, max_size=3, unique=True)):
    folder = draw(st.sampled_from(["images", "labels", "L2_46", "L2_99", "images/L2_33"]))
    if draw(st.booleans()):
      files[f"{folder}/{stem}{draw(st.sampled_from(['.jpg', '.png', '.gif']))}"] = draw(
        image_bytes()
      )
    if draw(st.booleans()):
      text = draw(LABEL_TEXTS).encode()
      files[f"labels/{stem}.json"] = draw(mutated(text)) if draw(st.booleans()) else text
  return files


# A label whose abs_path names an image of another stem: the pair is kept under the image's name.
ABS_PATH_PAIR = {
  "images/s_0816_1_1.jpg": SEEDS["jpeg"],
  "labels/i_0554_2_1.json": json.dumps(
    {"abstract_image": {"abs_domain": "SKETCH", "abs_path": "/images/s_0816_1_1.jpg"}}
  ).encode(),
}


@fuzz(300)
@given(files=aihub_files(), crop=st.booleans())
@example(files=ABS_PATH_PAIR, crop=False)
def test_aihub_keeps_or_lists_every_file(workspace, files, crop):
  manual = _fresh(workspace, "aihub")
  for name, data in files.items():
    (manual / name).parent.mkdir(parents=True, exist_ok=True)
    (manual / name).write_bytes(data)
  builder = aihub_lib.AihubAbstract.from_options(
    str(workspace / "tfds"), stored_short_side=16, crop_to_bbox=crop
  )
  try:
    kept = _run_builder(builder, _ManualDir(str(manual)))
  except ManualDirError:  # no image/JSON pair at all: the precise layout error
    assert not aihub_lib._has_label_pairs(str(manual))  # pylint: disable=protected-access
    return
  _check_every_file(str(manual), builder, kept)


MANIFEST_FIELDS = {
  "split": st.one_of(
    st.sampled_from(["train", "validation", "test", "bogus", ""]), st.text(max_size=6)
  ),
  "class_code": st.one_of(st.sampled_from(["L2_10", "L2_52", "L2_99", ""]), st.text(max_size=6)),
  "domain": st.one_of(st.sampled_from(["SKETCH", "PICTOGRAM", "PHOTO"]), st.text(max_size=6)),
  "l3_object": st.text(max_size=10),
}


@st.composite
def icon_archives(draw):
  members = draw(st.lists(st.sampled_from(["a.png", "b.png", "c.jpg", "d.png"]), unique=True))
  contents = {m: draw(image_bytes()) for m in members}
  rows = []
  for _ in range(draw(st.integers(0, 5))):
    row = {c: "x" for c in icons_lib.MANIFEST_COLUMNS}
    row["file"] = draw(
      st.one_of(st.sampled_from(["a.png", "b.png", "c.jpg", "e.png"]), st.text(max_size=8))
    )
    for field, strategy in MANIFEST_FIELDS.items():
      row[field] = draw(strategy)
    rows.append(row)
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=list(icons_lib.MANIFEST_COLUMNS))
  writer.writeheader()
  writer.writerows(rows)
  manifest = buffer.getvalue().encode("utf-8", "surrogatepass")
  if draw(st.booleans()):
    manifest = draw(mutated(manifest))
  return contents, manifest


@fuzz(150)
@given(archive=icon_archives())
def test_abstract_icons_keeps_or_lists_every_manifest_row(workspace, archive):
  contents, manifest = archive
  folder = _fresh(workspace, "icons")
  with zipfile.ZipFile(folder / "images.zip", "w") as zf:
    for name, data in contents.items():
      zf.writestr(name, data)
  (folder / "manifest.csv").write_bytes(manifest)
  builder = icons_lib.AbstractIcons(archive_dir=str(folder), data_dir=str(workspace / "tfds"))
  builder._open_zips = {}  # pylint: disable=protected-access
  try:
    kept = _run_builder(builder, None)
  except icons_lib.ArchiveError as e:  # the manifest as a whole is unusable: one clear error
    assert "manifest" in str(e)
    return
  finally:
    for opened in builder._open_zips.values():  # pylint: disable=protected-access
      opened.close()
  for name in contents:
    assert name in kept or _listed(name, builder.report), (name, builder.report.as_dict())


FOLDER_NAMES = st.one_of(
  st.sampled_from(["L2_10", "L2_3", "L2_99", "L2_", "train", "valid", "misc", ".hidden"]),
  st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=10,
  ),
)


@fuzz(150)
@given(
  layout=st.lists(
    st.tuples(st.lists(FOLDER_NAMES, min_size=1, max_size=2), image_bytes()),
    min_size=1,
    max_size=4,
  )
)
def test_dcc2022_keeps_or_lists_every_file(workspace, layout):
  manual = _fresh(workspace, "dcc")
  for i, (folders, data) in enumerate(layout):
    folder = manual.joinpath(*[f for f in folders if f not in (".", "..")])
    try:
      folder.mkdir(parents=True, exist_ok=True)
      (folder / f"img{i}.png").write_bytes(data)
    except OSError:  # a name the file system refuses (too long, reserved)
      continue
  builder = dcc_lib.Dcc2022.from_options(str(workspace / "tfds"), stored_short_side=16)
  try:
    kept = _run_builder(builder, _ManualDir(str(manual)))
  except ManualDirError as e:  # neither train/ nor class folders: the precise layout error
    assert "Expected layout" in str(e)
    return
  _check_every_file(str(manual), builder, kept)
