"""Plain (no shortcut) counterpart of configs/resnet.py, for the degradation ablation.

Command: python -m abstract_cls.main --config=configs/plain.py --workdir=/tmp/plain
Measured (2-core AMD EPYC dev CPU, quiet, jax 0.10.2 CPU, commit 02d6fd4, 2026-11-27):
651 s command to exit (256 steps, 8 epochs, 2.5 s/step). Result: validation accuracy 0.477 /
macro-F1 0.193 at step 256; test split (best checkpoint, step 224, --mode=eval --config.eval.split=test)
accuracy 0.509, macro-F1 0.227 (the residual twin, configs/resnet.py: 0.543 / 0.286).
"""
import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("resnet.py")))["get_config"]()
  config.model.name = "plain20"
  return config
