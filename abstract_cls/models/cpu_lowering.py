"""Which lowering a conv or max-pool uses for conv_impl='auto'.

XLA:CPU runs most convolutions well but has pathological shapes (measured by
``benchmarks/conv_lowering.py``, 2-core CPU, batch 128): a 3x3 conv on a
2x2x512 map runs at ~2 GFLOP/s; the 7x7/2 stem's gradient and the 3x3/2
max-pool's gradient are many times slower than the forward pass. Written as
``conv_general_dilated_patches`` + a matrix product (and the max-pool as a
max over strided slices) those shapes run many times faster.

The rule is decided at trace time from static shapes. On any backend other
than CPU, 'auto' is always plain XLA: GPU/TPU convolutions have no such cliffs.
"""
import jax

CONV_IMPLS = ('auto', 'xla', 'patches')


def _on_cpu() -> bool:
  return jax.default_backend() == 'cpu'


def conv_lowering(conv_impl: str, x_shape, w_shape, stride: int) -> str:
  """Returns 'xla', 'patches' or 'xla_tap_grad' for one convolution."""
  if conv_impl != 'auto':
    return conv_impl
  if not _on_cpu():
    return 'xla'
  _, h, w, cin = x_shape
  kh, kw, _, _ = w_shape
  if kh == kw == 1:
    return 'xla'
  # Tiny spatial maps (<= 4x4) with a spatial kernel: XLA:CPU's conv emitter
  # falls off a cliff there, while patches + dot is one well-shaped GEMM.
  if h * w <= 16:
    return 'patches'
  # Few input channels (the 7x7/2 stem): XLA's forward is fast (3.5x faster
  # than patches + dot, whose patches are themselves a one-hot conv), but its
  # kernel gradient is slow; keep XLA's forward, take the kernel gradient from
  # the concatenated strided taps (benchmarks/conv_lowering_results.md).
  if cin <= 4:
    return 'xla_tap_grad'
  # Wide, large maps at stride 1 (16x16x64, 16x16x128, 32x32x32, 32x32x64, ...): XLA's
  # kernel gradient is several times its forward pass there, and the tap product is
  # 1.7-4x faster for forward + both gradients; on smaller maps (8x8x128, 16x16x32) it is
  # not (benchmarks/conv_lowering_results.md, 'wide maps').
  if stride == 1 and cin >= 32 and h * w * cin >= 16384:
    return 'xla_tap_grad'
  return 'xla'


def pool_lowering(conv_impl: str, x_shape, size: int, stride: int) -> str:
  """Returns 'xla' (reduce_window) or 'slices' for one max-pool."""
  del x_shape, size, stride
  if conv_impl == 'xla':
    return 'xla'
  if conv_impl == 'patches':
    return 'slices'
  return 'slices' if _on_cpu() else 'xla'
