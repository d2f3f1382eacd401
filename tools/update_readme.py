"""Regenerates the README's generated sections from files that commands in the repo write.

Each section sits between `<!-- BEGIN generated:KEY -->` and `<!-- END generated:KEY -->`
and is replaced by the Markdown file mapped to KEY below (or by one marked part of it), so
no figure in the README is typed by hand. Run: `python -m tools.update_readme` (add --check
to fail when stale).
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Source:
  path: str  # relative to the repository root
  command: str  # what writes it
  # When set, only the part of the file between `<!-- BEGIN {part} -->` and
  # `<!-- END {part} -->` is copied.
  part: str = ""


SECTIONS = {
  "default_run": Source("results/default_run.md", "python -m tools.family_recipes --report"),
  "recipes": Source("results/recipes_readme.md", "python -m tools.family_recipes --report"),
  "audit": Source("results/audit_embedded.md", "python -m tools.audit_summary"),
  "experiments": Source("experiments/SUMMARY.md", "python -m experiments.report_all"),
  # RESULTS.md's summary table; each row names its train_step.py suite and section.
  "performance": Source("benchmarks/RESULTS.md", "python benchmarks/train_step.py", part="summary"),
}

_BLOCK = re.compile(
  r"(<!-- BEGIN generated:(?P<key>[\w-]+) -->\n)(?P<body>.*?)(<!-- END generated:(?P=key) -->)",
  re.DOTALL,
)


def _part(text: str, part: str, path: str) -> str:
  match = re.search(
    rf"<!-- BEGIN {re.escape(part)} -->\n(.*?)<!-- END {re.escape(part)} -->", text, re.DOTALL
  )
  if match is None:
    raise SystemExit(f"{path}: no part marked <!-- BEGIN {part} --> ... <!-- END {part} -->")
  return match.group(1)


def _body(source: Source) -> str:
  path = ROOT / source.path
  if not path.exists():
    return f"_Not generated yet: run `{source.command}` (writes {source.path})._\n"
  text = path.read_text(encoding="utf-8")
  if source.part:
    text = _part(text, source.part, source.path)
  return text.rstrip("\n") + "\n"


def render(readme: str) -> str:
  def replace(match: re.Match) -> str:
    key = match.group("key")
    if key not in SECTIONS:
      raise SystemExit(f"README.md: unknown generated section {key!r}; known: {sorted(SECTIONS)}")
    source = SECTIONS[key]
    origin = f"{source.path} ({source.part})" if source.part else source.path
    comment = f"<!-- from {origin}, written by `{source.command}` -->\n"
    return match.group(1) + comment + _body(source) + match.group(4)

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
