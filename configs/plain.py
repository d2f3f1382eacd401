"""Plain (no shortcut) counterpart of configs/resnet.py, for the degradation ablation.

Command: python -m abstract_cls.main --config=configs/plain.py --workdir=/tmp/plain
Measured (2-core AMD EPYC dev CPU, quiet, jax 0.10.2 CPU, commit b110052, 2026-11-27):
319 s command to exit (256 steps, 8 epochs, ~1.2 s/step; a 70-s test run overlapped it). Result: validation accuracy 0.453 /
macro-F1 0.182 at step 256; test split (best checkpoint, step 192, --mode=eval
--config.eval.split=test) accuracy 0.478, macro-F1 0.203 (the residual twin, configs/resnet.py,
same code: 0.512 / 0.255 and, seed 1, 0.499 / 0.250). Before the chunked tap kernel gradient
(commit 02d6fd4): 651 s, test 0.509 / 0.227 (residual twin then: 0.543 / 0.286).
"""
import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("resnet.py")))["get_config"]()
  config.model.name = "plain20"
  return config
