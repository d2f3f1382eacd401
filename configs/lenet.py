"""LeNet-5 (the course's first CNN) on the embedded abstract_icons data at 32 px.

Command: python -m abstract_cls.main --config=configs/lenet.py --workdir=/tmp/lenet
Runtime and result: NOT MEASURED. The task that wrote this config shared its 2-core CPU with
up to 8 engineers (load average ~20), where a full run of this recipe could not finish in the
time available; measure with the command above and record runtime, macro-F1 and accuracy here.
"""
import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("default.py")))["get_config"]()
  config.model.name = "lenet5"
  config.model.options = {"in_channels": 3, "input_size": 32, "dtype": "float32"}
  config.data.image_size = 32
  config.train.num_epochs = 30.0
  config.optimizer.name = "adamw"
  config.optimizer.lr = 2e-3
  config.optimizer.weight_decay = 1e-4
  return config
