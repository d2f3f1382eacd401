"""Which icon sets feed which domain, and reading their icons from node_modules.

A source set is one (package, style) pair with one domain: Phosphor's regular
weight is line art (SKETCH, source "ph"), its fill weight is a flat pictogram
(PICTOGRAM, source "ph-fill"). Everything comes from the npm packages pinned in
package.json / package-lock.json (run `npm ci` in this folder first).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
from collections.abc import Callable, Iterator

HERE = pathlib.Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"

# Kept apart as an external test of unseen styles: never read.
RESERVED_SETS = frozenset(
  {
    "fluent-emoji",
    "fluent-emoji-flat",
    "fluent-emoji-high-contrast",
    "streamline-freehand",
    "streamline-freehand-color",
  }
)
# Licences that allow redistribution in this repository (GPL / non-commercial excluded).
ALLOWED_LICENSES = frozenset(
  {"MIT", "ISC", "Apache-2.0", "CC0-1.0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-4.0", "OFL-1.1"}
)


def _plain(name: str) -> str | None:
  """Base names only: no weight suffix."""
  return (
    None
    if re.search(
      r"-(bold|fill|filled|solid|duotone|light|thin|remix|outline|"
      r"broken|linear|bulk|sharp|rounded|negative|24px|flat)$",
      name,
    )
    else name
  )


def _suffix(suffix: str, exclude: str = "") -> Callable[[str], str | None]:
  def select(name: str) -> str | None:
    if not name.endswith(suffix):
      return None
    base = name[: -len(suffix)]
    if exclude and re.search(exclude, base):
      return None
    return base

  return select


def _fluent(style: str) -> Callable[[str], str | None]:
  """Fluent names carry a size; keep size 24 (the reference size) only."""

  def select(name: str) -> str | None:
    m = re.fullmatch(rf"(.+)-24-{style}", name)
    return m.group(1) if m else None

  return select


def _material_plain(name: str) -> str | None:
  return None if re.search(r"-(outline|rounded|sharp)", name) else name


def _any(name: str) -> str | None:
  return name


def _sized(size: int) -> Callable[[str], str | None]:
  def select(name: str) -> str | None:
    m = re.fullmatch(rf"(.+)-{size}", name)
    return m.group(1) if m else None

  return select


# Two-tone colour UI sets look more like coloured pictograms than drawings: they
# feed ILLUSTRATION only for the classes that emoji sets barely draw.
THIN_ILLUSTRATION_CLASSES = frozenset(
  {
    "L2_10",
    "L2_12",
    "L2_15",
    "L2_21",
    "L2_24",
    "L2_25",
    "L2_27",
    "L2_3",
    "L2_30",
    "L2_40",
    "L2_45",
    "L2_46",
    "L2_52",
  }
)


# Design keys that a set draws as something other than the word says: a
# smartphone for "phone", the Intercom chat logo for "intercom".
_MOBILE_PHONE = frozenset({"phone", "phone-multiple"})


@dataclasses.dataclass(frozen=True)
class Source:
  name: str  # source_set in the manifest
  package: str  # Iconify prefix, or "openmoji-black"
  domain: str
  select: Callable[[str], str | None]  # icon name -> base name, None to skip
  world: bool = False  # names describe the world (emoji), not UI actions
  concatenated: bool = False  # names without separators
  only_classes: frozenset[str] | None = None  # use the set for these classes only
  skip: frozenset[str] = frozenset()  # design keys this set draws as something else


SOURCES: tuple[Source, ...] = (
  # SKETCH: line art.
  Source("tabler", "tabler", "SKETCH", _plain),
  Source("lucide", "lucide", "SKETCH", _any),
  Source("lucide-lab", "lucide-lab", "SKETCH", _any),
  Source("ph", "ph", "SKETCH", _plain),
  Source("hugeicons", "hugeicons", "SKETCH", _any),
  Source(
    "icon-park-outline", "icon-park-outline", "SKETCH", _any, skip=_MOBILE_PHONE | {"intercom"}
  ),
  Source("mingcute-line", "mingcute", "SKETCH", _suffix("-line")),
  Source("iconoir", "iconoir", "SKETCH", _plain),
  Source("la", "la", "SKETCH", _plain, skip=frozenset({"intercom"})),
  Source("streamline", "streamline", "SKETCH", _plain),
  Source("streamline-ultimate", "streamline-ultimate", "SKETCH", _plain),
  Source("fluent-regular", "fluent", "SKETCH", _fluent("regular"), skip=_MOBILE_PHONE),
  Source("material-symbols-outline", "material-symbols", "SKETCH", _suffix("-outline")),
  Source("mdi-outline", "mdi", "SKETCH", _suffix("-outline")),
  Source("solar-linear", "solar", "SKETCH", _suffix("-linear")),
  Source("healthicons-outline", "healthicons", "SKETCH", _suffix("-outline")),
  Source("carbon", "carbon", "SKETCH", _plain, skip=frozenset({"calls"})),
  Source("uil", "uil", "SKETCH", _any),
  Source("fa6-regular", "fa6-regular", "SKETCH", _any),
  Source("openmoji-black", "openmoji-black", "SKETCH", _any, world=True),
  Source("ri-line", "ri", "SKETCH", _suffix("-line")),
  Source("mdi-light", "mdi-light", "SKETCH", _any),
  Source("ion-outline", "ion", "SKETCH", _suffix("-outline")),
  Source("majesticons-line", "majesticons", "SKETCH", _suffix("-line")),
  Source("akar-icons", "akar-icons", "SKETCH", _plain),
  Source("basil-outline", "basil", "SKETCH", _suffix("-outline")),
  Source("pepicons-pencil", "pepicons-pencil", "SKETCH", _plain),
  Source("mynaui", "mynaui", "SKETCH", _plain),
  Source("bi", "bi", "SKETCH", _plain, skip=_MOBILE_PHONE),
  Source("clarity-line", "clarity", "SKETCH", _suffix("-line")),
  Source("heroicons", "heroicons", "SKETCH", _plain),
  Source("lets-icons", "lets-icons", "SKETCH", _plain),
  Source("iconamoon-light", "iconamoon", "SKETCH", _suffix("-light")),
  Source("streamline-plump", "streamline-plump", "SKETCH", _plain),
  Source("streamline-flex", "streamline-flex", "SKETCH", _plain),
  Source("bx", "bx", "SKETCH", _any),
  Source("tdesign", "tdesign", "SKETCH", _plain),
  Source("ant-design-outlined", "ant-design", "SKETCH", _suffix("-outlined")),
  Source("eva-outline", "eva", "SKETCH", _suffix("-outline")),
  Source("flowbite-outline", "flowbite", "SKETCH", _suffix("-outline")),
  Source("mage", "mage", "SKETCH", _plain),
  Source("cil", "cil", "SKETCH", _any),
  Source("fluent-mdl2", "fluent-mdl2", "SKETCH", _plain),
  Source("humbleicons", "humbleicons", "SKETCH", _any),
  Source("proicons", "proicons", "SKETCH", _any, skip=_MOBILE_PHONE),
  Source("typcn-outline", "typcn", "SKETCH", _suffix("-outline")),
  # ILLUSTRATION: colour drawings and emoji.
  Source("openmoji", "openmoji", "ILLUSTRATION", _any, world=True),
  Source("twemoji", "twemoji", "ILLUSTRATION", _any, world=True),
  Source("noto", "noto", "ILLUSTRATION", _any, world=True),
  Source("noto-v1", "noto-v1", "ILLUSTRATION", _any, world=True),
  Source("emojione", "emojione", "ILLUSTRATION", _any, world=True),
  Source("emojione-v1", "emojione-v1", "ILLUSTRATION", _any, world=True),
  Source("streamline-emojis", "streamline-emojis", "ILLUSTRATION", _any, world=True),
  Source("fxemoji", "fxemoji", "ILLUSTRATION", _any, world=True, concatenated=True),
  Source("flat-color-icons", "flat-color-icons", "ILLUSTRATION", _any),
  Source(
    "fluent-color",
    "fluent-color",
    "ILLUSTRATION",
    _sized(24),
    only_classes=THIN_ILLUSTRATION_CLASSES,
    skip=_MOBILE_PHONE,
  ),
  Source(
    "streamline-ultimate-color",
    "streamline-ultimate-color",
    "ILLUSTRATION",
    _any,
    only_classes=THIN_ILLUSTRATION_CLASSES,
  ),
  Source(
    "streamline-color",
    "streamline-color",
    "ILLUSTRATION",
    _plain,
    only_classes=THIN_ILLUSTRATION_CLASSES,
  ),
  Source(
    "streamline-flex-color",
    "streamline-flex-color",
    "ILLUSTRATION",
    _plain,
    only_classes=THIN_ILLUSTRATION_CLASSES,
  ),
  Source(
    "streamline-plump-color",
    "streamline-plump-color",
    "ILLUSTRATION",
    _plain,
    only_classes=THIN_ILLUSTRATION_CLASSES,
  ),
  # PICTOGRAM: flat solid shapes.
  Source("mdi", "mdi", "PICTOGRAM", _plain),
  Source("material-symbols", "material-symbols", "PICTOGRAM", _material_plain),
  Source("fa6-solid", "fa6-solid", "PICTOGRAM", _any),
  Source("ph-fill", "ph", "PICTOGRAM", _suffix("-fill")),
  Source("mingcute-fill", "mingcute", "PICTOGRAM", _suffix("-fill")),
  Source("tabler-filled", "tabler", "PICTOGRAM", _suffix("-filled")),
  Source("fluent-filled", "fluent", "PICTOGRAM", _fluent("filled"), skip=_MOBILE_PHONE),
  Source("solar-bold", "solar", "PICTOGRAM", _suffix("-bold")),
  Source("healthicons", "healthicons", "PICTOGRAM", _plain),
  Source("game-icons", "game-icons", "PICTOGRAM", _any, world=True),
  Source("emojione-monotone", "emojione-monotone", "PICTOGRAM", _any, world=True),
  Source(
    "icon-park-solid", "icon-park-solid", "PICTOGRAM", _any, skip=_MOBILE_PHONE | {"intercom"}
  ),
  Source("bxs", "bxs", "PICTOGRAM", _any),
  Source("pinhead", "pinhead", "PICTOGRAM", _plain, world=True),
  Source("maki", "maki", "PICTOGRAM", _any, world=True),
  Source("streamline-solid", "streamline", "PICTOGRAM", _suffix("-solid")),
  Source("streamline-ultimate-bold", "streamline-ultimate", "PICTOGRAM", _suffix("-bold")),
  Source("ri-fill", "ri", "PICTOGRAM", _suffix("-fill")),
  Source("ion", "ion", "PICTOGRAM", _plain),
  Source("majesticons", "majesticons", "PICTOGRAM", _plain),
  Source("basil-solid", "basil", "PICTOGRAM", _suffix("-solid")),
  Source("mynaui-solid", "mynaui", "PICTOGRAM", _suffix("-solid")),
  Source("bi-fill", "bi", "PICTOGRAM", _suffix("-fill"), skip=_MOBILE_PHONE),
  Source("clarity-solid", "clarity", "PICTOGRAM", _suffix("-solid")),
  Source("heroicons-solid", "heroicons", "PICTOGRAM", _suffix("-solid", exclude=r"-\d+$")),
  Source("iconamoon-fill", "iconamoon", "PICTOGRAM", _suffix("-fill")),
  Source("lets-icons-fill", "lets-icons", "PICTOGRAM", _suffix("-fill")),
  Source("streamline-plump-solid", "streamline-plump", "PICTOGRAM", _suffix("-solid")),
  Source("streamline-flex-solid", "streamline-flex", "PICTOGRAM", _suffix("-solid")),
  Source("tdesign-filled", "tdesign", "PICTOGRAM", _suffix("-filled")),
  Source("ant-design-filled", "ant-design", "PICTOGRAM", _suffix("-filled")),
  Source("eva-fill", "eva", "PICTOGRAM", _suffix("-fill")),
  Source("flowbite-solid", "flowbite", "PICTOGRAM", _suffix("-solid")),
  Source("mage-fill", "mage", "PICTOGRAM", _suffix("-fill")),
  Source("fontisto", "fontisto", "PICTOGRAM", _any),
  Source("vaadin", "vaadin", "PICTOGRAM", _plain),
  Source("typcn", "typcn", "PICTOGRAM", _plain),
  Source("entypo", "entypo", "PICTOGRAM", _any),
)


@dataclasses.dataclass(frozen=True)
class Icon:
  source: Source
  icon_name: str  # name in the package
  base_name: str  # name less the source's style suffix
  svg: str
  license: str


@dataclasses.dataclass(frozen=True)
class PackageInfo:
  license: str
  title: str
  author: str
  url: str
  version: str


def _iconify_json(prefix: str) -> dict:
  path = NODE_MODULES / "@iconify-json" / prefix / "icons.json"
  if not path.exists():
    raise FileNotFoundError(f"{path} missing: run `npm ci` in {HERE}")
  return json.loads(path.read_text(encoding="utf-8"))


def package_info(package: str) -> PackageInfo:
  if package == "openmoji-black":
    meta = json.loads((NODE_MODULES / "openmoji" / "package.json").read_text())
    return PackageInfo(
      "CC-BY-SA-4.0",
      "OpenMoji (black)",
      "OpenMoji / HfG Schwäbisch Gmünd",
      "https://openmoji.org",
      meta["version"],
    )
  path = NODE_MODULES / "@iconify-json" / package / "info.json"
  info = json.loads(path.read_text(encoding="utf-8"))
  meta = json.loads((path.parent / "package.json").read_text(encoding="utf-8"))
  return PackageInfo(
    info["license"]["spdx"],
    info["name"],
    info["author"]["name"],
    info["author"].get("url", ""),
    meta["version"],
  )


def _wrap(body: str, left: float, top: float, width: float, height: float) -> str:
  return (
    f'<svg xmlns="http://www.w3.org/2000/svg" '
    f'xmlns:xlink="http://www.w3.org/1999/xlink" '
    f'viewBox="{left} {top} {width} {height}" width="{width}" height="{height}" '
    f'color="#000000">{body}</svg>'
  )


def _iconify_icons(source: Source, data: dict, license_id: str) -> Iterator[Icon]:
  dw, dh = data.get("width", 16), data.get("height", 16)
  for name in sorted(data["icons"]):
    icon = data["icons"][name]
    if icon.get("hidden"):
      continue
    base = source.select(name)
    if base is None:
      continue
    svg = _wrap(
      icon["body"],
      icon.get("left", 0),
      icon.get("top", 0),
      icon.get("width", dw),
      icon.get("height", dh),
    )
    yield Icon(source, name, base, svg, license_id)


def _openmoji_black(source: Source) -> Iterator[Icon]:
  root = NODE_MODULES / "openmoji"
  meta = json.loads((root / "data" / "openmoji.json").read_text(encoding="utf-8"))
  for entry in sorted(meta, key=lambda e: e["hexcode"]):
    if entry.get("skintone"):  # skin-tone variants repeat one design
      continue
    if entry["group"] in ("flags", "component"):
      continue
    path = root / "black" / "svg" / f"{entry['hexcode']}.svg"
    if not path.exists():
      continue
    name = re.sub(r"[^a-z0-9]+", "-", entry["annotation"].lower()).strip("-")
    yield Icon(source, name, name, path.read_text(encoding="utf-8"), "CC-BY-SA-4.0")


def iter_icons(sources=SOURCES) -> Iterator[Icon]:
  """All icons of all sources, in a fixed order (sources, then names)."""
  cache: dict[str, dict] = {}
  for source in sources:
    if source.package in RESERVED_SETS or source.name in RESERVED_SETS:
      raise ValueError(f"source {source.name} uses the reserved set {source.package}")
    license_id = package_info(source.package).license
    if license_id not in ALLOWED_LICENSES:
      raise ValueError(f"source {source.name}: licence {license_id} is not allowed")
    if source.package == "openmoji-black":
      yield from _openmoji_black(source)
      continue
    if source.package not in cache:
      cache[source.package] = _iconify_json(source.package)
    yield from _iconify_icons(source, cache[source.package], license_id)
