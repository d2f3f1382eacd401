"""Command line: train, evaluate or predict.

  python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w
  python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w --mode=eval \
      [--config.data.name=dcc2022 --config.data.manual_dir=DIR --config.eval.split=all]
  python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w --mode=predict \
      --input=DIR_OR_FILES [--output=predictions.csv]
  python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w --mode=inspect
      (filters, feature maps, Grad-CAM, error galleries, embedding map, curves -> /tmp/w/inspect)

Any config field can be overridden: --config.optimizer.lr=0.05 (for eval and predict, the
model and its input size come from the checkpoint). The logic lives in abstract_cls.train;
this file only parses flags and reports errors in one line.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
  "config", None, "Config file (configs/*.py).", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory: checkpoints, logs, reports.")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval", "predict", "inspect"], "What to do.")
_INPUT = flags.DEFINE_list("input", [], "--mode=predict: image files and/or folders.")
_OUTPUT = flags.DEFINE_string(
  "output", "", "--mode=predict: CSV path (default WORKDIR/predictions.csv)."
)
flags.mark_flags_as_required(["config", "workdir"])


def _parse_flags(argv):
  """absl's parser, with a wrong --config.x.y override reported in one line."""
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError, TypeError, ValueError, flags.Error) as e:
    overrides = [a.split("=")[0] for a in argv[1:] if a.startswith("--config.")]
    detail = str(e)
    if len(detail) > 1 and detail[0] == detail[-1] and detail[0] in "'\"":
      detail = detail[1:-1]  # ml_collections quotes its KeyError text
    detail = detail.replace("\\n", " ").replace("\n", " ").replace("\\'", "'")
    print(f"error: bad config override ({', '.join(overrides)}): {detail}", file=sys.stderr)
    sys.exit(2)


def _print_training_result(result: dict, config) -> None:
  """The selection split's last evaluation, then one line per reported final split."""
  from abstract_cls.train import mesh  # pylint: disable=g-import-not-at-top

  if not mesh.is_primary() or result["preempted"]:  # the trainer printed where it stopped
    return
  split = config.train.selection_split
  selection = result["eval"][split]
  if selection:
    print(
      f"Finished at step {result['step']}: {split} accuracy "
      f"{selection['accuracy']:.4f}, macro-F1 {selection['macro_f1']:.4f}"
    )
  for split, m in result["final"].items():
    print(
      f"{split}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} "
      f"({m['selected_by']} checkpoint, step {m['checkpoint_step']})"
    )


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:  # Orbax and TFDS log every file at INFO
    logging.set_verbosity(logging.WARNING)
  # Imported here so --help and flag errors do not pay for importing JAX.
  from abstract_cls.train import errors  # pylint: disable=g-import-not-at-top

  config, workdir = _CONFIG.value, _WORKDIR.value
  try:
    config.get("seed")  # a config file that failed to load raises here
  except OSError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  try:
    overrides = config_flags.get_override_values(flags.FLAGS["config"])
    if _MODE.value == "train":
      from abstract_cls.train import loop  # pylint: disable=g-import-not-at-top

      _print_training_result(loop.train_and_evaluate(config, workdir), config)
    elif _MODE.value == "eval":
      from abstract_cls.train import evaluate  # pylint: disable=g-import-not-at-top

      evaluate.run_eval(config, workdir, overrides)
    elif _MODE.value == "inspect":
      from abstract_cls.diagnostics import run_inspect  # pylint: disable=g-import-not-at-top

      summary = run_inspect(config, workdir)
      print(f"Wrote the diagnostics to {summary.get('out_dir', workdir + '/inspect')}")
    else:
      from abstract_cls.train import predict  # pylint: disable=g-import-not-at-top

      if not _INPUT.value:
        raise app.UsageError("--mode=predict needs --input=DIR_OR_FILES")
      predict.run_predict(config, workdir, _INPUT.value, _OUTPUT.value, overrides)
  except (errors.ConfigError, errors.CheckpointNotFoundError, FloatingPointError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  app.run(main, flags_parser=_parse_flags)
