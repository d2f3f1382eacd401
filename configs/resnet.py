"""The default ResNet recipe: trains on the embedded abstract_icons data on a 2-core CPU.

Command: python -m abstract_cls.main --config=configs/resnet.py --workdir=/tmp/w
Recipe: CIFAR-style resnet20 at 32 px, batch 128, 8 epochs (256 steps), SGD Nesterov 0.1,
1 warm-up epoch then cosine, label smoothing 0.1, on-device augmentation.
Result: results/default_run.md; time and test figures per commit: benchmarks/RESULTS.md, section 7.
"""

from configs import default


def get_config():
  config = default.get_config()
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
