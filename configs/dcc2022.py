"""Real data on one GPU: the competition's class folders, or the AI Hub layout.

Command: python -m abstract_cls.main --config=configs/dcc2022.py --workdir=runs/dcc2022 \
    --config.data.manual_dir=DIR   (AI Hub download: add --config.data.name=aihub_abstract)
ResNet-18 at 224 px, bfloat16, batch 256, every class sampled equally, reports under the
official protocol (resize 256, centre-crop 224). Measured: only the CPU smoke run
(tests/data/test_dcc2022_config.py). Not measured: anything on a GPU. Expected per epoch on one
H100: training images / ~12,000 img/s (the textbook Flax ResNet-18 peer's H100 rate at 128 px,
benchmarks/RESULTS.md, scaled by pixel count), about 2 s of compute for the competition's
~25k images and 45 s for AI Hub's 525k, so the JPEG decoding in the input workers sets the pace.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "resnet18"
  config.model.options = {"input_size": 224, "stem": "imagenet", "dtype": "bfloat16"}
  config.data.name = "dcc2022"
  config.data.image_size = 224
  config.data.balance = "oversample"
  config.data.num_workers = 12
  config.data.prefetch_batches = 4
  config.train.batch_size = 256
  config.train.num_epochs = 60.0
  config.optimizer.lr = 0.2  # 0.1 per 128 images, scaled linearly
  config.optimizer.warmup_epochs = 3.0
  config.loss.label_smoothing = 0.1
  config.eval.official_protocol = True
  config.eval.batch_size = 256
  return config
