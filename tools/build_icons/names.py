"""Maps icon names to the competition's level-3 object types.

An icon name is split into lowercase tokens (on '-', '_', ' ', ':'). A synonym
phrase matches when its tokens appear contiguously in the name (the last phrase
token may also take a plural 's'/'es'). When several phrases match, the longest
wins, then the one ending latest (the head noun of an English compound:
"car-key" is a key). Every token of the name outside the winning phrase must
be a harmless modifier (synonyms.ALLOWED_MODIFIERS: "simple", "side", colours,
...) and not in the object's veto list; otherwise the icon shows something else
("flag-germany", "man-rowing-boat", "hot-dog" for dog) or is a UI variant of
another design ("phone-plus", "lock-off") and is left out: precision over recall.

A few generic objects that AI Hub does not list but whose class is clear (a
generic dog for the mammals that AI Hub lists by breed, a generic boat) are
recorded with a "(generic)" suffix, so the manifest never claims a level-3
type that the drawing does not show.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from tools.build_icons.synonyms import (
  ALLOWED_MODIFIERS,
  OBJECT_MODIFIERS,
  OBJECT_VETO,
  SKIP_NAMES,
  SYNONYMS,
  UI_ONLY,
  WORLD_ONLY,
)

# Modifiers that may not prefix a run-together name: "headphone" is no phone.
_NOT_PREFIX = frozenset({"head", "face", "back", "side", "top"})

_SPLIT = re.compile(r"[-_ :.,'’]+")

# Weight, size and style suffixes: variants of one design (stripped to form the
# design key), plus skin-tone and gender tokens of emoji.
VARIANT_TOKENS = frozenset(
  """
bold fill filled outline outlined line light thin regular duotone rounded round sharp solid
twotone broken linear bulk stroke alt variant remix negative 24px
skin tone tone1 tone2 tone3 tone4 tone5 medium dark
""".split()
)


def tokens(name: str) -> list[str]:
  return [t for t in _SPLIT.split(name.lower()) if t]


def core_tokens(name: str) -> list[str]:
  """Tokens less trailing variant suffixes ("-bold", "-24", "-medium-skin-tone")."""
  toks = tokens(name)
  while toks and (toks[-1] in VARIANT_TOKENS or toks[-1].isdigit()):
    toks.pop()
  return toks


def design_key(name: str) -> str:
  """The name less variant suffixes: one design per set per key."""
  return "-".join(core_tokens(name))


@dataclasses.dataclass(frozen=True)
class Match:
  class_code: str
  l3_object: str
  phrase: str


@functools.cache
def _phrase_index(world: bool) -> dict[tuple[str, ...], frozenset[tuple[str, str]]]:
  """Phrase tokens (with plural forms of the last token) -> {(class code, object)}."""
  index: dict[tuple[str, ...], set[tuple[str, str]]] = {}
  for code, objects in SYNONYMS.items():
    for obj, phrases in objects.items():
      extra = WORLD_ONLY.get(obj, ()) if world else UI_ONLY.get(obj, ())
      for phrase in phrases + extra:
        toks = tuple(tokens(phrase))
        forms = [toks]
        if not toks[-1].endswith("s"):
          forms += [toks[:-1] + (toks[-1] + "s",), toks[:-1] + (toks[-1] + "es",)]
        for form in forms:
          index.setdefault(form, set()).add((code, obj))
  return {k: frozenset(v) for k, v in index.items()}


@functools.cache
def _joined_index(world: bool) -> dict[str, frozenset[tuple[str, str]]]:
  out: dict[str, set[tuple[str, str]]] = {}
  for toks, targets in _phrase_index(world).items():
    out.setdefault("".join(toks), set()).update(targets)
  return {k: frozenset(v) for k, v in out.items()}


def _segments(text: str, words: frozenset[str]) -> bool:
  """Whether text is a concatenation of allowed words ("largeorange")."""
  ok = [True] + [False] * len(text)
  for end in range(1, len(text) + 1):
    ok[end] = any(ok[start] and text[start:end] in words for start in range(end))
  return ok[len(text)]


def match(name: str, world: bool, concatenated: bool = False) -> Match | None:
  """Level-3 object for an icon name, or None (no match, vetoed or ambiguous).

  world: the set names things in the world (emoji, game-icons), not UI actions.
  concatenated: the set writes names without separators ("alarmclock").
  """
  toks = core_tokens(name)
  if not toks or "-".join(toks) in SKIP_NAMES:
    return None
  best = None  # (length, end, code, obj, start)
  candidates = []
  if concatenated:
    whole = "".join(toks)
    index = _joined_index(world)
    for i in range(len(whole)):
      suffix = whole[i:]
      if suffix in index and (i == 0 or len(suffix) >= 4):
        for code, obj in index[suffix]:
          words = (ALLOWED_MODIFIERS | OBJECT_MODIFIERS.get(obj, frozenset())) - _NOT_PREFIX
          if _segments(whole[:i], words):
            candidates.append((len(suffix), 1, code, obj, -1))
  else:
    index = _phrase_index(world)
    for i in range(len(toks)):
      for j in range(i + 1, len(toks) + 1):
        for code, obj in index.get(tuple(toks[i:j]), ()):
          candidates.append((j - i, j, code, obj, i))
  for cand in sorted(candidates):
    if best is None or cand[:2] > best[:2]:
      best = cand
    elif cand[:2] == best[:2] and (cand[2], cand[3]) != (best[2], best[3]):
      best = (*best[:2], None, None, best[4])  # ambiguous at equal strength
  if best is None or best[2] is None:
    return None
  length, end, code, obj, start = best
  rest = [] if concatenated else toks[:start] + toks[end:]
  veto = OBJECT_VETO.get(obj, frozenset())
  allowed = ALLOWED_MODIFIERS | OBJECT_MODIFIERS.get(obj, frozenset())
  if any(t in veto or not (t in allowed or t.isdigit()) for t in rest):
    return None
  phrase = name if concatenated else " ".join(toks[start:end])
  return Match(code, obj, phrase)
