"""Up-front config checks, so a wrong name fails in one line before anything is built."""

from __future__ import annotations

from abstract_cls.train import optimizer as optimizer_lib
from abstract_cls.train.errors import ConfigError

# The TFDS builders plus the pipeline's generated stand-in for tests and smoke runs.
KNOWN_DATASETS = ("abstract_icons", "dcc2022", "aihub_abstract", "synthetic")
CHECKPOINT_CHOICES = ("best", "latest")


def flat_fields(tree: dict, prefix: str = "") -> dict:
  """{'a.b.c': value} of a nested config dict; tuples become lists (as in saved JSON)."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(flat_fields(value, f"{prefix}{key}."))
    else:
      flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
  return flat


def validate_config(config) -> None:
  """Raises ConfigError naming the field for unknown data sets, optimisers, schedules etc."""
  if config.data.name not in KNOWN_DATASETS:
    raise ConfigError(
      f"data.name={config.data.name!r} is not a known data set; known: {', '.join(KNOWN_DATASETS)}"
    )
  if config.optimizer.name not in optimizer_lib.OPTIMIZERS:
    raise ConfigError(
      f"optimizer.name={config.optimizer.name!r}; expected one of {optimizer_lib.OPTIMIZERS}"
    )
  if config.optimizer.schedule not in optimizer_lib.SCHEDULES:
    raise ConfigError(
      f"optimizer.schedule={config.optimizer.schedule!r}; expected one of {optimizer_lib.SCHEDULES}"
    )
  checkpoint = str(config.eval.checkpoint)
  if checkpoint not in CHECKPOINT_CHOICES and not checkpoint.isdigit():
    raise ConfigError(f"eval.checkpoint={checkpoint!r}; expected 'best', 'latest' or a step")
  if config.train.batch_size <= 0 or config.eval.batch_size <= 0:
    raise ConfigError("train.batch_size and eval.batch_size must be positive")
  if config.train.num_epochs <= 0 and config.train.max_steps <= 0:
    raise ConfigError("set train.num_epochs or train.max_steps to a positive value")
  if str(config.train.selection_split).startswith("test"):
    raise ConfigError(
      f"train.selection_split={config.train.selection_split!r}: checkpoints are selected on a "
      "validation split, never on a test split (test splits are reported after training, "
      "see eval.final_splits)"
    )
