"""LeNet-5 (ReLU, max-pool) at 32 px, AdamW, trained until its training accuracy plateaus.

Command: python -m abstract_cls.main --config=configs/lenet.py --workdir=runs/lenet
Expected: a few minutes on a 2-core CPU; the capacity of a 62k-parameter net caps it
(results/recipes.md).
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "lenet5"
  config.model.options = {"in_channels": 3, "input_size": 32, "dtype": "float32"}
  config.data.image_size = 32
  config.train.num_epochs = 150.0
  config.optimizer.name = "adamw"
  config.optimizer.lr = 2e-3
  config.optimizer.weight_decay = 1e-4
  return config
