"""Checks the committed embedded data set (abstract_cls/data/embedded/) against its manifest.

Needs neither node nor ../shared: it reads only the committed zip, manifest,
sources.json and DATA_CARD.md.
"""

import collections
import csv
import io
import pathlib
import re
import zipfile

import imagehash
import numpy as np
import pytest
from PIL import Image

from abstract_cls import taxonomy

EMBEDDED = pathlib.Path(__file__).resolve().parents[1] / "abstract_cls" / "data" / "embedded"
COLUMNS = [
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
]
SPLITS = {"train", "validation", "test", "test_unseen_style"}
DOMAINS = {"SKETCH", "ILLUSTRATION", "PICTOGRAM"}
RESERVED = {
  "fluent-emoji",
  "fluent-emoji-flat",
  "fluent-emoji-high-contrast",
  "streamline-freehand",
  "streamline-freehand-color",
}
ALLOWED_LICENSES = {
  "MIT",
  "ISC",
  "Apache-2.0",
  "CC0-1.0",
  "CC-BY-3.0",
  "CC-BY-4.0",
  "CC-BY-SA-4.0",
  "OFL-1.1",
}
# Must match tools/build_icons/dedup.GROUP_DISTANCE: images this close are one design.
NEAR_IDENTICAL = 8
MAX_COMMITTED_BYTES = 40 * 1024 * 1024


@pytest.fixture(scope="module")
def rows():
  with (EMBEDDED / "manifest.csv").open(newline="", encoding="utf-8") as f:
    reader = csv.DictReader(f)
    assert reader.fieldnames == COLUMNS
    return list(reader)


@pytest.fixture(scope="module")
def decoded(rows):
  """file -> (mode, size, pHash recomputed from the stored pixels)."""
  out = {}
  with zipfile.ZipFile(EMBEDDED / "images.zip") as zf:
    for r in rows:
      img = Image.open(io.BytesIO(zf.read(r["file"])))
      img.load()
      out[r["file"]] = (img.format, img.mode, img.size, str(imagehash.phash(img)))
  return out


def test_counts_and_archive_members_match(rows):
  assert len(rows) >= 5000
  files = [r["file"] for r in rows]
  assert len(set(files)) == len(files)
  with zipfile.ZipFile(EMBEDDED / "images.zip") as zf:
    names = zf.namelist()
  assert sorted(names) == sorted(files)
  size = sum(p.stat().st_size for p in EMBEDDED.iterdir())
  assert size <= MAX_COMMITTED_BYTES, f"embedded data is {size} bytes"


def test_fields_are_valid(rows):
  objects = {c.code: set(c.l3_objects) for c in taxonomy.classes()}
  for r in rows:
    assert r["split"] in SPLITS, r
    assert r["file"].startswith(r["split"] + "/") and r["file"].endswith(".png"), r
    assert r["class_code"] in objects, r
    assert r["domain"] in DOMAINS, r
    # a listed level-3 type, or a generic object of that class marked as such
    assert r["l3_object"] in objects[r["class_code"]] or r["l3_object"].endswith(" (generic)"), r
    assert r["license"] in ALLOWED_LICENSES, r
    assert re.fullmatch("[0-9a-f]{16}", r["phash"]), r  # imagehash's 64-bit hex
    assert r["icon_name"] and r["design_group"], r


def test_no_reserved_source_set(rows):
  for r in rows:
    name = r["source_set"]
    assert name not in RESERVED, r
    assert not name.startswith(("fluent-emoji", "streamline-freehand")), r


def test_every_class_and_domain_present(rows):
  seen = collections.Counter((r["class_code"], r["domain"]) for r in rows)
  for code in taxonomy.class_codes():
    assert sum(seen[(code, d)] for d in DOMAINS) > 0, code
  for split in SPLITS:
    assert any(r["split"] == split for r in rows), split


def test_images_are_128_rgb_png_and_hashes_match(rows, decoded):
  for r in rows:
    fmt, mode, size, phash = decoded[r["file"]]
    assert (fmt, mode, size) == ("PNG", "RGB", (128, 128)), r["file"]
    assert phash == r["phash"], r["file"]


def test_design_groups_do_not_cross_splits(rows):
  split_of = collections.defaultdict(set)
  for r in rows:
    split_of[r["design_group"]].add(r["split"])
  crossing = [g for g, s in split_of.items() if len(s) > 1]
  assert not crossing, crossing[:5]


def test_no_near_identical_pair_across_splits(rows, decoded):
  hashes = np.array([int(decoded[r["file"]][3], 16) for r in rows], dtype=np.uint64)
  split_ids = np.array([sorted(SPLITS).index(r["split"]) for r in rows])
  for start in range(0, len(rows), 1024):
    block = hashes[start : start + 1024]
    dist = np.bitwise_count(block[:, None] ^ hashes[None, :])
    close = (dist <= NEAR_IDENTICAL) & (split_ids[start : start + 1024, None] != split_ids[None, :])
    i, j = np.nonzero(close)
    assert len(i) == 0, [(rows[start + a]["file"], rows[b]["file"]) for a, b in zip(i[:3], j[:3])]


def test_unseen_style_sets_are_whole_and_apart(rows):
  unseen = {r["source_set"] for r in rows if r["split"] == "test_unseen_style"}
  seen = {r["source_set"] for r in rows if r["split"] != "test_unseen_style"}
  assert unseen and not unseen & seen
  for d in DOMAINS:
    assert (
      len({r["source_set"] for r in rows if r["split"] == "test_unseen_style" and r["domain"] == d})
      == 2
    ), d


def test_data_card_matches_regeneration(rows):
  import json

  from tools.build_icons import card

  info = json.loads((EMBEDDED / "sources.json").read_text(encoding="utf-8"))
  expected = card.markdown(rows, info)
  assert (EMBEDDED / "DATA_CARD.md").read_text(encoding="utf-8") == expected, (
    "DATA_CARD.md is stale: run python -m tools.build_icons.card"
  )
  assert (EMBEDDED / "contact_sheet.png").exists()


@pytest.fixture(scope="module")
def audit_pairs(rows):
  """Index pairs the audit's duplicate search links (content-box pHash or feature cosine)."""
  from tools.build_icons import audit_links

  with zipfile.ZipFile(EMBEDDED / "images.zip") as zf:
    pngs = [zf.read(r["file"]) for r in rows]
  content = audit_links.content_views(pngs, [r["file"] for r in rows])
  return audit_links.duplicate_pairs(content)


def test_no_audit_duplicate_pair_across_splits(rows, audit_pairs):
  # Every audit duplicate group is linked to its kept copy by such a pair, so no pair across
  # splits means no group across splits (no leakage between train and test).
  crossing = [
    (rows[i]["file"], rows[j]["file"])
    for i, j in audit_pairs
    if rows[i]["split"] != rows[j]["split"]
  ]
  assert not crossing, (len(crossing), crossing[:5])


@pytest.mark.slow
def test_audit_finds_no_group_across_splits():
  # The audit command itself (python -m abstract_cls.audit --dataset=abstract_icons reads the
  # same pixels); 86 s on the shared 2-core dev machine, hence slow.
  from abstract_cls.audit import report, runner, sources

  result = runner.run_audit(sources.EmbeddedSource(EMBEDDED), runner.AuditOptions(progress=False))
  leak = report.leakage(result)
  assert leak["num_groups_crossing_splits"] == 0, leak
