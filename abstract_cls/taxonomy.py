"""The 20 competition classes, their level-3 object types and the image domains.

Class index = lexicographic order of the AI Hub level-2 codes, as the official
evaluators (Keras `image_dataset_from_directory`, torchvision `ImageFolder`)
assign it: L2_10 -> 0, L2_3 -> 8, L2_52 -> 19. The table is embedded in the
package (classes.csv, copied from the task facts) so nothing reads ../shared.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import pathlib

DOMAINS = ("SKETCH", "ILLUSTRATION", "PICTOGRAM", "UNKNOWN")
DOMAIN_INDEX = {name: i for i, name in enumerate(DOMAINS)}


@dataclasses.dataclass(frozen=True)
class ClassInfo:
  index: int
  code: str  # e.g. "L2_33"
  name: str  # English level-2 name, e.g. "mammals"
  name_ko: str
  l3_objects: tuple[str, ...]  # English level-3 object types, AI Hub order
  l3_ids: tuple[str, ...]  # 4-digit level-3 ctg ids, same order


def _expand_ids(id_range: str) -> tuple[str, ...]:
  first, last = id_range.split("-")
  return tuple(f"{i:04d}" for i in range(int(first), int(last) + 1))


@functools.cache
def classes() -> tuple[ClassInfo, ...]:
  path = pathlib.Path(__file__).with_name("classes.csv")
  with path.open(newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  out = []
  for row in rows:
    objects = tuple(s.strip() for s in row["l3_en"].split(";"))
    ids = _expand_ids(row["l3_ctg_ids"])
    if len(objects) != len(ids) or len(ids) != int(row["n_l3_types"]):
      raise ValueError(
        f"{path}: class {row['l2_code']} lists {len(objects)} objects "
        f"but ids {row['l3_ctg_ids']} and n_l3_types={row['n_l3_types']}"
      )
    out.append(
      ClassInfo(int(row["class_index"]), row["l2_code"], row["l2_en"], row["l2_ko"], objects, ids)
    )
  codes = [c.code for c in out]
  if codes != sorted(codes) or [c.index for c in out] != list(range(len(out))):
    raise ValueError(f"{path}: classes must be listed in lexicographic code order")
  return tuple(out)


def class_codes() -> tuple[str, ...]:
  return tuple(c.code for c in classes())


NUM_CLASSES = 20


def class_index(code: str) -> int:
  """Index of a level-2 code such as "L2_33"; raises with the known codes."""
  try:
    return class_codes().index(code)
  except ValueError:
    raise KeyError(f"unknown class code {code!r}; known: {', '.join(class_codes())}") from None


@functools.cache
def l3_id_to_class() -> dict[str, tuple[int, str]]:
  """Maps a 4-digit level-3 ctg id to (class index, level-3 object name)."""
  return {l3_id: (c.index, obj) for c in classes() for l3_id, obj in zip(c.l3_ids, c.l3_objects)}
