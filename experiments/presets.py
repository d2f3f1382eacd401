"""Overrides shared by the studies' presets; each study adds its model, budget and variants.

smoke: the synthetic stand-in set (train/validation only), 16 px, 2 steps: what the tests
  and CI run (seconds per run; nothing converges).
cpu: the embedded abstract_icons set at 32 px, every run trained to convergence on the
  2-core CPU (up to ~4 h of compute per study; resumable). The published results.
gpu: the embedded set at 64-128 px with longer schedules, for a lent accelerator.
The per-run recipes of each study (model, px, epochs, lr) are in one table in its module.
"""

from __future__ import annotations

SMOKE = {
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
  "train.layer_norms_every": 0,
  "optimizer.warmup_epochs": 0.0,
}
# A small fast-compiling model for the smoke runs of studies whose cpu model is larger.
SMOKE_LENET = {"model.name": "lenet5", "model.options": {"in_channels": 3, "input_size": 16}}
SMOKE_ALIAS = {"test": "validation", "test_unseen_style": "validation"}
SMOKE_SEEDS = (0,)

# The cpu recipe every study starts from: SGD Nesterov 0.1 at batch 128, weight decay 5e-4
# (not on biases and norm scales), 1 warm-up epoch then cosine, 32 px, one evaluation and
# three training-log rows per epoch (log_every is in steps: 32 steps per epoch at batch 128).
CPU = {
  "data.image_size": 32,
  "model.options.input_size": 32,
  "train.batch_size": 128,
  "eval.batch_size": 256,
  "train.log_every": 11,
  "train.eval_every_epochs": 1.0,
  "train.progress_bar": False,
  "train.keep_checkpoints": 1,
  "train.layer_norms_every": 0,
  "optimizer.name": "sgd",
  "optimizer.lr": 0.1,
  "optimizer.momentum": 0.9,
  "optimizer.nesterov": True,
  "optimizer.weight_decay": 5e-4,
  "optimizer.warmup_epochs": 1.0,
  "optimizer.schedule": "cosine",
  "loss.label_smoothing": 0.0,
}

GPU = dict(CPU, **{"data.image_size": 64, "model.options.input_size": 64, "train.log_every": 11})

# He et al.'s CIFAR augmentation (flip, shift by up to 4 of 32 px) instead of the recipes'
# strong crops and colour jitter, for the studies that compare how well nets fit the training set.
HE_AUGMENT = {
  "data.augment.random_resized_crop": False,
  "data.augment.rotation_degrees": 0.0,
  "data.augment.shear_degrees": 0.0,
  "data.augment.translate_fraction": 0.125,
  "data.augment.ink_strength": 0.0,
  "data.augment.saturation": 0.0,
  "data.augment.hue_degrees": 0.0,
  "data.augment.grayscale_probability": 0.0,
}

SEEDS = (0, 1, 2)


def merged(*dicts) -> dict:
  out = {}
  for d in dicts:
    out.update(d)
  return out


def strong_baseline(image_size: int, epochs: float) -> dict:
  """The model the regularisation, imbalance and domain studies share: ResNet-18 with the
  ImageNet stem at half width (a net that fits this training set, and fast on the CPU)."""
  return {
    "data.image_size": image_size,
    "model.name": "resnet18",
    "model.options": {
      "stem": "imagenet",
      "width": 0.5,
      "input_size": image_size,
      "in_channels": 3,
      "dtype": "float32",
    },
    "train.num_epochs": epochs,
  }
