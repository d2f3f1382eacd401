"""python -m abstract_cls.demo [--workdir=W]: serve the browser demo for W's best checkpoint.

Without --workdir it serves the default run's workdir (runs/resnet, what ./launch.sh
trains); when that has no checkpoint yet, the page and the console say how to train it.
"""

from __future__ import annotations

import os
import pathlib
import sys

from absl import app, flags, logging

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory to serve (default: runs/resnet).")
_CHECKPOINT = flags.DEFINE_string("checkpoint", "best", "'best', 'latest' or a step number.")
_HOST = flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (0.0.0.0: every one).")
_PORT = flags.DEFINE_integer("port", 7860, "Port to listen on.")

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_WORKDIR = REPO / "runs" / "resnet"
TRAIN_DEFAULT = "./launch.sh"  # trains configs/resnet.py into runs/resnet


def untrained_notice(workdir: str) -> str:
  return (
    f"No trained model in {workdir} yet. Train the default model with one command in "
    f"{REPO}: `{TRAIN_DEFAULT}` then start the demo again (`./launch.sh demo`)."
  )


def load(workdir_flag: str | None, checkpoint: str = "best"):
  """-> (ServedModel, "") or, for the default workdir without a checkpoint, (None, notice).

  Any other missing or unreadable checkpoint raises CheckpointNotFoundError / ValueError."""
  from abstract_cls.demo.served_model import ServedModel  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import errors  # pylint: disable=g-import-not-at-top

  workdir = os.path.abspath(workdir_flag or DEFAULT_WORKDIR)
  try:
    return ServedModel(workdir, checkpoint), ""
  except errors.CheckpointNotFoundError:
    if pathlib.Path(workdir) != pathlib.Path(DEFAULT_WORKDIR):
      raise
    return None, untrained_notice(workdir)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:  # Orbax logs every file at INFO
    logging.set_verbosity(logging.WARNING)
  from abstract_cls.demo import app as app_lib  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import errors  # pylint: disable=g-import-not-at-top

  try:
    served, notice = load(_WORKDIR.value, _CHECKPOINT.value)
  except (errors.CheckpointNotFoundError, ValueError) as e:  # ValueError: a bad --checkpoint
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(f"Serving {served.info.describe()}" if served else notice, file=sys.stderr)
  app_lib.serve(app_lib.build(served, notice), _HOST.value, _PORT.value)


if __name__ == "__main__":
  app.run(main)
