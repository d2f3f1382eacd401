"""prepare_report.json: what a prepare kept, skipped and fixed, file by file.

Bad input never stops a prepare and never disappears silently: every skipped file
is listed with a short reason (one of a few fixed phrases, so they can be counted)
and a detail, every repaired file with what was done to it.
"""

from __future__ import annotations

import collections
import json
import os
from typing import Any

REPORT_FILE = "prepare_report.json"


class PrepareReport:
  """Collects kept/skipped/fixed records while a builder generates its splits."""

  def __init__(self, source: dict[str, Any]):
    self.source = source  # What was read (archive hash, manual dir): detects stale data.
    self.kept_per_split: collections.Counter[str] = collections.Counter()
    self.skipped: list[dict[str, str]] = []
    self.fixed: list[dict[str, str]] = []
    self.dropped_splits: list[str] = []  # splits with files but none usable

  def keep(self, split: str) -> None:
    self.kept_per_split[split] += 1

  def skip(self, file: str, reason: str, detail: str = "") -> None:
    entry = {"file": file, "reason": reason}
    if detail:
      entry["detail"] = detail
    self.skipped.append(entry)

  def fix(self, file: str, what: str) -> None:
    self.fixed.append({"file": file, "what": what})

  def as_dict(self) -> dict[str, Any]:
    skipped = sorted(self.skipped, key=lambda e: (e["file"], e["reason"]))
    fixed = sorted(self.fixed, key=lambda e: (e["file"], e["what"]))
    return {
      "kept": sum(self.kept_per_split.values()),
      "skipped": skipped,
      "fixed": fixed,
      # Summaries of the lists above, for quick reading:
      "kept_per_split": dict(sorted(self.kept_per_split.items())),
      "dropped_splits": self.dropped_splits,
      "skipped_by_reason": dict(collections.Counter(e["reason"] for e in skipped).most_common()),
      "fixed_by_what": dict(
        collections.Counter(
          part.split(" (")[0] for e in fixed for part in e["what"].split("; ")
        ).most_common()
      ),
      "source": self.source,
    }

  def write(self, directory: str | os.PathLike) -> str:
    path = os.path.join(os.fspath(directory), REPORT_FILE)
    with open(path, "w", encoding="utf-8") as f:
      json.dump(self.as_dict(), f, indent=1, ensure_ascii=False)
      f.write("\n")
    return path

  def summary(self, dataset: str) -> str:
    d = self.as_dict()
    lines = [
      f"{dataset}: kept {d['kept']} "
      f"({', '.join(f'{k} {v}' for k, v in d['kept_per_split'].items())}), "
      f"skipped {len(d['skipped'])}, fixed {len(d['fixed'])}"
    ]
    lines += [f"  split {split!r} dropped: no usable image" for split in d["dropped_splits"]]
    lines += [f"  skipped {n:6d}  {reason}" for reason, n in d["skipped_by_reason"].items()]
    lines += [f"  fixed   {n:6d}  {what}" for what, n in d["fixed_by_what"].items()]
    return "\n".join(lines)


def read_report(version_dir: str | os.PathLike) -> dict[str, Any] | None:
  """The report of a prepared builder (its `data_dir`), or None if there is none."""
  path = os.path.join(os.fspath(version_dir), REPORT_FILE)
  if not os.path.exists(path):
    return None
  with open(path, encoding="utf-8") as f:
    return json.load(f)
