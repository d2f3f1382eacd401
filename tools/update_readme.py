"""Regenerates the README's generated sections from files that commands in the repo write.

Each section sits between `<!-- BEGIN generated:KEY -->` and `<!-- END generated:KEY -->`
and is replaced by the Markdown file mapped to KEY below, so no figure in the README is
typed by hand. Run: `python -m tools.update_readme` (add --check to fail when stale).
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

# KEY -> (source file, the command that writes it).
SECTIONS = {
  "default_run": ("results/default_run.md", "python -m tools.default_run_summary"),
  "models": ("abstract_cls/models/MODEL_TABLE.md", "python tools/model_table.py --num_classes=20"),
  "audit": ("results/audit_embedded.md", "python -m tools.audit_summary"),
  "experiments": ("experiments/SUMMARY.md", "python -m experiments.report_all"),
}

_BLOCK = re.compile(
  r"(<!-- BEGIN generated:(?P<key>[\w-]+) -->\n)(?P<body>.*?)(<!-- END generated:(?P=key) -->)",
  re.DOTALL,
)


def render(readme: str) -> str:
  def replace(match: re.Match) -> str:
    key = match.group("key")
    if key not in SECTIONS:
      raise SystemExit(f"README.md: unknown generated section {key!r}; known: {sorted(SECTIONS)}")
    source, command = SECTIONS[key]
    path = ROOT / source
    if not path.exists():
      body = f"_Not generated yet: run `{command}` (writes {source})._\n"
    else:
      body = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    return (
      match.group(1) + f"<!-- from {source}, written by `{command}` -->\n" + body + match.group(4)
    )

  return _BLOCK.sub(replace, readme)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
  args = parser.parse_args(argv)
  readme_path = ROOT / "README.md"
  old = readme_path.read_text(encoding="utf-8")
  new = render(old)
  if args.check:
    if new != old:
      print("README.md is stale: run python -m tools.update_readme", file=sys.stderr)
      return 1
    return 0
  readme_path.write_text(new, encoding="utf-8")
  print(f"updated {readme_path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
