"""Plain (no shortcut) counterpart of configs/resnet.py, for the degradation ablation.

Command: python -m abstract_cls.main --config=configs/plain.py --workdir=/tmp/plain
Measured (2-core AMD EPYC dev CPU, quiet, jax 0.10.2 CPU, commit 4be84c6, 2026-11-28, one recipe
at a time):
266 s command to exit (256 steps, 8 epochs, ~1.0 steps/s). Result: validation accuracy 0.492 /
macro-F1 0.191 at step 256; test split (best checkpoint = step 192, --mode=eval
--config.eval.split=test) accuracy 0.488, macro-F1 0.210 (the residual twin, configs/resnet.py,
same commit: 0.543 / 0.287). Earlier: commit a18a653, 275 s, test 0.469 / 0.221 (twin 0.526 /
0.279); commit b110052, 319 s, test 0.478 / 0.203 (residual twin
0.512 / 0.255 and, seed 1, 0.499 / 0.250); before the chunked tap kernel gradient (commit
02d6fd4): 651 s, test 0.509 / 0.227 (residual twin then: 0.543 / 0.286).
"""

from configs import resnet


def get_config():
  config = resnet.get_config()
  config.model.name = "plain20"
  return config
