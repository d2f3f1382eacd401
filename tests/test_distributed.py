"""Two processes joined with jax.distributed on localhost (one CPU device each).

They train like one process with two devices and the same global batch (a batch-norm model:
one step equal; later steps differ by float rounding through ReLU kinks), stop together at
one saved step on SIGTERM and resume bit-exactly, evaluate like one process, read and decode
disjoint rows whose union is the one-process input, and agree on unreadable checkpoints.
"""

import json
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import portpicker
import pytest
from test_train_support import (
  REPO,
  SUBPROCESS_TIMEOUT_S,
  checkpoint_arrays,
  main_command,
  subprocess_env,
  tiny_config,
  train_rows,
  write_config_file,
)

from abstract_cls.data import pipeline, sources
from abstract_cls.train import evaluate, loop
from abstract_cls.train import mesh as mesh_lib

STEPS = 8
RUN_TRAIN = dict(
  max_steps=STEPS, num_epochs=100.0, checkpoint_every_steps=1, keep_checkpoints=STEPS, log_every=1
)
BATCH_NORM = {"in_channels": 3, "input_size": 16, "dtype": "float32", "norm": "batch"}


def _launch(command_for, tmp_path, name) -> list[subprocess.Popen]:
  """Starts processes 0 and 1 of one job; output goes to tmp_path/name.<i>.{out,err}."""
  port = portpicker.pick_unused_port()
  processes = []
  for i in range(2):
    env = subprocess_env(
      1, JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES=2, JAX_PROCESS_ID=i
    )
    out = open(tmp_path / f"{name}.{i}.out", "w", encoding="utf-8")  # noqa: SIM115
    err = open(tmp_path / f"{name}.{i}.err", "w", encoding="utf-8")  # noqa: SIM115
    processes.append(subprocess.Popen(command_for(i), cwd=REPO, env=env, stdout=out, stderr=err))
  return processes


def _finish(processes, tmp_path, name, timeout=SUBPROCESS_TIMEOUT_S) -> list[str]:
  """Waits; -> each process's stderr. Fails naming the process that did not exit 0, and
  leaves no process behind."""
  errs = []
  try:
    for i, p in enumerate(processes):
      p.wait(timeout=timeout)
      errs.append((tmp_path / f"{name}.{i}.err").read_text(encoding="utf-8"))
      assert p.returncode == 0, f"process {i}: {errs[-1][-4000:]}"
  finally:
    for p in processes:
      if p.poll() is None:
        p.kill()
  return errs


def _config_file(tmp_path, name, **extra) -> str:
  return write_config_file(tmp_path / f"{name}.py", train=dict(RUN_TRAIN, num_devices=0), **extra)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
  return tmp_path_factory.mktemp("distributed")


@pytest.fixture(scope="module")
def two_process_run(root):
  """An uninterrupted two-process run of a batch-norm LeNet: (config file, workdir)."""
  config_file = _config_file(root, "bn", model=dict(options=BATCH_NORM))
  workdir = str(root / "multi")
  processes = _launch(lambda i: main_command(config_file, workdir), root, "train")
  errs = _finish(processes, root, "train")
  assert "2 devices" in errs[0]
  return config_file, workdir


def test_two_processes_match_one_process_with_two_devices(root, two_process_run):
  _, workdir = two_process_run
  reference = str(root / "single")
  loop.train_and_evaluate(
    tiny_config(train=dict(RUN_TRAIN, num_devices=2), model=dict(options=BATCH_NORM)), reference
  )
  want, got = checkpoint_arrays(reference, step=1), checkpoint_arrays(workdir, step=1)
  assert want.keys() == got.keys()
  for key in want:
    np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)
  losses = [[r["loss"] for r in train_rows(w)] for w in (workdir, reference)]
  np.testing.assert_allclose(losses[0][0], losses[1][0], rtol=1e-6)  # before any update
  np.testing.assert_allclose(losses[0], losses[1], rtol=1e-2)


def _saved_steps(workdir) -> list[int]:
  directory = pathlib.Path(workdir) / "checkpoints"
  return (
    sorted(int(d.name) for d in directory.iterdir() if d.name.isdigit())
    if directory.is_dir()
    else []
  )


def test_sigterm_stops_both_processes_at_one_saved_step_and_resume_is_exact(root, two_process_run):
  _, reference = two_process_run
  slow = write_config_file(
    root / "slow.py",
    pause_after_step_s=0.5,
    train=dict(RUN_TRAIN, num_devices=0),
    model=dict(options=BATCH_NORM),
  )
  workdir = str(root / "preempted")
  processes = _launch(lambda i: main_command(slow, workdir), root, "preempted")
  deadline = time.time() + SUBPROCESS_TIMEOUT_S
  while not _saved_steps(workdir) or _saved_steps(workdir)[-1] < 2:
    if time.time() > deadline or any(p.poll() is not None for p in processes):
      _finish(processes, root, "preempted", timeout=1)
      raise AssertionError("the run saved no step 2 while running")
    time.sleep(0.1)
  signalled = time.time()
  for p in processes:
    p.send_signal(signal.SIGTERM)
  errs = _finish(processes, root, "preempted")
  assert time.time() - signalled < SUBPROCESS_TIMEOUT_S / 10
  saved = [int(e.split("SIGTERM: saved step ")[1].split(";")[0]) for e in errs]
  assert saved[0] == saved[1] == _saved_steps(workdir)[-1] < STEPS, errs[0][-2000:]
  assert "process 1: SIGTERM" in errs[1]

  config_file = _config_file(root, "bn_again", model=dict(options=BATCH_NORM))
  _finish(_launch(lambda i: main_command(config_file, workdir), root, "resumed"), root, "resumed")
  want, got = checkpoint_arrays(reference, step=STEPS), checkpoint_arrays(workdir, step=STEPS)
  assert want.keys() == got.keys()
  for key in want:
    np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@pytest.fixture(scope="module")
def checks(root, two_process_run):
  """tests/multiprocess_checks.py run in two processes: {process index: its record}."""
  startup = root / "startup"
  unreadable = startup / "checkpoints" / "3"
  unreadable.mkdir(parents=True)
  (unreadable / "_CHECKPOINT_METADATA").write_text('{"truncated": ')
  out = root / "checks"
  out.mkdir()
  script = [sys.executable, str(REPO / "tests" / "multiprocess_checks.py")]
  command = script + [str(out), str(startup), two_process_run[1]]
  _finish(_launch(lambda i: command, root, "checks"), root, "checks")
  return {i: json.loads((out / f"process_{i}.json").read_text()) for i in range(2)}


@pytest.fixture(scope="module")
def one_process_reads():
  """What one process with two devices decodes and sees for the same inputs."""
  import jax

  config = tiny_config(train=dict(num_devices=2))
  mesh = mesh_lib.make_mesh(2)
  names, real = [], sources.decode_resized

  def recording(image, size, name=""):
    names.append(name)
    return real(image, size, name)

  sources.decode_resized = recording
  try:
    out = {}
    train = pipeline.make_train_input(config.data, "train", mesh, 0, config.train.batch_size)
    out["train_in_memory"], names[:] = sorted(names), []
    key = jax.random.fold_in(jax.random.key(0), 3)
    batch = jax.jit(pipeline.build_batch, static_argnums=0)(
      train.spec, train.device_data, {}, 3, key
    )
    out["in_memory_batch"] = {k: np.asarray(batch[k]) for k in ("label", "image")}
    streaming_config = config.data.copy_and_resolve_references()
    streaming_config.mode, streaming_config.num_workers = "streaming", 0
    streaming = pipeline.make_train_input(
      streaming_config, "train", mesh, 0, config.train.batch_size
    )
    names[:] = []
    host = streaming.host_batch(3)
    streaming.close()
    out["streaming_step"] = list(range(config.train.batch_size))
    out["streaming_batch"] = host
    time.sleep(0.5)  # the closed stream's last in-flight reads
    names[:] = []
    for name, data_config in (
      ("eval_in_memory", config.data),
      ("eval_streaming", streaming_config),
    ):
      eval_input = pipeline.make_eval_input(data_config, "validation", mesh, config.eval.batch_size)
      out[name + "_labels"] = [
        int(x) for b in eval_input.batches() for x in np.asarray(b["label"])[np.asarray(b["mask"])]
      ]
      out[name], names[:] = sorted(names), []
  finally:
    sources.decode_resized = real
  return out


@pytest.mark.parametrize(
  "part", ["train_in_memory", "streaming_step", "eval_in_memory", "eval_streaming"]
)
def test_each_process_decodes_its_own_rows_only(checks, one_process_reads, part):
  first, second = checks[0][part], checks[1][part]
  assert first and second and not set(first) & set(second)
  assert sorted(first + second) == one_process_reads[part]


@pytest.mark.parametrize("batch", ["in_memory_batch", "streaming_batch"])
def test_two_process_batches_equal_the_one_process_batch(checks, one_process_reads, batch):
  want = one_process_reads[batch]
  for i in range(2):
    np.testing.assert_array_equal(checks[i][batch]["label"], want["label"])
    np.testing.assert_allclose(np.asarray(checks[i][batch]["image"]), want["image"], atol=1e-6)
  for part in ("eval_in_memory_labels", "eval_streaming_labels"):
    assert checks[0][part] == checks[1][part] == one_process_reads[part]


def test_processes_agree_on_an_unreadable_step_at_start_up(checks, root):
  assert checks[0]["startup_steps"] == checks[1]["startup_steps"] == []
  assert [p.name.split("-")[0] for p in (root / "startup" / "corrupt_checkpoints").iterdir()] == [
    "3"
  ]


def test_two_process_eval_equals_one_process_eval(checks, two_process_run):
  config = tiny_config(train=dict(num_devices=2))
  config.eval.checkpoint = "latest"
  metrics = evaluate.run_eval(config, two_process_run[1])
  for i in range(2):
    assert checks[i]["eval"] == {
      k: np.asarray(metrics[k]).tolist() for k in ("accuracy", "macro_f1", "confusion")
    }
