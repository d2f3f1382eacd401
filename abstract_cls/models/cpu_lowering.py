"""Which lowering a conv or max-pool uses for conv_impl='auto'.

XLA:CPU runs convolution forward passes and input gradients well but has
pathological cases (measured by ``benchmarks/conv_lowering.py``, 2-core CPU,
batch 128): a 3x3 conv on a 2x2x512 map runs at ~2 GFLOP/s; the kernel
gradient of almost every conv, and the 3x3/2 max-pool's gradient, are many
times slower than the forward pass. Written as one matrix product per output
position (tiny maps, cpu_kernels.conv_positions), as a chunked product of
strided taps (kernel gradients) and as a max over strided views with a
hand-written gradient (max-pool, cpu_kernels.max_pool_strided), they run many
times faster. Kernels with fewer than 8 output channels (LeNet-5's first conv)
run far below XLA's usual speed; zero-padded to 8 outputs they do not.

The rule is decided at trace time from static shapes. On any backend other
than CPU, 'auto' is always plain XLA: GPU/TPU convolutions have no such cliffs.
"""

import jax

from abstract_cls.models import cpu_kernels

CONV_IMPLS = ("auto", "xla", "patches")


def _on_cpu() -> bool:
  return jax.default_backend() == "cpu"


def conv_lowering(conv_impl: str, x_shape, w_shape, stride: int, padding: int) -> str:
  """Returns 'xla', 'patches', 'positions', 'xla_padded_out' or 'xla_tap_grad'."""
  if conv_impl != "auto":
    return conv_impl
  if not _on_cpu():
    return "xla"
  _, h, w, _ = x_shape
  kh, kw, _, cout = w_shape
  out_positions = cpu_kernels.output_size(h, kh, stride, padding) * cpu_kernels.output_size(
    w, kw, stride, padding
  )
  # A spatial kernel producing a tiny map (<= 2x2: 3x3 on 2x2x512, 3x3/2 on
  # 4x4x256): XLA:CPU's conv emitter falls off a cliff there (~1.8 s forward
  # at batch 128). One matrix product per output position takes forward + both
  # gradients in 36 ms (3x3 2x2x512) and 27 ms (3x3/2 4x4x256), against 140 and
  # 121 ms for patches + dot; on 4x4 outputs it only ties the tap gradient.
  if out_positions <= 4 and kh * kw > 1:
    return "positions"
  # Fewer than 8 output channels (LeNet-5's first conv, 6): XLA's conv runs at a
  # fraction of its speed. With the kernel zero-padded to 8 outputs, 5x5 on
  # 32x32x3 -> 6 at batch 128 takes 9.0 ms forward + 4.6 ms kernel gradient,
  # against 17.8 + 3.6 (XLA) or 17.8 + 8.4 (taps); the LeNet-5 step runs at
  # 4020 against 2730 img/s (conv_lowering_results.md, last section).
  if cout < cpu_kernels.MIN_CPU_OUT_CHANNELS:
    return "xla_padded_out"
  # Everywhere else XLA's forward pass and input gradient are fine but its
  # kernel gradient is many times the forward (3x3 on 32x32x16: 274 ms forward
  # + both gradients against 8 ms forward; 1x1 on 16x16x64: 523 ms against
  # 53 ms). The chunked tap product takes that gradient at about the cost of a
  # forward pass (24 and 105 ms); patches are far slower on 4x4 maps
  # (3x3 on 4x4x256: 485 ms against 53 ms). Measured by
  # benchmarks/conv_lowering.py ops (conv_lowering_results.md, 'chunked tap
  # gradient' and 'tiny maps'); no measured shape got slower beyond the noise.
  # With convolutions off YNNPACK, XLA's own kernel gradient ties or beats the
  # taps per op on many 3x3 shapes, yet whole training steps were slower with it
  # (ResNet-18 @64 85.0 vs 87.4 img/s, ResNet-20 @32 138 vs 147: RESULTS.md 1d).
  return "xla_tap_grad"


def pool_lowering(conv_impl: str, x_shape, size: int, stride: int) -> str:
  """Returns 'xla' (reduce_window) or 'slices' for one max-pool."""
  del x_shape, size, stride
  if conv_impl == "xla":
    return "xla"
  if conv_impl == "patches":
    return "slices"
  return "slices" if _on_cpu() else "xla"
