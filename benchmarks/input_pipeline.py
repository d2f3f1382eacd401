"""Input pipeline throughput on this machine, against ResNet-18's training step.

Prints (and writes as JSON with --out):
  prepare_s         builders.prepare('abstract_icons') (~0 when already prepared in data_dir)
  load_cold_s       abstract_icons into memory at --size per split: TFDS parse + decode
                    (+ writing the decoded-array cache)
  load_warm_s       the same from the decoded-array cache (data.cache_decoded)
  stream_img_s      streaming mode: decoded + resized images/s from grain workers
                    (--workers processes; the first batch, i.e. worker start-up, excluded)
  augment_batch_s   in-memory mode: batches/s of the on-device batch function alone
                    (index draw, gather, crop/flip/affine warp, colour jitter, normalise),
                    jitted, block_until_ready, warm-up excluded
  resnet18_step_s   batches/s of a plain ResNet-18 training step (forward, backward, SGD
                    momentum) at the same batch and size, warm-up excluded; skipped with
                    --resnet_steps=0
Usage (2-core CPU dev machine):
  python benchmarks/input_pipeline.py --out=/tmp/input_pipeline.json
"""

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# ruff: noqa: E402 (the imports below need the repository on sys.path)
import jax
import numpy as np
from jax.sharding import Mesh

from abstract_cls.data import builders, pipeline
from abstract_cls.data import config as config_lib


def _timed(fn, repeats):
  start = time.perf_counter()
  for _ in range(repeats):
    out = fn()
  jax.block_until_ready(out)
  return (time.perf_counter() - start) / repeats


def bench_load(data_config, splits):
  """Cold: parse + decode every split (cache emptied first); warm: read the .npy cache back."""
  start = time.perf_counter()
  builder = builders.prepare(data_config.name, data_config.data_dir)
  out = dict(prepare_s=time.perf_counter() - start, load_cold_s={}, load_warm_s={}, examples={})
  cache_root = pathlib.Path(builder.data_dir).parent.parent / "_abstract_cls_array_cache"
  if cache_root.exists():
    shutil.rmtree(cache_root)  # Only the benchmark's own data_dir (default under /tmp).
  for kind in ("load_cold_s", "load_warm_s"):
    for split in splits:
      start = time.perf_counter()
      arrays = pipeline.load_arrays(data_config, split)
      out[kind][split] = time.perf_counter() - start
      out["examples"][split] = len(arrays)
    out[kind.replace("_s", "_total_s")] = sum(out[kind].values())
  return out


def bench_stream(data_config, mesh, batch, num_batches):
  data_config.mode = "streaming"
  train_input = pipeline.make_train_input(data_config, "train", mesh, 0, batch)
  train_input.host_batch(0)  # Worker start-up and first batch: excluded.
  start = time.perf_counter()
  for step in range(1, num_batches + 1):
    train_input.host_batch(step)
  seconds = time.perf_counter() - start
  train_input.close()
  return num_batches * batch / seconds


def bench_augment(data_config, mesh, batch, repeats):
  data_config.mode = "in_memory"
  train_input = pipeline.make_train_input(data_config, "train", mesh, 0, batch)
  fn = jax.jit(pipeline.build_batch, static_argnums=0)
  key = jax.random.key(0)
  step = [0]

  def run():
    step[0] += 1
    return fn(train_input.spec, train_input.device_data, {}, step[0], key)

  start = time.perf_counter()
  jax.block_until_ready(run())
  compile_s = time.perf_counter() - start
  return 1.0 / _timed(run, repeats), compile_s


def bench_resnet18(size, batch, repeats):
  import optax
  from flax import nnx

  from abstract_cls.models import get_model

  model = get_model("resnet18", num_classes=20, rngs=nnx.Rngs(0))
  model.train()
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  params, rest = nnx.to_pure_dict(params), nnx.to_pure_dict(rest)
  optimizer = optax.sgd(0.1, momentum=0.9)
  opt_state = optimizer.init(params)

  @jax.jit
  def train_step(params, rest, opt_state, x, y):
    def loss_fn(p, r):
      m = nnx.merge(graphdef, p, r)
      logits = m(x)
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
      return loss, nnx.to_pure_dict(nnx.split(m, nnx.Param, ...)[2])

    (loss, new_rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, rest)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), new_rest, opt_state, loss

  x = jax.random.normal(jax.random.key(0), (batch, size, size, 3))
  y = jax.random.randint(jax.random.key(1), (batch,), 0, 20)
  state = [params, rest, opt_state]

  def run():
    state[0], state[1], state[2], loss = train_step(*state, x, y)
    return loss

  start = time.perf_counter()
  jax.block_until_ready(run())
  compile_s = time.perf_counter() - start
  return 1.0 / _timed(run, repeats), compile_s


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    "--data_dir", default=os.path.join(tempfile.gettempdir(), "abstract_cls_bench_tfds")
  )
  parser.add_argument("--size", type=int, default=128)
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--stream_batches", type=int, default=8)
  parser.add_argument("--augment_repeats", type=int, default=10)
  parser.add_argument("--resnet_steps", type=int, default=2)
  parser.add_argument("--out", default="")
  args = parser.parse_args()

  c = config_lib.data_config()
  c.data_dir = args.data_dir
  c.image_size = args.size
  c.num_workers = args.workers
  mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
  result = dict(
    machine=f"{os.cpu_count()} CPU cores, {jax.devices()[0].device_kind}",
    size=args.size,
    batch=args.batch,
    workers=args.workers,
  )
  result.update(bench_load(c, ("train", "validation", "test", "test_unseen_style")))
  for kind in ("load_cold_s", "load_warm_s"):
    print(
      f"{kind}: "
      + ", ".join(
        f"{k} {v:.2f} s ({result['examples'][k]} images)" for k, v in result[kind].items()
      )
      + f"; all splits {result[kind.replace('_s', '_total_s')]:.2f} s",
      flush=True,
    )
  result["stream_img_s"] = bench_stream(c, mesh, args.batch, args.stream_batches)
  print(
    f"streaming: {result['stream_img_s']:.0f} decoded images/s at {args.size} px "
    f"({args.workers} workers)",
    flush=True,
  )
  result["augment_batch_s"], result["augment_compile_s"] = bench_augment(
    c, mesh, args.batch, args.augment_repeats
  )
  print(
    f"in-memory on-device batch+augment: {result['augment_batch_s']:.2f} batches/s "
    f"({result['augment_batch_s'] * args.batch:.0f} img/s) at batch {args.batch}, "
    f"{args.size} px (compile {result['augment_compile_s']:.1f} s)",
    flush=True,
  )
  if args.resnet_steps > 0:
    result["resnet18_step_s"], result["resnet18_compile_s"] = bench_resnet18(
      args.size, args.batch, args.resnet_steps
    )
    ratio = result["augment_batch_s"] / result["resnet18_step_s"]
    result["augment_over_resnet18"] = ratio
    print(
      f"ResNet-18 train step: {result['resnet18_step_s']:.3f} steps/s at batch {args.batch}, "
      f"{args.size} px; augmentation is {ratio:.1f}x faster",
      flush=True,
    )
  if args.out:
    with open(args.out, "w") as f:
      json.dump(result, f, indent=1)


if __name__ == "__main__":
  main()
