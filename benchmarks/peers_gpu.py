"""GPU peers for benchmarks/train_step.py: the training step a user would
otherwise write, on random data already on the GPU, bfloat16.

  torch  torchvision ResNet, channels_last, autocast bf16, SGD momentum 0.9 +
         weight decay 5e-4, cross entropy; eager and (with --compiled)
         torch.compile.
  jax    A textbook Flax Linen ResNet under jax.jit, bf16 convolutions and
         batch norm, donated buffers.

The logic is copied from the peer script the team measured its H100 anchors
with (perf_anchors.md), so the repository does not read files outside it. Run
each peer in its own process (benchmarks/train_step.py --suite=gpu does):

  python benchmarks/peers_gpu.py jax --model=resnet50 --image_size=224
  python benchmarks/peers_gpu.py torch --model=resnet50 --image_size=224 [--compiled]

Prints one JSON line per measurement.
"""

import argparse
import functools
import json
import sys
import time

NUM_CLASSES = 20


def torch_step_throughput(model_name, image_size, batch_size, steps, warmup, compiled):
  """Images/s of a torchvision bf16-autocast training step on the GPU."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
    import torchvision  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    return dict(error=f"PyTorch peer not run: {e}")
  if not torch.cuda.is_available():
    return dict(error="PyTorch peer not run: torch.cuda.is_available() is False")
  torch.backends.cudnn.benchmark = True
  torch.backends.cuda.matmul.allow_tf32 = True
  torch.backends.cudnn.allow_tf32 = True
  model = getattr(torchvision.models, model_name)(num_classes=NUM_CLASSES)
  model = model.cuda().to(memory_format=torch.channels_last)
  optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
  images = torch.randn(batch_size, 3, image_size, image_size, device="cuda")
  images = images.to(memory_format=torch.channels_last)
  labels = torch.randint(0, NUM_CLASSES, (batch_size,), device="cuda")
  loss_fn = torch.nn.CrossEntropyLoss()
  forward = torch.compile(model) if compiled else model

  def step():
    with torch.autocast("cuda", dtype=torch.bfloat16):
      loss = loss_fn(forward(images), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()

  start = time.perf_counter()
  for _ in range(warmup):
    step()
  torch.cuda.synchronize()
  warm_s = time.perf_counter() - start
  start = time.perf_counter()
  for _ in range(steps):
    step()
  torch.cuda.synchronize()
  step_s = (time.perf_counter() - start) / steps
  return dict(
    peer="torch-compiled" if compiled else "torch-eager",
    device=torch.cuda.get_device_name(0),
    version=torch.__version__,
    img_per_s=round(batch_size / step_s, 1),
    step_ms=round(step_s * 1e3, 2),
    warm_s=round(warm_s, 1),
    peak_memory_gb=round(torch.cuda.max_memory_allocated() / 2**30, 2),
  )


def flax_textbook_step_throughput(model_name, image_size, batch_size, steps, warmup):
  """Images/s of a textbook Flax Linen ResNet bf16 training step."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top

  stages = {
    "resnet18": (2, 2, 2, 2),
    "resnet34": (3, 4, 6, 3),
    "resnet50": (3, 4, 6, 3),
    "resnet101": (3, 4, 23, 3),
  }
  if model_name not in stages:
    return dict(error=f"textbook Flax peer has no {model_name}; known: {sorted(stages)}")
  bottleneck = model_name in ("resnet50", "resnet101")

  class Block(nn.Module):
    filters: int
    strides: int = 1
    bottleneck: bool = False

    @nn.compact
    def __call__(self, x, train):
      conv = functools.partial(nn.Conv, use_bias=False, dtype=jnp.bfloat16)
      norm = functools.partial(
        nn.BatchNorm, use_running_average=not train, momentum=0.9, dtype=jnp.bfloat16
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
    stages: tuple
    bottleneck: bool

    @nn.compact
    def __call__(self, x, train):
      x = nn.Conv(64, (7, 7), 2, use_bias=False, dtype=jnp.bfloat16)(x)
      x = nn.relu(nn.BatchNorm(use_running_average=not train, dtype=jnp.bfloat16)(x))
      x = nn.max_pool(x, (3, 3), (2, 2), "SAME")
      for stage, blocks in enumerate(self.stages):
        for block in range(blocks):
          strides = 2 if (stage > 0 and block == 0) else 1
          x = Block(64 * 2**stage, strides, self.bottleneck)(x, train)
      x = jnp.mean(x, axis=(1, 2))
      return nn.Dense(NUM_CLASSES, dtype=jnp.float32)(x)

  model = ResNet(stages[model_name], bottleneck)
  images = jax.random.normal(jax.random.key(0), (batch_size, image_size, image_size, 3))
  labels = jax.random.randint(jax.random.key(1), (batch_size,), 0, NUM_CLASSES)
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
  start = time.perf_counter()
  for _ in range(steps):
    *state, loss = step(*state, images, labels)
  loss.block_until_ready()
  step_s = (time.perf_counter() - start) / steps
  device = jax.devices()[0]
  memory = device.memory_stats() or {}
  return dict(
    peer="flax-linen-textbook",
    device=str(device.device_kind),
    version=jax.__version__,
    img_per_s=round(batch_size / step_s, 1),
    step_ms=round(step_s * 1e3, 2),
    warm_s=round(warm_s, 1),
    peak_memory_gb=round(memory.get("peak_bytes_in_use", 0) / 2**30, 2),
  )


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("peer", choices=("torch", "jax"))
  parser.add_argument("--model", default="resnet50")
  parser.add_argument("--image_size", type=int, default=224)
  parser.add_argument("--batch_size", type=int, default=256)
  parser.add_argument("--steps", type=int, default=40)
  parser.add_argument("--warmup", type=int, default=5)
  parser.add_argument(
    "--compiled", action="store_true", help="torch only: wrap the model in torch.compile"
  )
  args = parser.parse_args(argv)
  try:
    if args.peer == "torch":
      result = torch_step_throughput(
        args.model, args.image_size, args.batch_size, args.steps, args.warmup, args.compiled
      )
    else:
      result = flax_textbook_step_throughput(
        args.model, args.image_size, args.batch_size, args.steps, args.warmup
      )
  except Exception as e:  # pylint: disable=broad-except
    # A failed peer must not cost the rest of a scarce GPU session.
    result = dict(error=repr(e)[:400])
  result.update(
    model=args.model, image_size=args.image_size, batch_size=args.batch_size, steps=args.steps
  )
  result.setdefault("peer", args.peer)
  print(json.dumps(result), flush=True)
  return 1 if "error" in result else 0


if __name__ == "__main__":
  sys.exit(main())
