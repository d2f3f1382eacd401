"""The default ResNet recipe: trains on the embedded abstract_icons data on a 2-core CPU.

Command: python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w
Recipe: CIFAR-style resnet20 at 32 px, batch 128, 8 epochs (256 steps), SGD Nesterov 0.1,
1 warm-up epoch then cosine, label smoothing 0.1, on-device augmentation.
Measured (2-core AMD EPYC dev CPU, quiet machine, jax 0.10.2 CPU, commit ce69325,
2026-11-27): 5.5 min wall clock from command to exit (331 s; ~1.2 s/step; compilation
cache cold: this lowering's first compile). Result: validation accuracy 0.517 / macro-F1
0.233 at step 256; test split (best checkpoint, step 224; --mode=eval
--config.eval.split=test) accuracy 0.512, macro-F1 0.255
(results/default_run.md). Same command with --config.seed=1 (commit b110052, cache warm): 276 s, test
0.499 / 0.250. Before the chunked tap kernel gradient (commit 4fe880c): 726 s, test 0.543 / 0.286.
"""
import pathlib
import runpy


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name("default.py")))["get_config"]()
  config.model.name = "resnet20"
  config.model.options = {"input_size": 32, "dtype": "float32", "conv_impl": "auto"}
  config.data.image_size = 32
  config.train.num_epochs = 8.0
  config.optimizer.lr = 0.1
  config.loss.label_smoothing = 0.1
  # 16 columns in the inspect heatmap of per-layer gradient norms over 256 steps
  # (default.py's 200 gives one).
  config.train.layer_norms_every = 16
  return config
