"""AlexNet (small stem for low resolution, half width) on the embedded abstract_icons data at 32 px.

Command: python -m abstract_cls.main --config=configs/alexnet.py --workdir=/tmp/alexnet
Time and test figures per commit: benchmarks/RESULTS.md, section 7.
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
