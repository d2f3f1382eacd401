"""Defaults for the input pipeline (Contract 3): configs/default.py does `config.data = data_config()`."""

from __future__ import annotations

import ml_collections


def data_config() -> ml_collections.ConfigDict:
  """Returns the data section of the experiment config with its defaults."""
  c = ml_collections.ConfigDict()
  # Which TFDS builder (Contract 2) or 'synthetic' (a generated stand-in for tests and smoke runs).
  c.name = "abstract_icons"
  c.data_dir = ""  # '' -> the TFDS default data dir.
  c.manual_dir = ""  # dcc2022 / aihub_abstract need the downloaded files here.
  # Extra keyword options for builders.prepare (abstract_icons: archive_dir; dcc2022:
  # stored_short_side; aihub_abstract: stored_short_side, crop_to_bbox).
  c.builder_options = ml_collections.ConfigDict()
  c.image_size = 128  # Train and (non-official) eval resolution, square.
  # 'auto' keeps a split in device memory when its uint8 array fits memory_budget_mb,
  # otherwise it streams from the array_record files with grain worker processes.
  c.mode = "auto"
  c.memory_budget_mb = 4096
  # Keep decoded in-memory splits as .npy beside the TFDS data; a second load reads them back.
  c.cache_decoded = True
  c.num_workers = 2  # grain worker processes (streaming mode only).
  c.prefetch_batches = 2  # per-worker buffer in streaming mode.

  # On-device augmentation. Images are drawings on white: geometric transforms fill with white
  # and colour jitter acts on the ink (1 - x), so the background stays white.
  c.augment = ml_collections.ConfigDict()
  c.augment.random_resized_crop = True
  c.augment.crop_scale = (0.35, 1.0)  # Fraction of the image area kept by the crop.
  c.augment.crop_ratio = (3 / 4, 4 / 3)
  c.augment.horizontal_flip = True
  c.augment.vertical_flip = False  # Most objects have an up; off by default.
  c.augment.rotation_degrees = 10.0  # Small affine: uniform in [-d, d].
  c.augment.shear_degrees = 5.0
  c.augment.translate_fraction = 0.05
  c.augment.ink_strength = 0.25  # Ink darkness multiplied by U[1-s, 1+s]; white stays white.
  c.augment.saturation = 0.25  # Blend towards grey by U[1-s, 1+s].
  c.augment.hue_degrees = 10.0  # Hue rotation in YIQ space (white and grey unaffected).
  c.augment.grayscale_probability = 0.1

  c.mixup_alpha = 0.0  # > 0 enables mixup with lambda ~ Beta(a, a).
  c.cutmix_alpha = 0.0  # > 0 enables cutmix; with both on, each batch picks one at random.

  # Class imbalance.
  # 'none' | 'sqrt' (class share proportional to sqrt(n_c)) | 'oversample' (every class up to
  # the largest) | 'undersample'.
  c.balance = "none"
  c.undersample_cap = 0  # Per-class cap per epoch for 'undersample' (> 0 required).
  c.class_weighting = "none"  # 'none' | 'inverse' | 'sqrt_inverse' | 'effective_number'.
  c.effective_number_beta = 0.999

  # dcc2022 comes with a train split only: a seeded, class-stratified hold-out becomes validation.
  c.validation_fraction = 0.2
  c.split_seed = 0
  # '' or a CSV (file_name,keep,reason) from the audit; rows with keep false are dropped.
  c.cleaned_manifest = ""

  c.synthetic_num_examples = 400  # Only for name == 'synthetic'.
  return c
