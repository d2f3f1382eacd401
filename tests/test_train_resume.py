"""Kill and resume (chaos): SIGKILL or SIGTERM during training steps, evaluations and
asynchronous checkpoint saves. After every interruption the latest checkpoint restores (none
is ever left half-written as latest); re-running the same command to the end reaches the
uninterrupted run's state bit for bit, and the logs stay readable JSON lines. The default
run interrupts a few runs, one per kind of signal; `-m slow` runs the full chaos test.
"""

import json
import os
import pathlib
import random
import signal
import subprocess
import time

import numpy as np
import pytest
from test_train_support import (
  MARKER_DIR_ENV,
  REPO,
  SUBPROCESS_TIMEOUT_S,
  checkpoint_arrays,
  main_command,
  run_main,
  subprocess_env,
  write_config_file,
)

from abstract_cls.train import checkpointing

STEPS = 12
RUN_TRAIN = dict(
  max_steps=STEPS,
  num_epochs=100.0,
  checkpoint_every_steps=1,  # an asynchronous save after every step
  eval_every_epochs=1.0,  # 3 steps
  num_devices=1,
  keep_checkpoints=2,
)
PHASES = ("train", "evaluation", "save")


def _saved_steps(workdir) -> list[int]:
  directory = pathlib.Path(workdir) / "checkpoints"
  if not directory.is_dir():
    return []
  return sorted(int(d.name) for d in directory.iterdir() if d.name.isdigit())


def _in_phase(workdir, phase: str) -> bool:
  workdir = pathlib.Path(workdir)
  if phase == "evaluation":
    return (workdir / "evaluating").exists()
  if phase == "save":  # Orbax writes a step into a temporary folder, then renames it
    directory = workdir / "checkpoints"
    return directory.is_dir() and any("tmp" in d.name for d in directory.iterdir())
  return len(_saved_steps(workdir)) > 0 and not (workdir / "evaluating").exists()


def _interrupt(config_file, workdir, phase: str, sig: int, rng: random.Random) -> str:
  """Runs the slowed trainer until it is in `phase`, sends `sig`; -> its output."""
  os.makedirs(workdir, exist_ok=True)
  log_path = pathlib.Path(workdir).parent / f"{pathlib.Path(workdir).name}.log"
  with open(log_path, "w", encoding="utf-8") as log:
    process = subprocess.Popen(
      main_command(config_file, workdir),
      cwd=REPO,
      env=subprocess_env(1, **{MARKER_DIR_ENV: workdir}),
      stdout=log,
      stderr=subprocess.STDOUT,
    )
    try:
      deadline = time.time() + SUBPROCESS_TIMEOUT_S
      while process.poll() is None and not _in_phase(workdir, phase):
        assert time.time() < deadline, f"never in phase {phase}"
        time.sleep(0.005)
      if phase == "train":
        time.sleep(rng.uniform(0.0, 0.3))  # anywhere in a step and its pause
      assert process.poll() is None, f"the run ended before it was seen in phase {phase}"
      process.send_signal(sig)
      process.wait(timeout=SUBPROCESS_TIMEOUT_S)
    finally:
      if process.poll() is None:
        process.kill()
  log = log_path.read_text(encoding="utf-8")
  assert process.returncode in (0, -signal.SIGKILL, -signal.SIGTERM), log[-3000:]
  if sig == signal.SIGTERM and process.returncode == 0 and "Finished at step" not in log:
    saved = int(log.split("SIGTERM: saved step ")[1].split(";")[0])
    assert _saved_steps(workdir)[-1] == saved
  return log


def _latest_restores(workdir) -> None:
  steps = _saved_steps(workdir)
  if steps:  # an explicit step: no fallback to an older one
    _, _, step = checkpointing.restore_for_inference(str(workdir), steps[-1])
    assert step == steps[-1]


@pytest.fixture(scope="module")
def chaos_setup(tmp_path_factory):
  """(slowed config file, plain config file, the uninterrupted run's final arrays)."""
  root = tmp_path_factory.mktemp("chaos")
  plain = write_config_file(root / "plain.py", train=RUN_TRAIN)
  slowed = write_config_file(
    root / "slowed.py", pause_after_step_s=0.3, pause_in_evaluation_s=0.5, train=RUN_TRAIN
  )
  reference = root / "reference"
  done = run_main(plain, reference)
  assert done.returncode == 0, done.stderr[-3000:]
  return root, slowed, plain, checkpoint_arrays(reference, STEPS)


def _chaos(chaos_setup, trials: list[tuple[str, int]], seed: int) -> None:
  root, slowed, plain, want = chaos_setup
  rng = random.Random(seed)
  for t, interruptions in enumerate(trials):
    workdir = root / f"trial{seed}_{t}"
    for phase, sig in interruptions:
      _interrupt(slowed, workdir, phase, sig, rng)
      _latest_restores(workdir)
    done = run_main(plain, workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Finished at step {STEPS}" in done.stdout, done.stdout
    got = checkpoint_arrays(workdir, STEPS)
    assert got.keys() == want.keys()
    for key in want:
      np.testing.assert_array_equal(got[key], want[key], err_msg=f"trial {t}: {key}")
    with open(workdir / "metrics.jsonl", encoding="utf-8") as f:
      assert all(json.loads(line) for line in f)


def test_interrupted_runs_resume_to_the_same_state(chaos_setup):
  _chaos(
    chaos_setup,
    [[("save", signal.SIGKILL)], [("evaluation", signal.SIGTERM)]],
    seed=0,
  )


@pytest.mark.slow
def test_chaos_many_interruptions_resume_to_the_same_state(chaos_setup):
  rng = random.Random(1)
  trials = [
    [(PHASES[(t + k) % 3], rng.choice([signal.SIGKILL, signal.SIGTERM])) for k in range(1 + t % 3)]
    for t in range(24)
  ]
  _chaos(chaos_setup, trials, seed=1)
