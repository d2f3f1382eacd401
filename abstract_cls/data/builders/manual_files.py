"""Walking a manual dir: files below a folder, relative names, class folder recognition."""
from __future__ import annotations

import os
import re
from typing import Iterator

from abstract_cls import taxonomy

CLASS_FOLDER = re.compile(r"^L2_\d+$")


def files_below(folder: str) -> Iterator[str]:
  """All files below `folder` (recursively, sorted, symlinked folders not followed)."""
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    for name in sorted(files):
      yield os.path.join(root, name)


def count_files(folder: str) -> int:
  return sum(len(files) for _, _, files in os.walk(folder))


def relative(path: str, manual_dir: str) -> str:
  """The name a file gets in records and reports: its path below the manual dir, '/'-separated."""
  return os.path.relpath(path, manual_dir).replace(os.sep, "/")


def unknown_class_detail(folder: str) -> str:
  codes, count = taxonomy.class_codes(), count_files(folder)
  return (f"{count} file{'' if count == 1 else 's'} not read; the 20 classes are "
          f"{codes[0]} ... {codes[-1]} (abstract_cls/classes.csv)")
