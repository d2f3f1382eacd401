"""LeNet-5 (the course's first CNN) on the embedded abstract_icons data at 32 px.

Command: python -m abstract_cls.main --config=configs/lenet.py --workdir=/tmp/lenet
Measured (2-core AMD EPYC dev CPU, quiet, jax 0.10.2 CPU, commit f2ec34d, 2026-11-28, one
recipe at a time): 65 s command to exit (960 steps, 30 epochs, ~15 steps/s; 75 s at 4be84c6,
before each epoch's order was computed once, with the same results to the last digit). Result:
validation accuracy 0.595 / macro-F1 0.388 at step 960; test split (best checkpoint = step
672; --mode=eval --config.eval.split=test) accuracy 0.573, macro-F1 0.411.
Earlier: commit 345a41b (colour jitter not yet a dot, so another trajectory): 88 s, test
0.568 / 0.400; commit a18a653 (first conv not padded to 8 outputs; another summation order, so
another trajectory): 92 s, test 0.594 / 0.455; commit 4e15621 (convolutions on YNNPACK):
157 s, test 0.585 / 0.410.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "lenet5"
  config.model.options = {"in_channels": 3, "input_size": 32, "dtype": "float32"}
  config.data.image_size = 32
  config.train.num_epochs = 30.0
  config.optimizer.name = "adamw"
  config.optimizer.lr = 2e-3
  config.optimizer.weight_decay = 1e-4
  return config
