"""VGG-11 with batch norm (small stem) on the embedded abstract_icons data at 64 px.

Command: python -m abstract_cls.main --config=configs/vgg.py --workdir=/tmp/vgg
Runtime and result: RESULT_PENDING
"""
import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("default.py")))["get_config"]()
  config.model.name = "vgg11_bn"
  config.model.options = {"input_size": 64, "stem": "small", "width": 0.5, "dtype": "float32"}
  config.data.image_size = 64
  config.train.num_epochs = 15.0
  config.optimizer.lr = 0.05
  return config
