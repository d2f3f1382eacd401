"""Is a finished run the run a sweep asks for? Compared setting by setting, so code that adds a
config field at its default, or removes one, does not make every finished run stale."""

from __future__ import annotations

import json
import pathlib
import shutil


def flat_settings(config) -> dict:
  """{'train.num_epochs': 60.0, ...}: the config as JSON values under dotted keys."""
  out = {}

  def walk(node, prefix):
    if isinstance(node, dict) and node:
      for key, value in node.items():
        walk(value, f"{prefix}{key}.")
    else:
      out[prefix[:-1]] = node

  walk(json.loads(config.to_json_best_effort()), "")
  return out


def differing_settings(recorded: dict, wanted: dict, defaults: dict) -> list[str]:
  """Keys whose values differ. A key only `wanted` has is a field added since the run: it
  differs unless it is at its default. A key only `recorded` has was removed: ignored."""
  out = []
  for key in sorted(wanted):
    if key in recorded:
      if recorded[key] != wanted[key]:
        out.append(key)
    elif key not in defaults or wanted[key] != defaults[key]:
      out.append(key)
  return out


def recorded_settings(result: dict, workdir: pathlib.Path) -> dict | None:
  """The finished run's settings: in result.json, or (older records) the workdir's
  config.json that the trainer wrote; None when neither is there."""
  if "settings" in result:
    return result["settings"]
  path = workdir / "config.json"
  if not path.exists():
    return None

  class _Loaded:  # flat_settings reads to_json_best_effort()
    def to_json_best_effort(self):
      return path.read_text()

  return flat_settings(_Loaded())


def set_aside(out_dir: pathlib.Path, workdir: pathlib.Path) -> pathlib.Path:
  """Moves a run whose settings changed to OUT/replaced/<variant>/<seed>-<n> (kept, never
  deleted; outside runs/, so no report counts it)."""
  base = pathlib.Path(out_dir) / "replaced" / workdir.parent.name
  base.mkdir(parents=True, exist_ok=True)
  n = 1
  while (base / f"{workdir.name}-{n}").exists():
    n += 1
  target = base / f"{workdir.name}-{n}"
  shutil.move(str(workdir), target)
  return target
