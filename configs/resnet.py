"""The default recipe: ResNet-18 at half width, 64 px, on the embedded abstract_icons data.

Command: python -m abstract_cls.main --config=configs/resnet.py --workdir=runs/resnet
Expected on a 2-core CPU: under 20 minutes command to exit; test macro-F1 about 0.8
(results/default_run.md, results/recipes.md).
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "resnet18"
  # Stride-4 stem (7x7/2 conv + 3x3/2 max-pool): 64 px costs about what 32 px costs a
  # CIFAR-style net, and the 32-256 channel stages keep the CPU's vector units busy.
  config.model.options = {
    "input_size": 64,
    "stem": "imagenet",
    "width": 0.5,
    "dtype": "float32",
    "conv_impl": "auto",
  }
  config.data.image_size = 64
  config.train.num_epochs = 60.0
  config.optimizer.lr = 0.1
  config.loss.label_smoothing = 0.1
  config.train.layer_norms_every = 60  # 32 columns in the inspect heatmap of per-layer norms
  return config
