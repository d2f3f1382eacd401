"""Plain (no shortcut) counterpart of configs/resnet.py, for the degradation ablation.

Command: python -m abstract_cls.main --config=configs/plain.py --workdir=/tmp/plain
Runtime and result: RESULT_PENDING
"""
import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("resnet.py")))["get_config"]()
  config.model.name = "plain20"
  return config
