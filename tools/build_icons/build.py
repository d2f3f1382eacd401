"""Builds abstract_cls/data/embedded/ (images.zip + manifest.csv) from the npm art packages.

  cd tools/build_icons && npm ci && cd ../.. && python -m tools.build_icons.build

Steps: read every icon of every source set (sources.py), map its name to a
level-3 object (names.py), keep one icon per design per set, render on white
at 128x128 (render.py), drop blank renders and solid shapes in line-art sets,
merge near-identical images across sets and form design groups by pHash
distance (dedup.py) joined with every pair the project's audit calls a
duplicate (audit_links.py), split by design group (splits.py), write the
archive and the manifest. Same inputs -> byte-identical outputs.
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import io
import json
import pathlib
import sys
import time
import zipfile

import numpy as np

from tools.build_icons import audit_links, dedup, names, render, sources, splits

REPO = pathlib.Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "abstract_cls" / "data" / "embedded"
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
SPLITS = ("train", "validation", "test", "test_unseen_style")
# Line-art sets: a render whose ink fills more of its bounding box than this is
# a solid shape, not a line drawing.
MAX_SKETCH_SOLIDITY = 0.6
MIN_INK = 0.003  # blank renders (empty or white-on-white bodies)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def log(msg: str) -> None:
  print(f"[build_icons {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def collect() -> list[tuple[sources.Icon, names.Match]]:
  """One icon per (source set, design key): the shortest name, then alphabetical."""
  chosen: dict[tuple[str, str], tuple[sources.Icon, names.Match]] = {}
  seen = 0
  for icon in sources.iter_icons():
    seen += 1
    found = names.match(icon.base_name, icon.source.world, icon.source.concatenated)
    if found is None:
      continue
    if icon.source.only_classes is not None and found.class_code not in icon.source.only_classes:
      continue
    key = (icon.source.name, names.design_key(icon.base_name))
    if key[1] in icon.source.skip:
      continue
    old = chosen.get(key)
    if old is None or (len(icon.icon_name), icon.icon_name) < (
      len(old[0].icon_name),
      old[0].icon_name,
    ):
      chosen[key] = (icon, found)
  log(f"read {seen} icons; {len(chosen)} designs match a level-3 object")
  return [chosen[k] for k in sorted(chosen)]


def render_all(items, report: collections.Counter) -> list[dict]:
  rows = []
  for i, (icon, found) in enumerate(items):
    if i % 1000 == 0:
      log(f"rendering {i}/{len(items)}")
    try:
      out = render.render(icon.svg)
    except ValueError as e:
      report[f"render failed ({icon.source.name})"] += 1
      print(f"  skip {icon.source.name}:{icon.icon_name}: {e}", file=sys.stderr)
      continue
    if out.ink < MIN_INK:
      report["blank render"] += 1
      continue
    if icon.source.domain == "SKETCH" and out.solidity > MAX_SKETCH_SOLIDITY:
      report["solid shape in a line-art set"] += 1
      continue
    image_id = hashlib.sha1(f"{icon.source.name}/{icon.icon_name}".encode()).hexdigest()[:16]
    rows.append(
      dict(
        image_id=image_id,
        class_code=found.class_code,
        domain=icon.source.domain,
        l3_object=found.l3_object,
        source_set=icon.source.name,
        icon_name=icon.icon_name,
        license=icon.license,
        phash=render.phash_hex(out.image),
        png=render.png_bytes(out.image),
        thumb=render.thumbnail(out.image),
      )
    )
  return rows


def merge_duplicates(rows: list[dict], report: collections.Counter) -> list[dict]:
  """Keeps one image per near-identical cluster (the first in source order).

  pHash alone calls some distinct simple symmetric shapes close (a ladder and a
  toolbox), so a pair counts as the same drawing only if its small greyscale
  thumbnails also agree.
  """
  hashes = dedup.hashes_to_array([r["phash"] for r in rows])
  pairs = dedup.close_pairs(hashes, dedup.DUPLICATE_DISTANCE)
  thumbs = np.stack([r["thumb"] for r in rows]).astype(np.int16)
  same = [dedup.same_drawing(thumbs[i], thumbs[j]) for i, j in pairs]
  pairs = pairs[np.array(same, dtype=bool)] if len(pairs) else pairs
  labels = dedup.components(len(rows), pairs)
  kept = [r for i, r in enumerate(rows) if labels[i] == i]
  report["near-identical image merged"] += len(rows) - len(kept)
  return kept


def group_and_split(rows: list[dict], report: collections.Counter) -> list[dict]:
  hashes = dedup.hashes_to_array([r["phash"] for r in rows])
  close = dedup.close_pairs(hashes, dedup.GROUP_DISTANCE)
  # The raw-render pHash misses copies that differ in margin, scale or a flip; the audit
  # (python -m abstract_cls.audit) compares content boxes and would find them in two splits.
  content = audit_links.content_views([r["png"] for r in rows], [r["image_id"] for r in rows])
  audit_pairs = audit_links.duplicate_pairs(content)
  known = {(int(i), int(j)) for i, j in close}
  log(
    f"audit duplicate pairs: {len(audit_pairs)}, "
    f"{sum((int(i), int(j)) not in known for i, j in audit_pairs)} not within pHash distance "
    f"{dedup.GROUP_DISTANCE} (now linked into one design group)"
  )
  labels = dedup.components(len(rows), np.concatenate([close, audit_pairs]))
  members: dict[int, list[int]] = collections.defaultdict(list)
  for i, label in enumerate(labels):
    members[int(label)].append(i)
  # A held-out (unseen-style) image that looks like another set's drawing (by
  # either check above) is not unseen: drop it rather than leak its design into train.
  drop = set()
  for idx in members.values():
    held = [i for i in idx if rows[i]["source_set"] in splits.HELD_OUT]
    if held and len(held) < len(idx):
      drop.update(held)
  report["held-out image close to another set's"] += len(drop)
  groups: dict[str, list[dict]] = {}
  for idx in members.values():
    idx = [i for i in idx if i not in drop]
    if not idx:
      continue
    gid = (
      "g"
      + hashlib.sha1(",".join(sorted(rows[i]["image_id"] for i in idx)).encode()).hexdigest()[:12]
    )
    for i in idx:
      rows[i]["design_group"] = gid
    groups[gid] = [rows[i] for i in idx]
  split_of = splits.assign(groups)
  out = []
  for gid, group_rows in groups.items():
    for r in group_rows:
      r["split"] = split_of[gid]
      r["file"] = f"{r['split']}/{r['image_id']}.png"
      out.append(r)
  out.sort(key=lambda r: r["file"])
  return out


def write(rows: list[dict], out_dir: pathlib.Path) -> None:
  out_dir.mkdir(parents=True, exist_ok=True)
  with zipfile.ZipFile(out_dir / "images.zip", "w", compression=zipfile.ZIP_STORED) as zf:
    for r in rows:
      info = zipfile.ZipInfo(r["file"], date_time=ZIP_DATE)
      info.external_attr = 0o644 << 16
      info.create_system = 3
      zf.writestr(info, r["png"])
  buf = io.StringIO()
  writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  (out_dir / "manifest.csv").write_text(buf.getvalue(), encoding="utf-8")
  write_sources(out_dir)


def write_sources(out_dir: pathlib.Path) -> None:
  """sources.json: per source set its domain, licence and package (for the card)."""
  info = {}
  for source in sources.SOURCES:
    pkg = sources.package_info(source.package)
    npm = "openmoji" if source.package == "openmoji-black" else f"@iconify-json/{source.package}"
    info[source.name] = dict(
      domain=source.domain,
      license=pkg.license,
      title=pkg.title,
      author=pkg.author,
      url=pkg.url,
      package=npm,
      version=pkg.version,
    )
  (out_dir / "sources.json").write_text(
    json.dumps(info, indent=1, sort_keys=True) + "\n", encoding="utf-8"
  )


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out_dir", type=pathlib.Path, default=OUT_DIR)
  args = parser.parse_args(argv)
  start = time.time()
  report: collections.Counter = collections.Counter()
  rows = render_all(collect(), report)
  log(f"rendered {len(rows)} images")
  rows = merge_duplicates(rows, report)
  rows = group_and_split(rows, report)
  write(rows, args.out_dir)
  counts = collections.Counter(r["split"] for r in rows)
  log(
    f"wrote {len(rows)} images to {args.out_dir}: " + ", ".join(f"{s} {counts[s]}" for s in SPLITS)
  )
  for reason, n in sorted(report.items()):
    log(f"left out: {reason}: {n}")
  log(f"done in {time.time() - start:.0f} s")
  return 0


if __name__ == "__main__":
  sys.exit(main())
