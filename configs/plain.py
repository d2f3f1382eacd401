"""Plain twin of configs/resnet.py: the same net and recipe without the shortcuts.

Command: python -m abstract_cls.main --config=configs/plain.py --workdir=runs/plain
Expected: converged training and a test macro-F1 below the residual net's
(results/recipes.md).
"""

from configs import resnet


def get_config():
  config = resnet.get_config()
  config.model.name = "plain18"
  return config
