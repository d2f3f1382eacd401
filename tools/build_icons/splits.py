"""Split assignment by design group, stratified by class x domain."""

from __future__ import annotations

import collections
import hashlib

# Two whole source sets per domain never seen in train/validation: they measure
# generalisation to unseen art styles. Chosen of moderate size, with styles of
# their own and no sibling set in another domain (openmoji-black is openmoji's
# line version, emojione-monotone emojione's), so train keeps its coverage.
UNSEEN_STYLE_SETS = {
  "SKETCH": ("iconoir", "uil"),
  "ILLUSTRATION": ("fxemoji", "streamline-emojis"),
  "PICTOGRAM": ("pinhead", "vaadin"),
}
HELD_OUT = frozenset(s for sets in UNSEEN_STYLE_SETS.values() for s in sets)
VALIDATION_FRACTION = 0.10
TEST_FRACTION = 0.10
MIN_STRATUM_FOR_EVAL = 4


def _order_key(text: str) -> str:
  """A fixed pseudo-random order (no RNG state: same inputs, same splits)."""
  return hashlib.sha1(text.encode()).hexdigest()


def assign(groups: dict[str, list[dict]]) -> dict[str, str]:
  """design group -> split, for groups of rows (dicts with class_code, domain, source_set).

  Groups holding a held-out set's image go to test_unseen_style only if all their
  members are from held-out sets (the caller drops held-out images that look
  like another set's). Other groups fill validation and test up to ~10% each of
  their stratum (the class x domain most of the group's members share); the rest is train.
  """
  split_of: dict[str, str] = {}
  strata: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
  sizes: dict[tuple[str, str], int] = collections.Counter()
  for gid, rows in groups.items():
    if all(r["source_set"] in HELD_OUT for r in rows):
      split_of[gid] = "test_unseen_style"
      continue
    stratum = collections.Counter((r["class_code"], r["domain"]) for r in rows).most_common(1)[0][0]
    strata[stratum].append(gid)
    sizes[stratum] += len(rows)
  for stratum in sorted(strata):
    gids = sorted(strata[stratum], key=_order_key)
    total = sizes[stratum]
    # At least one image each in validation and test once a stratum has
    # MIN_STRATUM_FOR_EVAL images, so thin classes still have evaluation support.
    floor = 1 if total >= MIN_STRATUM_FOR_EVAL else 0
    want = {
      "validation": max(floor, round(total * VALIDATION_FRACTION)),
      "test": max(floor, round(total * TEST_FRACTION)),
    }
    have = {"validation": 0, "test": 0}
    for gid in gids:
      n = len(groups[gid])
      open_splits = [s for s in ("validation", "test") if have[s] + n <= want[s]]
      if not open_splits:
        split_of[gid] = "train"
        continue
      target = max(open_splits, key=lambda s: want[s] - have[s])  # ties: validation
      split_of[gid] = target
      have[target] += n
  return split_of
