"""The default ResNet recipe: trains on the embedded abstract_icons data on a 2-core CPU.

Command: python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w
Runtime and result: RESULT_PENDING
"""
import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("default.py")))["get_config"]()
  config.model.name = "resnet20"
  config.model.options = {"input_size": 32, "dtype": "float32", "conv_impl": "auto"}
  config.data.image_size = 32
  config.train.num_epochs = 8.0
  config.optimizer.lr = 0.1
  config.loss.label_smoothing = 0.1
  return config
