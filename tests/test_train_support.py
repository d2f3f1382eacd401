"""Shared helpers for the trainer tests (no tests here): a tiny config and result readers.

The tiny setup: LeNet-5 at 16 px on the pipeline's generated 'synthetic' data set
(80 images, 60 train / 20 validation), global batch 16.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
# Seconds a trainer subprocess may take; raise it on a heavily shared machine.
SUBPROCESS_TIMEOUT_S = float(os.environ.get("ABSTRACT_CLS_TEST_TIMEOUT_S", "600"))
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


MARKER_DIR_ENV = "ABSTRACT_CLS_TEST_MARKER_DIR"


def slow_down(step_s: float = 0.0, evaluation_s: float = 0.0) -> None:
  """Patches the trainer (tests only): the host sleeps after each train step and inside each
  evaluation, which it marks with the file $ABSTRACT_CLS_TEST_MARKER_DIR/evaluating while
  it lasts, so a test can signal a run in a chosen phase."""
  from abstract_cls.train import evaluate as evaluate_lib
  from abstract_cls.train import step as step_lib

  make_train_step, compute_metrics = step_lib.make_train_step, evaluate_lib.compute_metrics

  def slowed_make_train_step(*args, **kwargs):
    train_step = make_train_step(*args, **kwargs)

    def step(*step_args, **step_kwargs):
      out = train_step(*step_args, **step_kwargs)
      time.sleep(step_s)
      return out

    return step

  def slowed_compute_metrics(*args, **kwargs):
    marker_dir = os.environ.get(MARKER_DIR_ENV)
    marker = pathlib.Path(marker_dir, "evaluating") if marker_dir else None
    if marker:
      marker.touch()
    try:
      time.sleep(evaluation_s)
      return compute_metrics(*args, **kwargs)
    finally:
      if marker:
        marker.unlink(missing_ok=True)

  step_lib.make_train_step = slowed_make_train_step
  evaluate_lib.compute_metrics = slowed_compute_metrics


def write_config_file(
  path, pause_after_step_s: float = 0.0, pause_in_evaluation_s: float = 0.0, **sections
) -> str:
  """A config file for subprocess runs: tiny_config(**sections), with the trainer slowed
  down (slow_down) when a pause is given."""
  path = pathlib.Path(path)
  pauses = pause_after_step_s or pause_in_evaluation_s
  slow = f"slow_down({pause_after_step_s}, {pause_in_evaluation_s})\n" if pauses else ""
  path.write_text(
    f"import sys\nsys.path.insert(0, {str(REPO / 'tests')!r})\n"
    "from test_train_support import slow_down, tiny_config\n\n"
    f"{slow}\n"
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


def checkpoint_arrays(workdir, step=None) -> dict[str, np.ndarray]:
  """Every array of a checkpoint (the latest without `step`): params, batch statistics,
  EMA, optimiser state and step, read as numpy whatever processes and devices wrote it."""
  import jax
  import orbax.checkpoint as ocp

  directory = pathlib.Path(workdir) / "checkpoints"
  step = (
    step if step is not None else max(int(d.name) for d in directory.iterdir() if d.name.isdigit())
  )
  checkpointer = ocp.PyTreeCheckpointer()
  arrays = {}
  for item in ("model", "train"):
    path = directory / str(step) / item
    tree = checkpointer.metadata(path).item_metadata.tree
    args = jax.tree_util.tree_map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
    restored = checkpointer.restore(path, args=ocp.args.PyTreeRestore(restore_args=args))
    for key, value in jax.tree_util.tree_leaves_with_path(restored):
      arrays[item + jax.tree_util.keystr(key)] = np.asarray(value)
  return arrays


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
  config_file, workdir, *args, num_devices=1, timeout=SUBPROCESS_TIMEOUT_S, **env
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
