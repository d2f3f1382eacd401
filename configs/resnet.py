"""The default ResNet recipe: trains on the embedded abstract_icons data on a 2-core CPU.

Command: python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w
Recipe: CIFAR-style resnet20 at 32 px, batch 128, 8 epochs (256 steps), SGD Nesterov 0.1,
1 warm-up epoch then cosine, label smoothing 0.1, on-device augmentation.
Measured (2-core CPU, this dev machine, shared: load average 15-24, the run got 15-25% of one
core): 2.8 CPU-seconds per step, ~330 CPU-s for the first 80 steps including ~100 s of start-up
(data decode, compile); 4-12 img/s wall clock. At 2.8 CPU-s/step the whole run is ~850
CPU-seconds, i.e. under 15 minutes even on one free core; the wall-clock time of an uninterrupted
run was NOT measured (the shared machine ran it at ~1/6 core). Final result of that run
(interrupted once and resumed from its step-64 checkpoint, archive of commit c576946): best checkpoint test accuracy 0.518,
macro-F1 0.281 (--mode=eval --config.eval.split=test; results/default_run.md).
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
