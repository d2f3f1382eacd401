"""VGG-11 with batch norm (small stem) on the embedded abstract_icons data at 32 px.

Command: python -m abstract_cls.main --config=configs/vgg.py --workdir=/tmp/vgg
Time and test figures per commit: benchmarks/RESULTS.md, section 7.
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
