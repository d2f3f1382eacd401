"""Plain (no shortcut) counterpart of configs/resnet.py, for the degradation ablation.

Command: python -m abstract_cls.main --config=configs/plain.py --workdir=/tmp/plain
Time and test figures per commit, beside its residual twin: benchmarks/RESULTS.md, section 7.
"""

from configs import resnet


def get_config():
  config = resnet.get_config()
  config.model.name = "plain20"
  return config
