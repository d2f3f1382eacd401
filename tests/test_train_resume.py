"""Kill and resume: SIGKILL mid-run then re-run == uninterrupted run; SIGTERM saves and exits."""

import os
import signal
import subprocess
import time

import numpy as np
from test_train_support import (
  REPO,
  flat_params,
  main_command,
  run_main,
  subprocess_env,
  write_config_file,
)

RUN_TRAIN = dict(
  max_steps=12, num_epochs=100.0, checkpoint_every_steps=2, num_devices=1, keep_checkpoints=2
)


def _finalized_steps(workdir):
  ckpt = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckpt):
    return []
  return sorted(int(d) for d in os.listdir(ckpt) if d.isdigit())


def _start_slow_run(tmp_path, workdir):
  config_file = write_config_file(
    tmp_path / "slow.py", train=dict(RUN_TRAIN, pause_after_step_s=0.4)
  )
  return subprocess.Popen(
    main_command(config_file, workdir),
    cwd=REPO,
    env=subprocess_env(1),
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )


def _wait_for_checkpoint(process, workdir, step, timeout=240):
  deadline = time.time() + timeout
  while time.time() < deadline:
    if _finalized_steps(workdir) and _finalized_steps(workdir)[-1] >= step:
      return
    if process.poll() is not None:
      raise AssertionError(f"run ended early: {process.communicate()}")
    time.sleep(0.1)
  process.kill()
  raise AssertionError("no checkpoint in time")


def test_sigkill_then_restart_reaches_same_parameters(tmp_path):
  # All three runs in the same kind of process (one CPU device), so XLA compiles alike.
  config_file = write_config_file(tmp_path / "run.py", train=RUN_TRAIN)
  reference = str(tmp_path / "reference")
  done = run_main(config_file, reference)
  assert done.returncode == 0, done.stderr[-3000:]

  killed = str(tmp_path / "killed")
  process = _start_slow_run(tmp_path, killed)
  _wait_for_checkpoint(process, killed, 4)
  process.send_signal(signal.SIGKILL)
  process.communicate()
  assert process.returncode == -signal.SIGKILL
  assert _finalized_steps(killed)[-1] < 12

  done = run_main(config_file, killed)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "resumed at step" in done.stderr and "Finished at step 12" in done.stdout
  want, got = flat_params(reference), flat_params(killed)
  assert want.keys() == got.keys()
  for key in want:
    np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_sigterm_saves_and_exits_cleanly(tmp_path):
  workdir = str(tmp_path / "w")
  process = _start_slow_run(tmp_path, workdir)
  _wait_for_checkpoint(process, workdir, 2)
  process.send_signal(signal.SIGTERM)
  out, err = process.communicate(timeout=120)
  assert process.returncode == 0, err
  assert "SIGTERM: saved step" in err
  saved = int(err.split("SIGTERM: saved step")[1].split(";")[0])
  assert 2 <= saved < 12 and _finalized_steps(workdir)[-1] == saved
