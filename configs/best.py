"""The strongest recipe here within an hour of a 2-core CPU: the default ResNet-18 wider
(0.75), trained longer, with flip test-time augmentation.

Command: python -m abstract_cls.main --config=configs/best.py --workdir=runs/best
Expected: under 60 minutes on a 2-core CPU, test macro-F1 of 0.8 or more (results/recipes.md).
"""

from configs import resnet


def get_config():
  config = resnet.get_config()
  config.model.options.width = 0.75
  config.train.num_epochs = 100.0
  config.eval.flip_tta = True
  return config
