"""The textbook Flax Linen ResNet peer for benchmarks/train_step.py, on CPU and GPU: the
training step a user would write without the project's CPU convolution work.

torchvision's layout (7x7/2 stem, 3x3/2 max-pool, basic or bottleneck blocks, 1x1
projection shortcuts), batch norm with momentum 0.9 and the last norm of each block
zero-initialised; SGD momentum 0.9 with weight decay 5e-4 and cross entropy on random data,
under jax.jit with donated buffers. Run in its own process (the suites do):

  python benchmarks/peer_flax.py --model=resnet18 --image_size=64 --dtype=float32
  python benchmarks/peer_flax.py --model=resnet50 --image_size=224 --dtype=bfloat16

Prints one JSON line.
"""

import functools
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
import peer_cli

# name -> (blocks per stage, bottleneck blocks)
STAGES = {
  "resnet18": ((2, 2, 2, 2), False),
  "resnet34": ((3, 4, 6, 3), False),
  "resnet50": ((3, 4, 6, 3), True),
  "resnet101": ((3, 4, 23, 3), True),
}


class Block(nn.Module):
  filters: int
  strides: int = 1
  bottleneck: bool = False
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train):
    conv = functools.partial(nn.Conv, use_bias=False, dtype=self.dtype)
    norm = functools.partial(
      nn.BatchNorm, use_running_average=not train, momentum=0.9, dtype=self.dtype
    )
    residual = x
    if self.bottleneck:
      y = nn.relu(norm()(conv(self.filters, (1, 1))(x)))
      y = nn.relu(norm()(conv(self.filters, (3, 3), self.strides)(y)))
      y = norm(scale_init=nn.initializers.zeros)(conv(self.filters * 4, (1, 1))(y))
      out_channels = self.filters * 4
    else:
      y = nn.relu(norm()(conv(self.filters, (3, 3), self.strides)(x)))
      y = norm(scale_init=nn.initializers.zeros)(conv(self.filters, (3, 3))(y))
      out_channels = self.filters
    if residual.shape[-1] != out_channels or self.strides != 1:
      residual = norm()(conv(out_channels, (1, 1), self.strides)(residual))
    return nn.relu(residual + y)


class ResNet(nn.Module):
  stages: tuple[int, ...]
  bottleneck: bool
  num_classes: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train):
    x = nn.Conv(64, (7, 7), 2, use_bias=False, dtype=self.dtype)(x)
    x = nn.relu(nn.BatchNorm(use_running_average=not train, dtype=self.dtype)(x))
    x = nn.max_pool(x, (3, 3), (2, 2), "SAME")
    for stage, blocks in enumerate(self.stages):
      for block in range(blocks):
        strides = 2 if (stage > 0 and block == 0) else 1
        x = Block(64 * 2**stage, strides, self.bottleneck, self.dtype)(x, train)
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, dtype=jnp.float32)(x)


def step_throughput(model_name, image_size, batch_size, steps, warmup, *, dtype, num_classes):
  """Images/s of the textbook training step on random data, as a JSON-ready dict."""
  if model_name not in STAGES:
    return dict(error=f"textbook Flax peer has no {model_name}; known: {sorted(STAGES)}")
  stages, bottleneck = STAGES[model_name]
  model = ResNet(stages, bottleneck, num_classes, dtype)
  images = jax.random.normal(jax.random.key(0), (batch_size, image_size, image_size, 3))
  labels = jax.random.randint(jax.random.key(1), (batch_size,), 0, num_classes)
  variables = model.init(jax.random.key(2), images[:2], train=False)
  tx = optax.chain(optax.add_decayed_weights(5e-4), optax.sgd(0.1, momentum=0.9))
  state = (variables["params"], variables["batch_stats"], tx.init(variables["params"]))

  @functools.partial(jax.jit, donate_argnums=(0, 1, 2))
  def step(params, batch_stats, opt_state, images, labels):
    def loss_fn(p):
      logits, updates = model.apply(
        {"params": p, "batch_stats": batch_stats}, images, train=True, mutable=["batch_stats"]
      )
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
      return loss.mean(), updates

    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    deltas, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, deltas), updates["batch_stats"], opt_state, loss)

  start = time.perf_counter()
  for _ in range(warmup):
    *state, loss = step(*state, images, labels)
  loss.block_until_ready()
  warm_s = time.perf_counter() - start
  cpu_before, start = peer_cli.cpu_seconds(), time.perf_counter()
  for _ in range(steps):
    *state, loss = step(*state, images, labels)
  loss.block_until_ready()
  step_s = (time.perf_counter() - start) / steps
  device = jax.devices()[0]
  memory = device.memory_stats() or {}
  return dict(
    device=str(device.device_kind),
    version=jax.__version__,
    img_per_s=round(batch_size / step_s, 1),
    step_ms=round(step_s * 1e3, 2),
    warm_s=round(warm_s, 1),
    cpu_s_per_step=round((peer_cli.cpu_seconds() - cpu_before) / steps, 3),
    peak_memory_gb=round(memory.get("peak_bytes_in_use", 0) / 2**30, 2),
  )


def main(argv=None):
  parser = peer_cli.parser(__doc__)
  parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
  parser.add_argument("--num_classes", type=int, default=20)
  args = parser.parse_args(argv)
  on_cpu = jax.devices()[0].platform == "cpu"
  measure = functools.partial(
    step_throughput, dtype=jnp.dtype(args.dtype), num_classes=args.num_classes
  )
  return peer_cli.report(
    args, "flax-linen-textbook-cpu" if on_cpu else "flax-linen-textbook", measure
  )


if __name__ == "__main__":
  sys.exit(main())
