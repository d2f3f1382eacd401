"""The default ResNet recipe: trains on the embedded abstract_icons data on a 2-core CPU.

Command: python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w
Recipe: CIFAR-style resnet20 at 32 px, batch 128, 8 epochs (256 steps), SGD Nesterov 0.1,
1 warm-up epoch then cosine, label smoothing 0.1, on-device augmentation.
Measured (2-core AMD EPYC dev CPU, quiet machine, jax 0.10.2 CPU, commit 4fe880c,
2026-11-27): 12.1 min wall clock from command to exit (726 s; 2.8 s/step; compilation
cache warm from an earlier attempt: a cold cache adds ~1 min of compile before step 1).
Result: validation accuracy 0.532 / macro-F1 0.261 at step 256; test split (best checkpoint,
--mode=eval --config.eval.split=test) accuracy 0.543, macro-F1 0.286 (results/default_run.md).
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
  return config
