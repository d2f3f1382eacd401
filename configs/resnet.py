"""The default ResNet recipe: trains on the embedded abstract_icons data on a 2-core CPU.

Command: python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w
Recipe: CIFAR-style resnet20 at 32 px, batch 128, 8 epochs (256 steps), SGD Nesterov 0.1,
1 warm-up epoch then cosine, label smoothing 0.1, on-device augmentation.
Measured (2-core AMD EPYC dev CPU, quiet machine, jax 0.10.2 CPU, commit 4be84c6,
2026-11-28): 279 s from command to exit (~0.9 steps/s). Result: validation accuracy 0.540 /
macro-F1 0.253 at step 256; test split (best checkpoint, step 256; --mode=eval
--config.eval.split=test) accuracy 0.543, macro-F1 0.287 (results/default_run.md).
Earlier: commit a18a653, 246 s, test 0.526 / 0.279 (the same recipe for 2 epochs, old and
new code alternated twice just after: 107 / 103 s at b811f0f, 100 / 99 s at 4be84c6, so
the 33 s are this machine's drift, not the code); commit ce69325 (convolutions on YNNPACK), 331 s, test 0.512 / 0.255; seed 1 at
b110052, 276 s, 0.499 / 0.250; before the chunked tap kernel gradient (commit 4fe880c): 726 s,
test 0.543 / 0.286.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "resnet20"
  config.model.options = {"input_size": 32, "dtype": "float32", "conv_impl": "auto"}
  config.data.image_size = 32
  config.train.num_epochs = 8.0
  config.optimizer.lr = 0.1
  config.loss.label_smoothing = 0.1
  # 16 columns in the inspect heatmap of per-layer gradient norms over 256 steps
  # (default.py's 200 gives one).
  config.train.layer_norms_every = 16
  return config
