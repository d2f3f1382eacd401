"""Overrides shared by the studies' presets (each study adds its own model and budget).

tiny: the synthetic stand-in set (train/validation only), 16 px, 2 steps: for tests (seconds).
quick: the embedded abstract_icons set at small resolution on a 2-core CPU.
full: the embedded set at 64 px with longer schedules, meant for a GPU.
"""

from __future__ import annotations

TINY_DATA = {
  "data.name": "synthetic",
  "data.synthetic_num_examples": 120,
  "data.image_size": 16,
  "model.options.input_size": 16,
  "train.batch_size": 16,
  "eval.batch_size": 32,
  "train.num_epochs": 1.0,
  "train.max_steps": 2,
  "train.log_every": 1,
  "train.eval_every_epochs": 1.0,
  "train.progress_bar": False,
  "train.keep_checkpoints": 1,
  "optimizer.warmup_epochs": 0.0,
}
TINY_ALIAS = {"test": "validation", "test_unseen_style": "validation"}
TINY_SEEDS = (0, 1)

QUICK_DATA = {
  "data.image_size": 32,
  "model.options.input_size": 32,
  "train.batch_size": 128,
  "eval.batch_size": 256,
  "train.progress_bar": False,
  "train.keep_checkpoints": 1,
  "train.layer_norms_every": 0,
  "optimizer.warmup_epochs": 1.0,
}

FULL_DATA = {
  "data.image_size": 64,
  "model.options.input_size": 64,
  "train.batch_size": 128,
  "eval.batch_size": 256,
  "train.progress_bar": False,
  "train.keep_checkpoints": 1,
  "train.layer_norms_every": 0,
}

SEEDS = (0, 1, 2)


def merged(*dicts) -> dict:
  out = {}
  for d in dicts:
    out.update(d)
  return out
