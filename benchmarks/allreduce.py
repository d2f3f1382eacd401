"""Paper estimate: data-parallel communication of one training step on 8 GPUs.

Counts the project's own model (parameters and batch-norm layers, via jax.eval_shape,
nothing is computed) and prints, for a ring all-reduce over n GPUs:

  gradient bytes S = params x bytes per element (4 for float32, 2 for bfloat16)
  per-GPU traffic  = 2 (n - 1) / n x S in each direction
  time             = traffic / link bandwidth (NVLink on H100: ~450 GB/s per direction)
  efficiency       = step / (step + time) when nothing overlaps, the worst case

plus the synchronised batch-norm statistics: with the batch sharded over the mesh, every
batch-norm layer's mean and variance become a small all-reduce in the forward pass (and
one more in the backward pass), so their cost is latency, not bandwidth.

  python benchmarks/allreduce.py [--model=resnet50] [--gpus=8] [--link_gb_s=450]
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def model_counts(name, num_classes):
  """-> (trainable parameters, batch-norm layers, batch-norm channels summed)."""
  from flax import nnx  # pylint: disable=g-import-not-at-top

  from abstract_cls.models import get_model  # pylint: disable=g-import-not-at-top

  abstract = nnx.eval_shape(lambda: get_model(name, num_classes=num_classes, rngs=nnx.Rngs(0)))
  params = sum(int(p.size) for p in __import__("jax").tree.leaves(nnx.state(abstract, nnx.Param)))
  norms = [m for _, m in nnx.iter_modules(abstract) if isinstance(m, nnx.BatchNorm)]
  return params, len(norms), sum(int(m.num_features) for m in norms)


def ring_allreduce_seconds(num_bytes, gpus, link_bytes_per_s):
  return 2 * (gpus - 1) / gpus * num_bytes / link_bytes_per_s


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model", default="resnet50")
  parser.add_argument("--gpus", type=int, default=8)
  parser.add_argument(
    "--link_gb_s",
    type=float,
    default=450.0,
    help="NVLink bandwidth per direction per GPU (H100 SXM: 450)",
  )
  parser.add_argument(
    "--small_allreduce_us",
    type=float,
    default=20.0,
    help="ASSUMED latency of one small (KB-sized) all-reduce on 8 NVLink GPUs; not measured here",
  )
  parser.add_argument(
    "--step_ms",
    type=float,
    nargs="+",
    default=[45.05, 36.57],
    help="step times to compare with: the textbook Flax peer on one "
    "H100 (45.05 ms, perf_anchors.md) and the GPU target "
    "(7,000 img/s at batch 256 = 36.57 ms)",
  )
  args = parser.parse_args(argv)
  n, link = args.gpus, args.link_gb_s * 1e9

  print(
    f"model {args.model}; ring all-reduce over {n} GPUs at {args.link_gb_s:g} GB/s "
    "per direction per GPU"
  )
  for classes in (20, 1000):
    params, bn_layers, bn_channels = model_counts(args.model, classes)
    print(
      f"\n{classes} classes: {params:,} parameters ({params / 1e6:.2f} M); "
      f"{bn_layers} batch-norm layers, {bn_channels:,} channels"
    )
    print(
      "gradients | bytes/step | per-GPU traffic | time ms | "
      + " | ".join(f"efficiency @ {s:g} ms" for s in args.step_ms)
    )
    for label, width in (("float32", 4), ("bfloat16", 2)):
      size = params * width
      traffic = 2 * (n - 1) / n * size
      seconds = ring_allreduce_seconds(size, n, link)
      effs = " | ".join(f"{s / (s + seconds * 1e3):.1%}" for s in args.step_ms)
      print(
        f"{label} | {size / 1e6:.1f} MB | {traffic / 1e6:.1f} MB | {seconds * 1e3:.3f} | {effs}"
      )
  # Batch-norm statistics: per layer one all-reduce of (mean, mean of squares) in the
  # forward pass and one of the two gradient sums in the backward pass, 2 x C float32
  # each. Layers depend on each other, so these cannot be merged: latency-bound.
  count = 2 * bn_layers
  volume = 2 * 2 * bn_channels * 4  # 2 reductions x 2 vectors x C channels x float32
  latency_s = count * args.small_allreduce_us * 1e-6
  effs = " | ".join(f"{s / (s + latency_s * 1e3):.1%} @ {s:g} ms" for s in args.step_ms)
  print(
    f"\nsync batch norm: ~{count} small all-reduces per step "
    f"({volume / 1e6:.2f} MB in all); at an assumed {args.small_allreduce_us:g} us "
    f"each, ~{latency_s * 1e3:.2f} ms per step if none overlap; efficiency {effs}"
  )
  return 0


if __name__ == "__main__":
  sys.path.insert(0, REPO)
  sys.exit(main())
