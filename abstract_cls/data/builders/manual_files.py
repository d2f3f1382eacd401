"""Walking a manual dir: files below a folder, relative names, class folder recognition."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator

from abstract_cls import taxonomy

CLASS_FOLDER = re.compile(r"^L2_\d+$")


def files_below(folder: str, on_error: Callable[[OSError], None]) -> Iterator[str]:
  """All files below `folder` (recursively, sorted, symlinked folders not followed).

  on_error gets the OSError of each folder that cannot be listed (os.walk would
  silently leave it out).
  """
  for root, dirs, files in os.walk(folder, onerror=on_error):
    dirs.sort()
    for name in sorted(files):
      yield os.path.join(root, name)


def count_files(folder: str) -> int:
  return sum(len(files) for _, _, files in os.walk(folder))


def relative(path: str, manual_dir: str) -> str:
  """The name a file gets in records and reports: its path below the manual dir, '/'-separated.

  Names that are not valid UTF-8 (archives unpacked with the wrong code page, e.g. Korean
  CP949 names) keep their bytes as \\xNN escapes: unique, and storable as TFDS text.
  """
  name = os.path.relpath(path, manual_dir).replace(os.sep, "/")
  return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def unknown_class_detail(folder: str) -> str:
  codes, count = taxonomy.class_codes(), count_files(folder)
  return (
    f"{count} file{'' if count == 1 else 's'} not read; the 20 classes are "
    f"{codes[0]} ... {codes[-1]} (abstract_cls/classes.csv)"
  )
