"""configs/: every file loads the way the trainer loads it (by path, through config_flags),
from the repository root and from another directory, and a family config only overrides
fields that configs/default.py defines."""

import importlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIG_NAMES = sorted(p.stem for p in (REPO / "configs").glob("*.py") if p.stem != "__init__")

# Loads each file given on the command line as main.py does and prints its fields as JSON.
_LOAD_BY_PATH = """
import json, sys
from absl import flags
from ml_collections import config_flags
flag = config_flags.DEFINE_config_file("config", None, "")
out = {}
for path in sys.argv[1:]:
  flags.FLAGS(["load", f"--config={path}"])
  out[path] = json.loads(flag.value.to_json_best_effort(sort_keys=True))
print(json.dumps(out))
"""


def _flat(tree, prefix=""):
  if not isinstance(tree, dict):
    return {prefix: tree}
  out = {}
  for key, value in tree.items():
    out.update(_flat(value, f"{prefix}.{key}" if prefix else key))
  return out


def _as_imported(name):
  module = importlib.import_module(f"configs.{name}")
  return json.loads(module.get_config().to_json_best_effort(sort_keys=True))


def test_config_names_cover_the_families():
  assert {"default", "resnet", "plain", "lenet", "alexnet", "vgg"} <= set(CONFIG_NAMES)


@pytest.mark.parametrize("where", ["repo", "elsewhere"])
def test_configs_load_by_path_as_the_trainer_loads_them(where, tmp_path):
  if where == "repo":
    cwd, paths = REPO, [f"configs/{n}.py" for n in CONFIG_NAMES]
  else:
    cwd, paths = tmp_path, [str(REPO / "configs" / f"{n}.py") for n in CONFIG_NAMES]
  done = subprocess.run(
    [sys.executable, "-c", _LOAD_BY_PATH, *paths],
    cwd=cwd,
    env={**os.environ, "PYTHONPATH": str(REPO)},
    capture_output=True,
    text=True,
    timeout=120,
    check=False,
  )
  assert done.returncode == 0, done.stderr[-3000:]
  loaded = json.loads(done.stdout)
  for name, path in zip(CONFIG_NAMES, paths, strict=True):
    assert loaded[path] == _as_imported(name), name


@pytest.mark.parametrize("name", [n for n in CONFIG_NAMES if n != "default"])
def test_family_configs_only_override_default_fields(name):
  default = _flat(_as_imported("default"))
  family = _flat(_as_imported(name))
  # model.options is a per-model dict; every other field must exist in default.py.
  new = {k for k in family if k not in default and not k.startswith("model.options.")}
  assert not new, f"configs/{name}.py sets fields default.py does not define: {sorted(new)}"
