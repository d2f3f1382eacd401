"""Plain (no shortcut) counterpart of configs/resnet.py, for the degradation ablation.

Command: python -m abstract_cls.main --config=configs/plain.py --workdir=/tmp/plain
Runtime and result: NOT MEASURED. The task that wrote this config shared its 2-core CPU with
up to 8 engineers (load average ~20), where a full run of this recipe could not finish in the
time available; measure with the command above and record runtime, macro-F1 and accuracy here.
"""
import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("resnet.py")))["get_config"]()
  config.model.name = "plain20"
  return config
