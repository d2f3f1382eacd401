"""What the two peers (peer_torch.py, peer_flax.py) share: their flags, the CPU clock and
the one JSON line each prints. Imports nothing beyond the standard library, so it runs in
the PyTorch environment as well as the project's."""

import argparse
import json
import os


def parser(description: str) -> argparse.ArgumentParser:
  """The flags every peer takes (the suites pass the same ones to both)."""
  p = argparse.ArgumentParser(description=description.split("\n")[0])
  p.add_argument("--model", default="resnet18")
  p.add_argument("--image_size", type=int, default=64)
  p.add_argument("--batch_size", type=int, default=128)
  p.add_argument("--steps", type=int, default=8)
  p.add_argument("--warmup", type=int, default=2)
  return p


def cpu_seconds() -> float:
  """Process CPU seconds, all threads (less sensitive to a shared machine's load)."""
  times = os.times()
  return times.user + times.system


def report(args, peer: str, measure) -> int:
  """Runs measure(model, image_size, batch_size, steps, warmup) -> dict, labels the result
  and prints it as one JSON line; -> the exit status."""
  try:
    result = measure(args.model, args.image_size, args.batch_size, args.steps, args.warmup)
  except Exception as e:  # pylint: disable=broad-except
    # A failed peer must not cost the other measurements of the same suite.
    result = dict(error=repr(e)[:400])
  result.update(
    peer=peer,
    model=args.model,
    image_size=args.image_size,
    batch_size=args.batch_size,
    steps=args.steps,
    nproc=os.cpu_count(),
  )
  print(json.dumps(result), flush=True)
  return 1 if "error" in result else 0
