"""benchmarks/train_step.py: the worker's JSON and the suites' ratio arithmetic and table.

The ratios in benchmarks/RESULTS.md come from peer_suites.attach_ratios and report; the
worker (--suite=one) is what every suite spawns.
"""

import importlib.util
import json
import pathlib
import subprocess
import sys
import types

_BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
  spec = importlib.util.spec_from_file_location(f"{name}_benchmark", _BENCHMARKS / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


peer_suites = _load("peer_suites")


def test_ratio_is_project_over_peer_of_the_same_repeat():
  project = dict(peer="abstract_cls", img_per_s=120.0, cpu_s_per_step=2.0)
  torch_peer = dict(peer="torch-cpu", img_per_s=80.0, cpu_s_per_step=3.0)
  failed_peer = dict(peer="jax-cpu", error="exit 1: boom")
  peer_suites.attach_ratios(project, [torch_peer, failed_peer])
  assert torch_peer["ratio"] == 1.5
  assert torch_peer["cpu_ratio"] == 1.5  # the peer needs 1.5x the CPU seconds per step
  assert "ratio" not in failed_peer


def test_report_prints_median_ratio_and_errors_and_writes_json(tmp_path, capsys):
  runs = []
  for repeat, (ours, theirs) in enumerate([(100.0, 80.0), (90.0, 100.0), (110.0, 100.0)]):
    project = dict(
      peer="abstract_cls",
      model="lenet5",
      image_size=32,
      batch_size=128,
      img_per_s=ours,
      step_ms=128e3 / ours,
      repeat=repeat,
    )
    peer = dict(
      peer="torch-cpu",
      model="lenet5",
      image_size=32,
      batch_size=128,
      img_per_s=theirs,
      step_ms=128e3 / theirs,
      repeat=repeat,
    )
    peer_suites.attach_ratios(project, [peer])
    runs += [project, peer]
  runs.append(
    dict(
      peer="jax-cpu",
      model="lenet5",
      image_size=32,
      error="exit 1: Traceback ...\nValueError: no such model",
    )
  )
  out = tmp_path / "results.json"
  peer_suites.report(runs, str(out))
  table = capsys.readouterr().out
  assert "torch-cpu | lenet5@32 | 128 | 80.0, 100.0, 100.0 |" in table
  assert "1.10 (0.90-1.25)" in table  # median and range of 1.25, 0.9, 1.1
  assert "jax-cpu | lenet5@32 | ERROR ValueError: no such model" in table
  assert json.loads(out.read_text()) == runs


def test_worker_prints_one_json_result(tmp_path):
  command = [
    sys.executable,
    str(_BENCHMARKS / "train_step.py"),
    "--suite=one",
    "--data=synthetic",
    "--model=lenet5",
    "--image_size=32",
    "--batch_size=16",
    "--steps=2",
    "--warmup=0",
    "--time_input=1",
    "--profile_steps=2",
    f"--cache_dir={tmp_path}",
  ]
  proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  assert result["model"] == "lenet5" and result["batch_size"] == 16
  assert result["img_per_s"] > 0 and result["step_ms"] > 0
  assert result["input_ms"] > 0
  assert result["xla_flops_per_image"] > 0
  assert result["cache_misses"] + result["cache_hits"] > 0
  profile = result["profile"]
  assert profile["op_ms_per_step"] > 0 and profile["top_ops"]
  assert all(ms >= 0 and not name.startswith("ThunkExecutor") for name, ms in profile["top_ops"])


def test_peer_commands_name_one_script_per_peer():
  args = types.SimpleNamespace(
    torch_python="/torch/python",
    steps=3,
    warmup=1,
    with_flax_peer=True,
    gpu_peer_steps=7,
    width=0.5,
  )
  cpu = peer_suites.cpu_peer_commands(args)("resnet18", 64, 128)
  gpu = peer_suites.gpu_peer_commands(args)("resnet50", 224, 256)
  assert [peer_suites._peer_label(c) for c in cpu] == ["peer_torch", "peer_flax"]
  assert [peer_suites._peer_label(c) for c in gpu] == [
    "peer_flax",
    "peer_torch --device=cuda",
    "peer_torch --device=cuda --compiled",
  ]
  assert cpu[0][0] == "/torch/python" and gpu[0][0] == sys.executable
  for command in cpu + gpu:
    assert pathlib.Path(command[1]).is_file(), command
    assert "--model=resnet18" in command or "--model=resnet50" in command
  assert "--steps=7" in gpu[1] and "--warmup=5" in gpu[1]
  assert "--width=0.5" in cpu[0]  # the PyTorch peer builds the same half-width net


def test_a_failing_peer_still_prints_its_labelled_json(capsys):
  peer_cli = _load("peer_cli")
  args = peer_cli.parser("peer").parse_args(["--model=resnet18", "--steps=2"])

  def measure(model, image_size, batch_size, steps, warmup):
    assert (model, image_size, batch_size, steps, warmup) == ("resnet18", 64, 128, 2, 2)
    raise RuntimeError("no GPU here")

  assert peer_cli.report(args, "torch-eager", measure) == 1
  result = json.loads(capsys.readouterr().out)
  assert result["peer"] == "torch-eager" and "no GPU here" in result["error"]
  assert result["model"] == "resnet18" and result["steps"] == 2
