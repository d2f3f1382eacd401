"""abstract_cls: classify abstract images (sketches, illustrations, pictograms) into 20 classes."""

import os

# XLA:CPU hands convolutions to YNNPACK by default; on the 2-core dev CPU its
# convolutions ran at about half the speed of XLA's own (Eigen) ones (3x3 on
# 16x16x64, batch 128: forward 53 -> 23 ms, input gradient 54 -> 24 ms), and
# the ResNet-18 @64 training step went from ~70 to ~87 img/s. Dots and
# reductions stay on YNNPACK (taking reductions off it was slower). Set before
# jax starts its backend; an XLA_FLAGS that already names the option wins.
# Measured: benchmarks/RESULTS.md section 1c.
_YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type=individual_dot,reduce"
if "xla_cpu_experimental_ynn_fusion_type" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _YNN_FLAG).strip()
