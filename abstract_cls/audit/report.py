"""Audit outputs: audit.json, report.md with thumbnail sheets, and cleaned_manifest.csv.

cleaned_manifest.csv has one row per input file, columns `file_name,keep,reason`: keep is 1 or
0, reason is empty for kept files, else "duplicate_of: <kept file>", "photo_candidate:
score=<s>" or "unreadable: <error>". file_name is the source's key (the TFDS `file_name`
feature, the folder-relative path, or the embedded manifest's `file`).
"""

from __future__ import annotations

import collections
import csv
import json
import pathlib

import numpy as np
from PIL import Image, ImageDraw

from abstract_cls import taxonomy
from abstract_cls.audit import photos

THUMB = 96
TOP_GROUPS = 12
GROUP_COLUMNS = 8
TOP_PHOTOS = 24
LISTED_PHOTOS = 200


def leakage(result) -> dict:
  items, index = result.items, result.collected.index
  crossing, pairs, leaked = [], collections.Counter(), 0
  for gid, group in enumerate(result.groups):
    splits = [items[index[m]].split for m in group.members]
    if len(set(splits)) > 1:
      crossing.append(gid)
      rep_split = splits[0]
      leaked += sum(s != rep_split for s in splits)
      for s in sorted(set(splits) - {rep_split}):
        pairs[f"{rep_split}~{s}"] += 1
  return {
    "num_groups_crossing_splits": len(crossing),
    "num_files_leaked": leaked,
    "groups_by_split_pair": dict(pairs),
    "group_ids": crossing,
  }


def counts(items, removed: set[int]) -> dict:
  """{"before"/"after": {class_code: {domain: n}}} (domains with zero omitted)."""
  out = {}
  for key, keep in (("before", lambda i: True), ("after", lambda i: i not in removed)):
    table = {code: {} for code in taxonomy.class_codes()}
    for i, it in enumerate(items):
      if keep(i):
        table[it.class_code][it.domain] = table[it.class_code].get(it.domain, 0) + 1
    out[key] = table
  return out


def _group_json(gid, group, result) -> dict:
  items, index = result.items, result.collected.index
  members = [items[index[m]] for m in group.members]
  return {
    "id": gid,
    "representative": members[0].file_name,
    "members": [
      {"file": it.file_name, "split": it.split, "class_code": it.class_code, "domain": it.domain}
      for it in members
    ],
    "splits": sorted({it.split for it in members}),
    "classes": sorted({it.class_code for it in members}),
    "label_conflict": len({it.class_code for it in members}) > 1,
    "edges": [
      {
        "a": items[index[e.i]].file_name,
        "b": items[index[e.j]].file_name,
        "method": e.method,
        "value": round(float(e.value), 4),
      }
      for e in group.edges
    ],
  }


def summary(result, source) -> dict:
  coll = result.collected
  order = np.argsort(-result.photo_scores)
  photo_json = [
    {
      "file": result.items[coll.index[m]].file_name,
      "score": round(float(result.photo_scores[m]), 3),
      "candidate": bool(result.photo_flags[m]),
      "z": {k: round(float(v), 2) for k, v in zip(photos.STATISTICS, result.photo_z[m])},
    }
    for m in order[:LISTED_PHOTOS]
  ]
  removed = set(result.reasons)
  by_reason = collections.Counter(why.split(":")[0] for why in result.reasons.values())
  return {
    "source": getattr(source, "description", type(source).__name__),
    "num_files": len(result.items),
    "num_readable": len(coll.index),
    "num_kept": len(result.items) - len(removed),
    "removed_by_reason": dict(by_reason),
    "unreadable": [
      {"file": result.items[i].file_name, "error": e} for i, e in coll.unreadable.items()
    ],
    "skipped": getattr(source, "skipped", []),
    "duplicates": {
      "feature_kind": result.feature_kind,
      "thresholds": result.thresholds,
      "num_groups": len(result.groups),
      "num_files_in_groups": sum(len(g.members) for g in result.groups),
      "num_label_conflicts": sum(
        len({result.items[coll.index[m]].class_code for m in g.members}) > 1 for g in result.groups
      ),
      "groups": [_group_json(gid, g, result) for gid, g in enumerate(result.groups)],
    },
    "photos": {
      "statistics": list(photos.STATISTICS),
      "cut": result.photo_cut,
      "max_exact_flat_fraction": photos.MAX_EXACT_FLAT,
      "num_candidates": int(result.photo_flags.sum()),
      "ranked": photo_json,
    },
    "leakage": leakage(result),
    "counts": counts(result.items, removed),
    "timings_s": {k: round(v, 2) for k, v in result.timings.items()},
  }


def _thumb(source, item_index: int, caption: str, frame: str) -> Image.Image:
  tile = Image.new("RGB", (THUMB, THUMB + 24), "white")
  try:
    img = Image.fromarray(source.read(item_index, max_side=THUMB).rgb)
    img.thumbnail((THUMB - 4, THUMB - 4))
    tile.paste(img, ((THUMB - img.width) // 2, (THUMB - img.height) // 2))
  except ValueError:
    pass
  draw = ImageDraw.Draw(tile)
  draw.rectangle([0, 0, THUMB - 1, THUMB - 1], outline=frame, width=2)
  for k, line in enumerate(caption.split("\n")[:2]):
    draw.text((2, THUMB + 1 + 11 * k), line[:16], fill="black")
  return tile


def _sheet(tiles: list[Image.Image], columns: int, path: pathlib.Path) -> None:
  rows = max(1, -(-len(tiles) // columns))
  sheet = Image.new("RGB", (columns * THUMB, rows * (THUMB + 24)), "white")
  for k, tile in enumerate(tiles):
    sheet.paste(tile, ((k % columns) * THUMB, (k // columns) * (THUMB + 24)))
  sheet.save(path)


def _count_table(table: dict) -> list[str]:
  domains = [d for d in taxonomy.DOMAINS if any(d in row for row in table.values())]
  lines = ["| class | " + " | ".join(domains) + " | total |", "|---|" + "---|" * (len(domains) + 1)]
  totals = []
  for code, row in table.items():
    total = sum(row.values())
    totals.append(total)
    lines.append(f"| {code} | " + " | ".join(str(row.get(d, 0)) for d in domains) + f" | {total} |")
  nonzero = [t for t in totals if t]
  if nonzero:
    lines.append(
      f"\nLargest / smallest non-empty class: {max(nonzero)} / {min(nonzero)} "
      f"= {max(nonzero) / min(nonzero):.1f}x"
    )
  return lines


def write_markdown(data: dict, result, source, out: pathlib.Path) -> None:
  """report.md, with the duplicate-group and photo-candidate sheets it shows, into out."""
  lines = [
    f"# Data audit: {data['source']}",
    "",
    f"{data['num_files']} files, {data['num_readable']} readable, "
    f"{data['num_kept']} kept. Removed by reason: {data['removed_by_reason']}.",
    "",
  ]
  lines += _duplicates_section(data["duplicates"], result, source, out)
  lines += _photos_section(data["photos"], result, source, out)
  lines += _leakage_and_counts_section(data)
  (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def _duplicates_section(dup: dict, result, source, out: pathlib.Path) -> list[str]:
  """The duplicate groups: a line per shown group and their sheet (duplicate_groups.png)."""
  coll, items = result.collected, result.items
  lines = [
    "## Duplicate groups",
    "",
    f"Features: `{dup['feature_kind']}`; thresholds: {dup['thresholds']}. "
    f"{dup['num_groups']} groups holding {dup['num_files_in_groups']} files; "
    f"{dup['num_label_conflicts']} groups span more than one class. "
    "The first tile of each row (green frame) is kept.",
    "",
  ]
  tiles = []
  for gid, group in enumerate(result.groups[:TOP_GROUPS]):
    shown = group.members[:GROUP_COLUMNS]
    tiles += [
      _thumb(
        source,
        int(coll.index[m]),
        f"g{gid} {items[coll.index[m]].split}\n{items[coll.index[m]].class_code}",
        "green" if k == 0 else "red",
      )
      for k, m in enumerate(shown)
    ]
    tiles += [Image.new("RGB", (THUMB, THUMB + 24), "white")] * (GROUP_COLUMNS - len(shown))
    lines.append(
      f"- group {gid}: {len(group.members)} files, splits "
      f"{dup['groups'][gid]['splits']}, classes {dup['groups'][gid]['classes']}"
    )
  if tiles:
    _sheet(tiles, GROUP_COLUMNS, out / "duplicate_groups.png")
    lines += [
      "",
      f"Largest {min(TOP_GROUPS, len(result.groups))} groups, one per row:",
      "",
      "![duplicate groups](duplicate_groups.png)",
      "",
    ]
  return lines


def _photos_section(ph: dict, result, source, out: pathlib.Path) -> list[str]:
  """The photo candidates: the scoring rule, the top-scored sheet (photo_candidates.png), a
  ranked table."""
  coll, items = result.collected, result.items
  cut = ph["cut"]
  lines = [
    "## Photo candidates",
    "",
    f"Score = weighted mean (photos.STATISTICS) of one-sided robust z-scores of {', '.join(ph['statistics'])}. "
    f"Suggested cut {cut['cut']:.2f} (rule: {cut['rule']}; see photos.suggest_cut); "
    f"candidates also need exact_flat_fraction <= {ph['max_exact_flat_fraction']}. "
    f"{ph['num_candidates']} candidates. Top {TOP_PHOTOS} by score "
    "(red frame: candidate):",
    "",
  ]
  order = np.argsort(-result.photo_scores)[:TOP_PHOTOS]
  tiles = [
    _thumb(
      source,
      int(coll.index[m]),
      f"score {result.photo_scores[m]:.2f}\n{items[coll.index[m]].class_code}",
      "red" if result.photo_flags[m] else "green",
    )
    for m in order
  ]
  _sheet(tiles, 8, out / "photo_candidates.png")
  lines += [
    "![photo candidates](photo_candidates.png)",
    "",
    "| rank | file | score |",
    "|---|---|---|",
  ]
  lines += [
    f"| {k + 1} | {p['file']} | {p['score']}{' (candidate)' if p['candidate'] else ''} |"
    for k, p in enumerate(ph["ranked"][:50])
  ]
  return lines


def _leakage_and_counts_section(data: dict) -> list[str]:
  """Duplicate groups crossing splits, the class x domain counts before and after, timings."""
  leak = data["leakage"]
  lines = [
    "",
    "## Leakage",
    "",
    f"{leak['num_groups_crossing_splits']} duplicate groups cross splits "
    f"({leak['num_files_leaked']} files outside the kept copy's split): "
    f"{leak['groups_by_split_pair']}.",
    "",
    "## Counts per class x domain, before cleaning",
    "",
  ]
  lines += _count_table(data["counts"]["before"])
  lines += ["", "## After cleaning", ""] + _count_table(data["counts"]["after"])
  lines += ["", f"Timings (s): {data['timings_s']}", ""]
  return lines


def write_manifest(result, path: pathlib.Path) -> None:
  with path.open("w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["file_name", "keep", "reason"])
    for i, it in enumerate(result.items):
      why = result.reasons.get(i, "")
      writer.writerow([it.file_name, 0 if why else 1, why])


def write_outputs(result, out_dir, source) -> dict:
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  data = summary(result, source)
  (out / "audit.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
  write_manifest(result, out / "cleaned_manifest.csv")
  write_markdown(data, result, source, out)
  return data
