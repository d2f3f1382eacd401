"""VGG-11 with batch norm (small stem) on the embedded abstract_icons data at 32 px.

Command: python -m abstract_cls.main --config=configs/vgg.py --workdir=/tmp/vgg
Runtime and result: NOT MEASURED. The task that wrote this config shared its 2-core CPU with
up to 8 engineers (load average ~20), where a full run of this recipe could not finish in the
time available; measure with the command above and record runtime, macro-F1 and accuracy here.
"""
import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("default.py")))["get_config"]()
  config.model.name = "vgg11_bn"
  config.model.options = {"input_size": 32, "stem": "small", "width": 0.5, "dtype": "float32"}
  config.data.image_size = 32
  config.train.num_epochs = 15.0
  config.optimizer.lr = 0.05
  return config
