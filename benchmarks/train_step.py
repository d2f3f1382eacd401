"""Times the project's FULL training step and runs the peers in the same invocation.

The step is the trainer's own (abstract_cls.train.step.make_train_step): the input
pipeline picks and augments the batch on the device from the step number (in-memory
mode), the model runs forward and backward, the configured loss and optax optimiser
(configs/default.py: SGD Nesterov momentum, masked weight decay, cosine schedule)
update the state, and metrics are accumulated on the device. Nothing is fetched to the
host inside the timed window; the state and accumulators are donated.

Suites (each measurement runs in its own process; the suite alternates them):
  --suite=one      one measurement of the project step (the worker), JSON on stdout.
  --suite=cpu      ResNet-18 @64 batch 128 float32 vs PyTorch CPU (peer_torch.py; with
                   --with_flax_peer also the textbook Flax step, peer_flax.py), alternated
                   --repeats times.
  --suite=cpu_models  LeNet-5 @32, AlexNet @224, ResNet-18 @64 and ResNet-50 @64 vs
                   the same models in PyTorch CPU (the course's model line).
  --suite=gpu      ResNet-18 @128 and ResNet-50 @224, batch 256, bfloat16, vs the
                   textbook Flax, PyTorch eager and torch.compile peers.
  --suite=startup  command -> first finished training step with an empty persistent
                   compilation cache, then again with the cache the first run filled.
  --suite=scaling  the same step on 1 and on 8 fake CPU devices
                   (XLA_FLAGS=--xla_force_host_platform_device_count=8).
Examples:
  python benchmarks/train_step.py --suite=cpu --torch_python=/work/torch-venv/bin/python
  python benchmarks/train_step.py --suite=gpu --out=$OUT/train_step_gpu.json
Full results and machine notes: benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Dense bf16 matrix rate of these GPUs as measured with a large bf16 matmul through PyTorch
# (perf_anchors.md, outside this repository): MFU is XLA's FLOPs over this. No peak is
# assumed for a CPU: there the script prints FLOP/s only.
PEAK_FLOPS = {"H100": 790e12, "H200": 790e12}

GPU_CASES = (("resnet18", 128, 256), ("resnet50", 224, 256))
CPU_CASES = (("resnet18", 64, 128),)
# The course's model line, each at a size where the project's model and the
# torchvision one are the same network (AlexNet's 6x6 feature map needs 224 px).
CPU_MODEL_CASES = (
  ("lenet5", 32, 128),
  ("alexnet", 224, 64),
  ("resnet18", 64, 128),
  ("resnet50", 64, 64),
)


def _model_options(model, image_size, dtype, conv_impl, width=1.0, stem="imagenet"):
  options = {"dtype": dtype, "conv_impl": conv_impl, "input_size": image_size}
  if model == "lenet5":  # no stem option; the images are RGB
    return dict(options, in_channels=3)
  if width != 1.0:
    options["width"] = width
  from abstract_cls.models import registry  # pylint: disable=g-import-not-at-top

  # The CIFAR ResNets have only their small stem; asked for another, they keep it.
  return dict(options, stem=stem) if stem in registry.stems(model) else options


def _peak_for(device_kind):
  for name, peak in PEAK_FLOPS.items():
    if name in device_kind:
      return peak
  return None


def _benchmark_config(config, args, dtype):
  """configs/default.py with the benchmark's model, data, size and batch."""
  config.model.name = args.model
  config.model.options = _model_options(
    args.model, args.image_size, dtype, args.conv_impl, args.width, args.stem
  )
  config.data.name = args.data
  config.data.image_size = args.image_size
  config.data.mode = "in_memory"
  if args.data_dir:
    config.data.data_dir = args.data_dir
  config.train.batch_size = args.batch_size
  return config


def _trainer_step(config, mesh, train_input):
  """The same calls, in the same order, as abstract_cls.train.loop.train_and_evaluate:
  -> (schedule, state, accumulators, the jitted train step)."""
  import jax  # pylint: disable=g-import-not-at-top

  from abstract_cls.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import optimizer as optimizer_lib  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import state as state_lib  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import step as step_lib  # pylint: disable=g-import-not-at-top

  total_steps = max(train_input.steps_per_epoch * 10, 1000)
  schedule = mesh_lib.replicate(
    optimizer_lib.schedule_values(config.optimizer, train_input.steps_per_epoch, total_steps), mesh
  )
  optimizer = optimizer_lib.make_optimizer(config.optimizer)
  graphs, state = state_lib.create_train_state(config, mesh, optimizer)
  acc = jax.jit(step_lib.init_accumulators, out_shardings=mesh_lib.replicated(mesh))()
  train_step = step_lib.make_train_step(
    graphs, train_input, optimizer, config, train_input.class_weights, mesh
  )
  return schedule, state, acc, train_step


def measure_project_step(args, launched_at):
  """Builds the trainer's step exactly as the training loop does and times it."""
  phases = {"python_start_to_main_s": round(time.time() - launched_at, 2)}
  tick = time.time()
  import jax  # pylint: disable=g-import-not-at-top
  import step_timing  # pylint: disable=g-import-not-at-top  (a sibling: see main)

  from abstract_cls.data import pipeline  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  from configs import default as default_config  # pylint: disable=g-import-not-at-top

  phases["imports_s"] = round(time.time() - tick, 2)

  # As train_and_evaluate does: '' means the trainer's default cache folder.
  mesh_lib.enable_compilation_cache(args.cache_dir)
  cache_events = step_timing.count_cache_events()
  device = jax.devices()[0]
  on_gpu = device.platform == "gpu"
  dtype = args.dtype or ("bfloat16" if on_gpu else "float32")

  config = _benchmark_config(default_config.get_config(), args, dtype)

  tick = time.time()
  mesh = mesh_lib.make_mesh(args.num_devices)
  train_input = pipeline.make_train_input(config.data, "train", mesh, config.seed, args.batch_size)
  jax.block_until_ready(train_input.device_data)
  phases["data_to_device_s"] = round(time.time() - tick, 2)

  schedule, state, acc, compiled = _compiled_trainer_step(config, mesh, train_input, phases)
  flops_per_step, hlo_all_reduces = step_timing.compiled_step_figures(compiled)

  def run(steps, first_step):
    nonlocal state, acc
    for step in range(first_step, first_step + steps):
      train_input.prepare_epoch(step)  # as the training loop does
      state, acc, _ = compiled(
        state, acc, train_input.device_data, train_input.host_batch(step), schedule
      )
    jax.block_until_ready(acc)

  first_step_done_at, cpu_s_to_first_step, windows, cpu_s_per_step = step_timing.time_steps(
    run, args.warmup, args.steps, args.windows, phases
  )
  loss = float(jax.device_get(acc["loss_sum"] / acc["steps"]))
  input_ms = step_timing.time_input_alone(train_input, args.steps) if args.time_input else None
  # Profiled steps follow the timed ones.
  profile = _profile(run, 1 + args.warmup + args.steps * args.windows, args.profile_steps)
  memory = device.memory_stats() or {}
  peak = args.peak_flops or _peak_for(device.device_kind)
  return dict(
    peer="abstract_cls",
    model=args.model,
    image_size=args.image_size,
    batch_size=args.batch_size,
    dtype=dtype,
    data=args.data,
    conv_impl=args.conv_impl,
    device=str(device.device_kind),
    num_devices=int(mesh.devices.size),
    jax=jax.__version__,
    **step_timing.rates(args.batch_size, windows, flops_per_step * mesh.devices.size, peak),
    peak_memory_gb=round(memory.get("peak_bytes_in_use", 0) / 2**30, 2) if memory else None,
    host_max_rss_gb=round(step_timing.max_rss_bytes() / 2**30, 2),
    input_ms=input_ms,
    profile=profile,
    hlo_all_reduces=hlo_all_reduces,
    mean_loss=round(loss, 4),
    num_examples=train_input.num_examples,
    cpu_s_per_step=round(cpu_s_per_step, 3),
    cpu_s_to_first_step=round(cpu_s_to_first_step, 2),
    first_step_done_at=first_step_done_at,
    phases=phases,
    **cache_events,
  )


def _compiled_trainer_step(config, mesh, train_input, phases):
  """_trainer_step, its state on the device and the step compiled for it; adds both parts'
  seconds to phases. -> (schedule, state, accumulators, the compiled step)."""
  import jax  # pylint: disable=g-import-not-at-top

  tick = time.time()
  schedule, state, acc, train_step = _trainer_step(config, mesh, train_input)
  jax.block_until_ready((state, acc))
  phases["model_and_state_s"] = round(time.time() - tick, 2)

  tick = time.time()
  compiled = train_step.lower(
    state, acc, train_input.device_data, train_input.host_batch(0), schedule, with_layer_norms=False
  ).compile()
  phases["step_compile_s"] = round(time.time() - tick, 2)
  return schedule, state, acc, compiled


def _profile(run, first_step, steps):
  """The top XLA ops of `steps` more traced steps from first_step; None when steps is 0."""
  if not steps:
    return None
  import step_profile  # pylint: disable=g-import-not-at-top  (a sibling: see main)

  return step_profile.top_ops(lambda n: run(n, first_step), steps)


def _parser():
  """The flags of every suite (the worker's and the comparisons')."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument(
    "--suite", default="one", choices=("one", "cpu", "cpu_models", "gpu", "startup", "scaling")
  )
  parser.add_argument("--model", default="resnet18")
  parser.add_argument("--image_size", type=int, default=64)
  parser.add_argument("--batch_size", type=int, default=128)
  parser.add_argument(
    "--stem", default="imagenet", help="'small' (3x3, no early downsampling) where the model has it"
  )
  parser.add_argument(
    "--width", type=float, default=1.0, help="ResNet channel multiplier (configs/resnet.py: 0.5)"
  )
  parser.add_argument("--steps", type=int, default=5, help="timed steps per window")
  parser.add_argument("--windows", type=int, default=1, help="timed windows (median)")
  parser.add_argument("--warmup", type=int, default=1, help="untimed steps after the first")
  parser.add_argument("--repeats", type=int, default=3, help="alternations with the peers")
  parser.add_argument(
    "--data", default="abstract_icons", help="TFDS name or 'synthetic' for a smoke run"
  )
  parser.add_argument("--data_dir", default="")
  parser.add_argument("--dtype", default="", help="'' = bfloat16 on GPU, float32 on CPU")
  parser.add_argument("--conv_impl", default="auto")
  parser.add_argument("--num_devices", type=int, default=0, help="0 = all devices")
  parser.add_argument(
    "--cache_dir", default="", help="persistent compilation cache; '' = the trainer's default"
  )
  parser.add_argument(
    "--profile_steps",
    type=int,
    default=0,
    help="one: also trace N more steps and list the top XLA ops by "
    "thread time (benchmarks/step_profile.py)",
  )
  parser.add_argument(
    "--time_input", type=int, default=1, help="also time the input path alone (1) or not (0)"
  )
  parser.add_argument(
    "--peak_flops", type=float, default=0.0, help="override the device peak used for MFU (FLOP/s)"
  )
  parser.add_argument(
    "--torch_python",
    default=os.environ.get("TORCH_PYTHON", sys.executable),
    help="python with torch + torchvision, for the PyTorch peers",
  )
  parser.add_argument(
    "--with_flax_peer",
    action="store_true",
    help="cpu suite: also run the textbook Flax peer (slow)",
  )
  parser.add_argument("--gpu_peer_steps", type=int, default=40)
  parser.add_argument("--out", default="", help="write every result as JSON here")
  parser.add_argument(
    "--only",
    default="",
    help="comparison suites: comma-separated model names to keep "
    "(e.g. --suite=cpu_models --only=lenet5 --steps=40)",
  )
  return parser


def main(argv=None):
  args = _parser().parse_args(argv)

  if args.suite == "one":
    print(json.dumps(measure_project_step(args, launched_at=_LAUNCHED_AT)), flush=True)
    return 0
  # Here, not at the top: tests load this file by path, without benchmarks/ on sys.path.
  import peer_suites  # pylint: disable=g-import-not-at-top

  if args.suite == "startup":
    results = peer_suites.run_startup(args)
  elif args.suite == "scaling":
    results = peer_suites.run_scaling(args)
  elif args.suite in ("cpu", "cpu_models"):
    cases = CPU_CASES if args.suite == "cpu" else CPU_MODEL_CASES
    results = peer_suites.run_comparison(
      args, _keep(cases, args.only), peer_suites.cpu_peer_commands(args)
    )
  else:
    results = peer_suites.run_comparison(
      args, _keep(GPU_CASES, args.only), peer_suites.gpu_peer_commands(args)
    )
  peer_suites.report(results, args.out)
  return 0 if all("error" not in r for r in results) else 1


def _keep(cases, only):
  if not only:
    return cases
  names = only.split(",")
  kept = tuple(case for case in cases if case[0] in names)
  if not kept:
    raise SystemExit(
      f"--only={only}: no such model in this suite ({', '.join(case[0] for case in cases)})"
    )
  return kept


_LAUNCHED_AT = time.time()
if __name__ == "__main__":
  sys.path.insert(0, REPO)
  sys.exit(main())
