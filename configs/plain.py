"""Plain twin of configs/resnet.py: the same net and recipe without the shortcuts.

Command: python -m abstract_cls.main --config=configs/plain.py --workdir=runs/plain
Expected: converged training and a test macro-F1 below the residual net's
(results/recipes.md).
"""

import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("resnet.py")))["get_config"]()
  config.model.name = "plain18"
  return config
