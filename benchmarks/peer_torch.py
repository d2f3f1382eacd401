"""The PyTorch peer for benchmarks/train_step.py, on CPU and GPU: torchvision's model (or,
written here, the project's LeNet-5 and torchvision's ResNet-18/34 with a channel multiplier), SGD momentum 0.9 with weight decay 5e-4 and cross
entropy on random data. On CPU float32, the anchor the project must match there; on the GPU
channels_last with bf16 autocast, eager or (--compiled) torch.compile. The textbook Flax
peer is peer_flax.py.

Run each measurement in its own process (the suites of train_step.py do):
  python benchmarks/peer_torch.py --device=cpu --model=resnet18 --image_size=64 --batch_size=128
  python benchmarks/peer_torch.py --device=cuda --model=resnet50 --image_size=224 [--compiled]
Prints one JSON line. PyTorch lives in its own virtual environment (it is not a project
dependency): run this file with that environment's python, or point train_step.py at it
with --torch_python.
"""

import contextlib
import functools
import sys
import time

import peer_cli

NUM_CLASSES = 20
_INSTALL = (
  "Install torch and torchvision into a separate environment (python -m venv "
  "/work/torch-venv && /work/torch-venv/bin/pip install torch torchvision) and pass "
  "--torch_python=/work/torch-venv/bin/python."
)


def _lenet5(nn):
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


def _basic_resnet(nn, depth, width):
  """torchvision's resnet18/34 (BasicBlock, "v1" stem, 1x1 projection shortcuts) with every
  channel count scaled by `width`, as the project's `width` option scales them."""
  ch = lambda c: max(1, round(c * width))

  class Block(nn.Module):
    def __init__(self, cin, cout, stride):
      super().__init__()
      self.body = nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
        nn.BatchNorm2d(cout),
      )
      self.shortcut = nn.Identity()
      if stride != 1 or cin != cout:
        self.shortcut = nn.Sequential(
          nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
        )
      self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
      return self.relu(self.body(x) + self.shortcut(x))

  layers = [
    nn.Conv2d(3, ch(64), 7, 2, 3, bias=False),
    nn.BatchNorm2d(ch(64)),
    nn.ReLU(inplace=True),
    nn.MaxPool2d(3, 2, 1),
  ]
  cin = ch(64)
  for stage, blocks in enumerate(BASIC_STAGES[depth]):
    cout = ch(64 * 2**stage)
    for i in range(blocks):
      layers.append(Block(cin, cout, 2 if stage > 0 and i == 0 else 1))
      cin = cout
  layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, NUM_CLASSES)]
  return nn.Sequential(*layers)


BASIC_STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def step_throughput(
  model_name, image_size, batch_size, steps, warmup, *, device, compiled, width=1.0
):
  """Images/s of the training step on random data, as a JSON-ready dict."""
  written_here = model_name == "lenet5" or (width != 1.0 and model_name in ("resnet18", "resnet34"))
  if width != 1.0 and not written_here:
    return dict(error=f"PyTorch peer: --width applies to resnet18/34 only, not {model_name}")
  try:
    import torch  # pylint: disable=g-import-not-at-top

    if not written_here:
      import torchvision  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    return dict(error=f"PyTorch peer not run: {e}. {_INSTALL}")
  on_gpu = device == "cuda"
  if on_gpu and not torch.cuda.is_available():
    return dict(error="PyTorch peer not run: torch.cuda.is_available() is False")
  torch.manual_seed(0)
  if on_gpu:
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
  if model_name == "lenet5":
    model = _lenet5(torch.nn)
  elif written_here:
    model = _basic_resnet(torch.nn, int(model_name.removeprefix("resnet")), width)
  else:
    model = getattr(torchvision.models, model_name)(num_classes=NUM_CLASSES)
  layout = torch.channels_last if on_gpu else torch.contiguous_format
  model = model.to(device, memory_format=layout)
  optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
  images = torch.randn(batch_size, 3, image_size, image_size, device=device)
  images = images.to(memory_format=layout)
  labels = torch.randint(0, NUM_CLASSES, (batch_size,), device=device)
  loss_fn = torch.nn.CrossEntropyLoss()
  forward = torch.compile(model) if compiled else model
  autocast = torch.autocast("cuda", dtype=torch.bfloat16) if on_gpu else contextlib.nullcontext()
  synchronize = torch.cuda.synchronize if on_gpu else (lambda: None)

  def step():
    with autocast:
      loss = loss_fn(forward(images), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()

  start = time.perf_counter()
  for _ in range(warmup):
    step()
  synchronize()
  warm_s = time.perf_counter() - start
  cpu_before, start = peer_cli.cpu_seconds(), time.perf_counter()
  for _ in range(steps):
    step()
  synchronize()
  step_s = (time.perf_counter() - start) / steps
  result = dict(
    version=torch.__version__,
    img_per_s=round(batch_size / step_s, 1),
    step_ms=round(step_s * 1e3, 2),
    warm_s=round(warm_s, 1),
    cpu_s_per_step=round((peer_cli.cpu_seconds() - cpu_before) / steps, 3),
  )
  if on_gpu:
    result.update(
      device=torch.cuda.get_device_name(0),
      peak_memory_gb=round(torch.cuda.max_memory_allocated() / 2**30, 2),
    )
  else:
    result.update(threads=torch.get_num_threads())
  return result


def main(argv=None):
  parser = peer_cli.parser(__doc__)
  parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
  parser.add_argument("--compiled", action="store_true", help="wrap the model in torch.compile")
  parser.add_argument("--width", type=float, default=1.0, help="resnet18/34 channel multiplier")
  args = parser.parse_args(argv)
  if args.device == "cpu":
    peer = "torch-cpu"
  else:
    peer = "torch-compiled" if args.compiled else "torch-eager"
  measure = functools.partial(
    step_throughput, device=args.device, compiled=args.compiled, width=args.width
  )
  return peer_cli.report(args, peer, measure)


if __name__ == "__main__":
  sys.exit(main())
