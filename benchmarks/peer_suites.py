"""The processes behind train_step.py's comparison suites: each measurement (the project's
step, a PyTorch or textbook-Flax peer) runs in its own process; the suites alternate them,
pair each project run with the peers of the same repeat for the ratio, and print one table.

train_step.py --suite=one is the project's worker; peer_torch.py and peer_flax.py are the
peers. Run through train_step.py, not directly.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "train_step.py")
TORCH_PEER = os.path.join(HERE, "peer_torch.py")
FLAX_PEER = os.path.join(HERE, "peer_flax.py")


def _last_line(text):
  lines = (text or "").strip().splitlines()
  return lines[-1] if lines else ""


def _last_json(text):
  for line in reversed(text.strip().splitlines()):
    if line.startswith("{"):
      return json.loads(line)
  return None


def spawn(command, env=None, timeout=1800, **labels):
  """Runs one measurement process; -> its JSON result with `labels` and wall seconds."""
  launched = time.time()
  proc = subprocess.run(
    command, capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout, check=False
  )
  result = _last_json(proc.stdout)
  if result is None:
    result = dict(error=f"exit {proc.returncode}: {proc.stderr.strip()[-1500:]}")
  for name, value in labels.items():
    result.setdefault(name, value)
  result["launched_at"] = launched
  result["wall_s"] = round(time.time() - launched, 2)
  return result


# The suite's flags every worker gets, and those passed on only when set.
_WORKER_FLAGS = ("steps", "warmup", "windows", "data", "conv_impl", "num_devices", "width")
_OPTIONAL_FLAGS = ("data_dir", "dtype", "cache_dir")


def worker_command(args, model, size, batch, **overrides):
  flags = dict(model=model, image_size=size, batch_size=batch)
  flags.update({name: getattr(args, name) for name in _WORKER_FLAGS})
  flags.update({name: getattr(args, name) for name in _OPTIONAL_FLAGS if getattr(args, name)})
  flags.update(overrides)
  return [sys.executable, WORKER, "--suite=one"] + [f"--{k}={v}" for k, v in flags.items()]


def report(results, out_path):
  print("\npeer | model@size | batch | img/s (per run) | median step ms | ratio")
  groups = {}
  for r in results:
    model = r.get("model")
    if r.get("width", 1.0) != 1.0:
      model = f"{model} (width {r['width']})"
    key = (r.get("peer"), model, r.get("image_size"), r.get("num_devices"))
    groups.setdefault(key, []).append(r)
  for (peer, model, size, devices), runs in groups.items():
    ok = [r for r in runs if "img_per_s" in r]
    if not ok:
      print(f"{peer} | {model}@{size} | ERROR {_last_line(runs[0].get('error'))[:300]}")
      continue
    rates = [r["img_per_s"] for r in ok]
    ratios = [r["ratio"] for r in ok if "ratio" in r]
    ratio_text = (
      f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else ""
    )
    cpu_ratios = [r["cpu_ratio"] for r in ok if "cpu_ratio" in r]
    if cpu_ratios:
      ratio_text += f"; CPU-seconds ratio {', '.join(str(x) for x in cpu_ratios)}"
    steps = round(statistics.median(r["step_ms"] for r in ok), 1)
    label = f"{peer} x{devices}" if devices and devices > 1 else peer
    print(
      f"{label} | {model}@{size} | {ok[0].get('batch_size')} | "
      f"{', '.join(str(x) for x in rates)} | {steps} | {ratio_text}"
    )
  if out_path:
    with open(out_path, "w", encoding="utf-8") as f:
      json.dump(results, f, indent=1)
    print(f"wrote {out_path}")


def attach_ratios(project, peers):
  """Project img/s over each peer's img/s from the same repeat (adjacent processes)."""
  for peer in peers:
    if "img_per_s" in peer and "img_per_s" in project:
      peer["ratio"] = round(project["img_per_s"] / peer["img_per_s"], 3)
    if peer.get("cpu_s_per_step") and project.get("cpu_s_per_step"):
      # Peer CPU seconds per step over the project's: > 1 means the project needs less.
      peer["cpu_ratio"] = round(peer["cpu_s_per_step"] / project["cpu_s_per_step"], 3)


def _peer_label(command):
  """A peer's name before its JSON is read (the label of a run that failed to print one)."""
  script = os.path.basename(command[1]).removesuffix(".py")
  return " ".join([script] + [a for a in command[2:] if a in ("--device=cuda", "--compiled")])


def run_comparison(args, cases, peer_commands):
  results = []
  for model, size, batch in cases:
    for repeat in range(args.repeats):
      # Alternate the order, so slow drift on a shared machine hits both sides alike.
      order = ["project", "peers"] if repeat % 2 == 0 else ["peers", "project"]
      project, peers = None, []
      for which in order:
        if which == "project":
          project = spawn(
            worker_command(args, model, size, batch),
            peer="abstract_cls",
            model=model,
            width=args.width,
            image_size=size,
            repeat=repeat,
          )
          print(json.dumps(project), flush=True)
        else:
          for command in peer_commands(model, size, batch):
            peer = spawn(
              command,
              peer=_peer_label(command),
              model=model,
              width=args.width,
              image_size=size,
              repeat=repeat,
            )
            peers.append(peer)
            print(json.dumps(peer), flush=True)
      attach_ratios(project, peers)
      results.extend([project] + peers)
  return results


def _peer_flags(model, size, batch, steps, warmup):
  return [
    f"--model={model}",
    f"--image_size={size}",
    f"--batch_size={batch}",
    f"--steps={steps}",
    f"--warmup={warmup}",
  ]


def cpu_peer_commands(args):
  def commands(model, size, batch):
    flags = _peer_flags(model, size, batch, args.steps, args.warmup)
    out = [[args.torch_python, TORCH_PEER, "--device=cpu", f"--width={args.width}"] + flags]
    if args.with_flax_peer:
      out.append([sys.executable, FLAX_PEER, "--dtype=float32"] + flags)
    return out

  return commands


def gpu_peer_commands(args):
  def commands(model, size, batch):
    flags = _peer_flags(model, size, batch, args.gpu_peer_steps, 5)
    return [
      [sys.executable, FLAX_PEER, "--dtype=bfloat16"] + flags,
      [args.torch_python, TORCH_PEER, "--device=cuda"] + flags,
      [args.torch_python, TORCH_PEER, "--device=cuda", "--compiled"] + flags,
    ]

  return commands


def run_startup(args):
  """Time from command to first finished step: cold cache, then the same cache again."""
  cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="abstract_cls_jax_cache_")
  if not args.cache_dir:
    shutil.rmtree(cache_dir)
  results = []
  for label in ("cold_cache", "warm_cache"):
    command = worker_command(
      args,
      args.model,
      args.image_size,
      args.batch_size,
      cache_dir=cache_dir,
      steps=1,
      warmup=0,
      windows=1,
      time_input=0,
    )
    r = spawn(command, peer="abstract_cls", model=args.model, image_size=args.image_size)
    if "first_step_done_at" in r:
      r["command_to_first_step_s"] = round(r["first_step_done_at"] - r["launched_at"], 2)
    r.update(startup=label, cache_dir=cache_dir)
    results.append(r)
    print(json.dumps(r), flush=True)
  print("\nrun | command->first step s | step compile s | cache hits | cache misses")
  for r in results:
    print(
      f"{r['startup']} | {r.get('command_to_first_step_s')} | "
      f"{r.get('phases', {}).get('step_compile_s')} | {r.get('cache_hits')} | "
      f"{r.get('cache_misses')} | {_last_line(r.get('error'))[:300]}"
    )
  return results


def run_scaling(args):
  results = []
  for devices in (1, 8):
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
      env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    r = spawn(
      worker_command(args, args.model, args.image_size, args.batch_size, num_devices=devices),
      env=env,
      peer="abstract_cls",
      model=args.model,
      image_size=args.image_size,
      num_devices=devices,
    )
    results.append(r)
    print(json.dumps(r), flush=True)
  return results
