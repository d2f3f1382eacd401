"""LeNet-5 (the course's first CNN) on the embedded abstract_icons data at 32 px.

Command: python -m abstract_cls.main --config=configs/lenet.py --workdir=/tmp/lenet
Time and test figures per commit: benchmarks/RESULTS.md, section 7.
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
