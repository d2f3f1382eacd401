"""VGG-11 with batch norm at half width, 3x3 stem and global-pool head, 32 px.

Command: python -m abstract_cls.main --config=configs/vgg.py --workdir=runs/vgg
Expected: under 20 minutes on a 2-core CPU (results/recipes.md).
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "vgg11_bn"
  config.model.options = {"input_size": 32, "stem": "small", "width": 0.5, "dtype": "float32"}
  config.data.image_size = 32
  config.train.num_epochs = 60.0
  config.optimizer.lr = 0.05
  return config
