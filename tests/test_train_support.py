"""Shared helpers for the trainer tests (no tests here): a tiny config and result readers.

The tiny setup: LeNet-5 at 16 px on the pipeline's generated 'synthetic' data set
(80 images, 64 train / 16 validation), global batch 16.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # configs/ and abstract_cls/, also for a subprocess config file
  sys.path.insert(0, str(REPO))

from configs import default  # noqa: E402 (needs the repository on sys.path)


def tiny_config(**sections):
  """configs/default.py shrunk to seconds; each keyword updates one section's fields,
  e.g. tiny_config(train=dict(max_steps=6, num_devices=2))."""
  config = default.get_config()
  config.model.name = "lenet5"
  config.model.options = {"in_channels": 3, "input_size": 16, "dtype": "float32"}
  config.data.name = "synthetic"
  config.data.synthetic_num_examples = 80
  config.data.image_size = 16
  config.train.batch_size = 16
  config.eval.batch_size = 16
  config.train.num_epochs = 2.0
  config.train.log_every = 2
  config.train.layer_norms_every = 0  # a second compiled step; the e2e test turns it on
  config.train.num_devices = 1  # one compiled program shared by most tests
  config.train.progress_bar = False
  config.optimizer.lr = 0.05
  config.optimizer.warmup_epochs = 0.5
  for section, fields in sections.items():
    unknown = sorted(set(fields) - set(config[section]))
    if unknown:
      raise KeyError(f"tiny_config: config.{section} has no field(s) {unknown}")
    config[section].update(fields)
  return config


def write_config_file(path, **sections) -> str:
  """A config file for subprocess runs: tiny_config(**sections)."""
  path = pathlib.Path(path)
  path.write_text(
    f"import sys\nsys.path.insert(0, {str(REPO / 'tests')!r})\n"
    "from test_train_support import tiny_config\n\n\n"
    f"def get_config():\n  return tiny_config(**{sections!r})\n"
  )
  return str(path)


def read_jsonl(path) -> list[dict]:
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def train_rows(workdir) -> list[dict]:
  return [r for r in read_jsonl(os.path.join(workdir, "metrics.jsonl")) if "eval" not in r]


def eval_rows(workdir) -> list[dict]:
  return [r for r in read_jsonl(os.path.join(workdir, "metrics.jsonl")) if "eval" in r]


def flat_params(workdir, step="latest") -> dict[str, np.ndarray]:
  import jax
  from flax import nnx

  from abstract_cls.train import checkpointing

  model, _, _ = checkpointing.restore_for_inference(str(workdir), step)
  params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
  return {
    jax.tree_util.keystr(k): np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(params)
  }


def subprocess_env(num_devices: int = 1, **extra) -> dict:
  env = dict(os.environ)
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={num_devices}"
  env["JAX_PLATFORMS"] = "cpu"
  env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
  env.update({k: str(v) for k, v in extra.items()})
  return env


def main_command(config_file, workdir, *args) -> list[str]:
  return [
    sys.executable,
    "-m",
    "abstract_cls.main",
    f"--config={config_file}",
    f"--workdir={workdir}",
    *args,
  ]


def run_main(
  config_file, workdir, *args, num_devices=1, timeout=300, **env
) -> subprocess.CompletedProcess:
  return subprocess.run(
    main_command(config_file, workdir, *args),
    cwd=REPO,
    env=subprocess_env(num_devices, **env),
    capture_output=True,
    text=True,
    timeout=timeout,
    check=False,
  )
