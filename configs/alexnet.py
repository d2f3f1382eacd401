"""AlexNet (small stem for low resolution, half width) on the embedded abstract_icons data at 32 px.

Command: python -m abstract_cls.main --config=configs/alexnet.py --workdir=/tmp/alexnet
Measured (2-core AMD EPYC dev CPU, quiet, jax 0.10.2 CPU, commit 4be84c6, 2026-11-28, one recipe
at a time):
435 s command to exit (640 steps, 20 epochs, ~1.5 steps/s). Result: validation accuracy
0.553 / macro-F1 0.288 at step 640; test split (best checkpoint, --mode=eval
--config.eval.split=test, best = step 640) accuracy 0.531, macro-F1 0.313.
Earlier: commit a18a653, 459 s, test 0.501 / 0.279; commit b110052 (convolutions on
YNNPACK), 534 s, test 0.514 / 0.275.
At 64 px and full width (the earlier recipe) the same CPU trains it at ~12 img/s: ~1.9 h.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "alexnet"
  config.model.options = {
    "input_size": 32,
    "stem": "small",
    "width": 0.5,
    "dropout": 0.5,
    "dtype": "float32",
  }
  config.data.image_size = 32
  config.train.num_epochs = 20.0
  config.optimizer.lr = 0.02
  return config
