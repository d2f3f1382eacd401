"""AlexNet at half width with a 3x3 stem (so 32 px keeps a feature map), dropout 0.5.

Command: python -m abstract_cls.main --config=configs/alexnet.py --workdir=runs/alexnet
Expected: under 30 minutes on a 2-core CPU (results/recipes.md).
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
  config.train.num_epochs = 50.0
  config.optimizer.lr = 0.02
  return config
