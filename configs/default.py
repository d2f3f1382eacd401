"""Defaults shared by every config; the family configs override model and schedule.

Command: python -m abstract_cls.main --config=configs/default.py --workdir=/tmp/default
Each field can be overridden on the command line, e.g. --config.optimizer.lr=0.05.
This file alone trains a CIFAR-style resnet20 at 32 px for a short run; see
configs/resnet.py for the measured default.
"""

import ml_collections

from abstract_cls.data.config import data_config


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0

  config.model = ml_collections.ConfigDict()
  config.model.name = "resnet20"
  # Contract 4 options (in_channels, input_size, norm, width, stem, zero_init_residual,
  # shortcut, dropout, dtype, conv_impl); only those the model supports.
  config.model.options = ml_collections.ConfigDict({"dtype": "float32"})

  config.data = data_config()
  config.data.image_size = 32

  config.train = ml_collections.ConfigDict()
  config.train.batch_size = 128  # global, over all devices and processes
  config.train.num_epochs = 10.0
  config.train.max_steps = 0  # > 0 caps the run
  config.train.log_every = 20  # steps between metric fetches (loss, accuracy, norms, img/s)
  config.train.layer_norms_every = 200  # per-layer gradient norms; 0 = never
  config.train.eval_every_epochs = 1.0
  config.train.checkpoint_every_steps = 0  # extra saves between evaluations; 0 = none
  config.train.keep_checkpoints = 3  # the last N, plus the best by validation macro-F1
  config.train.num_devices = 0  # 0 = every device of every process
  config.train.compilation_cache_dir = ""  # '' = ~/.cache/abstract_cls/jax
  config.train.progress_bar = True
  # Testing aid: host sleep after each step, so a test can kill the run part-way.
  config.train.pause_after_step_s = 0.0

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "sgd"  # 'sgd' | 'adamw'
  config.optimizer.lr = 0.1  # peak learning rate after warm-up
  config.optimizer.momentum = 0.9
  config.optimizer.nesterov = True
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-8
  config.optimizer.weight_decay = 5e-4
  config.optimizer.decay_mask = True  # no decay on biases and norm scales
  config.optimizer.warmup_epochs = 1.0
  config.optimizer.schedule = "cosine"  # 'cosine' | 'cosine_restarts' | 'step' | 'constant'
  config.optimizer.restart_epochs = 5.0  # cosine_restarts: first cycle; each next one doubles
  config.optimizer.min_lr_ratio = 0.0
  config.optimizer.step_epochs = (30.0, 60.0, 80.0)  # 'step': multiply by step_factor here
  config.optimizer.step_factor = 0.1
  config.optimizer.clip_norm = 0.0  # global-norm clipping; 0 = off
  # Evaluate an average of the weights (with batch statistics averaged alongside): an EMA
  # (decay, with warm-up) or SWA (equal weights from that epoch on); 0 = off.
  config.optimizer.ema_decay = 0.0
  config.optimizer.swa_start_epoch = 0.0

  config.loss = ml_collections.ConfigDict()
  config.loss.label_smoothing = 0.0
  config.loss.focal_gamma = 0.0  # > 0: focal loss
  config.loss.l1 = 0.0  # explicit penalty l1 * sum|w| (weights only)
  config.loss.l2 = 0.0  # explicit penalty l2 * 0.5 * sum(w^2) (weights only)

  config.eval = ml_collections.ConfigDict()
  config.eval.split = "validation"
  config.eval.batch_size = 256
  config.eval.flip_tta = False  # average the predictions for the image and its mirror image
  config.eval.official_protocol = False  # resize 256, centre-crop 224 (task README)
  config.eval.seed_check = True  # with official_protocol: seeds 0/5/10 must agree within 0.1
  config.eval.checkpoint = "best"  # 'best' | 'latest' | a step number, for --mode=eval/predict
  config.eval.top_k = 3  # --mode=predict columns
  return config
