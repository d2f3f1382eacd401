"""CPU peers for benchmarks/train_step.py: the same training step elsewhere.

Two peers, each meant to run in its own process (benchmarks/train_step.py
starts them with subprocess and alternates them with the project's step):

  torch  PyTorch CPU, torchvision ResNet, float32, SGD momentum 0.9 with weight
         decay 5e-4, cross entropy, random data (the anchor the project must
         match on CPU).
  jax    A textbook Flax Linen ResNet-18 under jax.jit (what a user writes
         without the project's CPU convolution work).

The logic follows the peer script the team measured its anchors with; it is
copied here so that the repository does not depend on files outside it.

Usage:
  python benchmarks/peers_cpu.py torch --model=resnet18 --image_size=64 \
      --batch_size=128 --steps=8
Prints one JSON line. PyTorch lives in its own virtual environment (it is not a
project dependency): run this file with that environment's python, or point
benchmarks/train_step.py at it with --torch_python.
"""

import argparse
import functools
import json
import os
import sys
import time

NUM_CLASSES = 20


def _cpu_seconds():
  """Process CPU seconds, all threads (less sensitive to a shared machine's load)."""
  times = os.times()
  return times.user + times.system


def _torch_lenet5(nn):
  """The project's lenet5 (3 input channels, ReLU, max-pool, no dropout) in PyTorch."""
  return nn.Sequential(
    nn.Conv2d(3, 6, 5),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120),
    nn.ReLU(),
    nn.Linear(120, 84),
    nn.ReLU(),
    nn.Linear(84, NUM_CLASSES),
  )


def torch_step_throughput(model_name, image_size, batch_size, steps, warmup):
  """Images/s of a torchvision training step on random data, float32."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
    import torchvision  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    return dict(
      error=(
        f"PyTorch peer not run: {e}. Install torch and torchvision "
        "into a separate environment (python -m venv /work/torch-venv "
        "&& /work/torch-venv/bin/pip install torch torchvision) and "
        "pass --torch_python=/work/torch-venv/bin/python."
      )
    )
  torch.manual_seed(0)
  if model_name == "lenet5":
    model = _torch_lenet5(torch.nn)
  else:
    model = getattr(torchvision.models, model_name)(num_classes=NUM_CLASSES)
  optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
  images = torch.randn(batch_size, 3, image_size, image_size)
  labels = torch.randint(0, NUM_CLASSES, (batch_size,))
  loss_fn = torch.nn.CrossEntropyLoss()

  def step():
    loss = loss_fn(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

  for _ in range(warmup):
    step()
  cpu_before = _cpu_seconds()
  start = time.perf_counter()
  for _ in range(steps):
    step()
  step_s = (time.perf_counter() - start) / steps
  return dict(
    peer="torch-cpu",
    version=torch.__version__,
    threads=torch.get_num_threads(),
    img_per_s=round(batch_size / step_s, 1),
    step_ms=round(step_s * 1e3, 1),
    cpu_s_per_step=round((_cpu_seconds() - cpu_before) / steps, 3),
  )


def flax_textbook_step_throughput(model_name, image_size, batch_size, steps, warmup):
  """Images/s of a textbook Flax Linen ResNet-18 training step, float32."""
  if model_name != "resnet18":
    return dict(error="the textbook Flax CPU peer is written for resnet18 only")
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top

  class Block(nn.Module):
    filters: int
    strides: int = 1

    @nn.compact
    def __call__(self, x, train):
      conv = functools.partial(nn.Conv, use_bias=False)
      norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9)
      residual = x
      y = nn.relu(norm()(conv(self.filters, (3, 3), self.strides)(x)))
      y = norm()(conv(self.filters, (3, 3))(y))
      if residual.shape[-1] != self.filters or self.strides != 1:
        residual = norm()(conv(self.filters, (1, 1), self.strides)(residual))
      return nn.relu(residual + y)

  class ResNet18(nn.Module):
    @nn.compact
    def __call__(self, x, train):
      x = nn.Conv(64, (7, 7), 2, use_bias=False)(x)
      x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
      x = nn.max_pool(x, (3, 3), (2, 2), "SAME")
      for stage, blocks in enumerate((2, 2, 2, 2)):
        for block in range(blocks):
          strides = 2 if (stage > 0 and block == 0) else 1
          x = Block(64 * 2**stage, strides)(x, train)
      return nn.Dense(NUM_CLASSES)(jnp.mean(x, axis=(1, 2)))

  model = ResNet18()
  images = jax.random.normal(jax.random.key(0), (batch_size, image_size, image_size, 3))
  labels = jax.random.randint(jax.random.key(1), (batch_size,), 0, NUM_CLASSES)
  variables = model.init(jax.random.key(2), images[:2], train=False)
  params, batch_stats = variables["params"], variables["batch_stats"]
  tx = optax.chain(optax.add_decayed_weights(5e-4), optax.sgd(0.1, momentum=0.9))
  opt_state = tx.init(params)

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

  state = (params, batch_stats, opt_state)
  for _ in range(warmup):
    *state, loss = step(*state, images, labels)
  loss.block_until_ready()
  start = time.perf_counter()
  for _ in range(steps):
    *state, loss = step(*state, images, labels)
  loss.block_until_ready()
  step_s = (time.perf_counter() - start) / steps
  return dict(
    peer="flax-linen-textbook-cpu",
    version=jax.__version__,
    img_per_s=round(batch_size / step_s, 1),
    step_ms=round(step_s * 1e3, 1),
  )


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("peer", choices=("torch", "jax"))
  parser.add_argument("--model", default="resnet18")
  parser.add_argument("--image_size", type=int, default=64)
  parser.add_argument("--batch_size", type=int, default=128)
  parser.add_argument("--steps", type=int, default=8)
  parser.add_argument("--warmup", type=int, default=2)
  args = parser.parse_args(argv)
  bench = torch_step_throughput if args.peer == "torch" else flax_textbook_step_throughput
  result = bench(args.model, args.image_size, args.batch_size, args.steps, args.warmup)
  result.update(
    model=args.model,
    image_size=args.image_size,
    batch_size=args.batch_size,
    steps=args.steps,
    nproc=os.cpu_count(),
  )
  result.setdefault("peer", f"{args.peer}-cpu")
  print(json.dumps(result), flush=True)
  return 1 if "error" in result else 0


if __name__ == "__main__":
  sys.exit(main())
