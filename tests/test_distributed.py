"""Two processes joined with jax.distributed on localhost (one CPU device each) train like
one process with two devices and the same global batch."""

import subprocess

import numpy as np
import portpicker
from test_train_support import (
  REPO,
  flat_params,
  main_command,
  subprocess_env,
  tiny_config,
  train_rows,
  write_config_file,
)

from abstract_cls.train import loop

RUN_TRAIN = dict(max_steps=6, num_epochs=100.0)


def test_two_processes_match_single_process(tmp_path):
  reference = str(tmp_path / "single")
  loop.train_and_evaluate(tiny_config(train=dict(RUN_TRAIN, num_devices=2)), reference)

  config_file = write_config_file(tmp_path / "tiny.py", train=dict(RUN_TRAIN, num_devices=0))
  workdir = str(tmp_path / "multi")
  port = portpicker.pick_unused_port()
  processes = [
    subprocess.Popen(
      main_command(config_file, workdir),
      cwd=REPO,
      env=subprocess_env(
        1, JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES=2, JAX_PROCESS_ID=i
      ),
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for i in range(2)
  ]
  outputs = [p.communicate(timeout=400) for p in processes]
  for p, (_, err) in zip(processes, outputs):
    assert p.returncode == 0, err[-4000:]
  assert "2 devices" in outputs[0][1]

  np.testing.assert_allclose(
    [r["loss"] for r in train_rows(workdir)], [r["loss"] for r in train_rows(reference)], rtol=1e-5
  )
  want, got = flat_params(reference), flat_params(workdir)
  for key in want:
    np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-6, err_msg=key)
