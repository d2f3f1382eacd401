"""Which lowering a conv or max-pool uses for conv_impl='auto'.

XLA:CPU runs convolution forward passes and input gradients well but has
pathological cases: convs on tiny maps, the kernel gradient of almost every
conv, the max-pool's gradient, and kernels with fewer than 8 output channels.
Written as one matrix product per output position (tiny maps,
cpu_kernels.conv_positions), as a chunked product of strided taps (kernel
gradients), as a max over strided views with a hand-written gradient
(cpu_kernels.max_pool_strided), or zero-padded to 8 outputs, they run many
times faster (figures: benchmarks/conv_lowering_results.md, from
benchmarks/conv_lowering.py).

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
  # A spatial kernel producing a tiny map (<= 2x2): XLA:CPU's conv emitter falls
  # off a cliff there; on 4x4 outputs one product per position only ties the taps.
  if out_positions <= 4 and kh * kw > 1:
    return "positions"
  # Fewer than 8 output channels (LeNet-5's first conv, 6): XLA's conv runs at a
  # fraction of its speed; padded to 8 outputs, with XLA's own kernel gradient.
  if cout < cpu_kernels.MIN_CPU_OUT_CHANNELS:
    return "xla_padded_out"
  # Everywhere else XLA's forward pass and input gradient are fine but its kernel
  # gradient is many times the forward; the chunked tap product takes it at about
  # the cost of a forward pass, and whole training steps are faster with it.
  return "xla_tap_grad"


def pool_lowering(conv_impl: str, x_shape, size: int, stride: int) -> str:
  """Returns 'xla' (reduce_window) or 'slices' for one max-pool."""
  del x_shape, size, stride
  if conv_impl == "xla":
    return "xla"
  if conv_impl == "patches":
    return "slices"
  return "slices" if _on_cpu() else "xla"
