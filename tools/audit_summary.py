"""Writes results/audit_embedded.md, the README's audit section, from an audit's audit.json.

python -m abstract_cls.audit --dataset=abstract_icons --out=results/audit_embedded
python -m tools.audit_summary --audit_dir=results/audit_embedded
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def summarise(audit_dir: pathlib.Path) -> str:
  path = audit_dir / "audit.json"
  if not path.exists():
    raise SystemExit(f"{path}: missing; run the audit first (see this module's docstring)")
  a = json.loads(path.read_text(encoding="utf-8"))
  dup, leak, photos = a["duplicates"], a["leakage"], a["photos"]
  rel = audit_dir.relative_to(ROOT) if audit_dir.is_relative_to(ROOT) else audit_dir
  pairs = ", ".join(f"{k} {v}" for k, v in leak["groups_by_split_pair"].items()) or "none"
  return (
    "\n".join(
      [
        f"`python -m abstract_cls.audit --dataset=abstract_icons --out={rel}` "
        f"({a['timings_s']['total_s']:.0f} s on the machine that ran it; full report: "
        f"[{rel}/report.md]({rel}/report.md)):",
        "",
        f"- {a['num_files']} files, {a['num_readable']} readable, {a['num_kept']} kept after "
        f"removing near-duplicates ({', '.join(a['removed_by_reason'])}).",
        f"- {dup['num_groups']} near-duplicate groups holding {dup['num_files_in_groups']} files "
        f"(features: {dup['feature_kind']}; thresholds {dup['thresholds']}); "
        f"{dup['num_label_conflicts']} group(s) span more than one class.",
        f"- Leakage: {leak['num_groups_crossing_splits']} groups cross splits "
        f"({leak['num_files_leaked']} files): {pairs}.",
        f"- Photo candidates among the drawings: {photos['num_candidates']}.",
        f"- Cleaned manifest for training: `{rel}/cleaned_manifest.csv` "
        f"(`--config.data.cleaned_manifest=`).",
      ]
    )
    + "\n"
  )


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
  )
  parser.add_argument("--audit_dir", default=str(ROOT / "results" / "audit_embedded"))
  parser.add_argument("--out", default=str(ROOT / "results" / "audit_embedded.md"))
  args = parser.parse_args(argv)
  text = summarise(pathlib.Path(args.audit_dir).resolve())
  pathlib.Path(args.out).write_text(text, encoding="utf-8")
  print(text)
  return 0


if __name__ == "__main__":
  sys.exit(main())
