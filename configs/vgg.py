"""VGG-11 with batch norm (small stem) on the embedded abstract_icons data at 32 px.

Command: python -m abstract_cls.main --config=configs/vgg.py --workdir=/tmp/vgg
Measured (2-core AMD EPYC dev CPU, quiet, jax 0.10.2 CPU, commit 4be84c6, 2026-11-28, one recipe
at a time):
265 s command to exit (480 steps, 15 epochs, ~1.8 steps/s). Result: validation accuracy
0.717 / macro-F1 0.462 at step 480; test split (best checkpoint = step 480, --mode=eval
--config.eval.split=test) accuracy 0.710, macro-F1 0.507 -- the best of the five family
recipes on this data (configs/resnet.py, 8 epochs, same commit: 0.543 / 0.287).
Earlier: commit a18a653, 275 s, test 0.705 / 0.512; commit b110052 (convolutions on
YNNPACK), 345 s, test 0.688 / 0.503.
At 64 px (the earlier recipe) the same CPU trains it at ~52 img/s: ~20 min.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "vgg11_bn"
  config.model.options = {"input_size": 32, "stem": "small", "width": 0.5, "dtype": "float32"}
  config.data.image_size = 32
  config.train.num_epochs = 15.0
  config.optimizer.lr = 0.05
  return config
