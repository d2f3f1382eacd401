"""CPU lowerings that replace XLA:CPU's slow gradients (see cpu_lowering.py for when).

- ``conv_tap_grad``: XLA's forward convolution and input gradient, with the kernel
  gradient taken by ``tap_kernel_grad``, a chunked product of strided taps.
- ``conv_positions``: a conv with a tiny output map as one matrix product per
  output position.
- ``max_pool_strided``: max-pool over strided views with a hand-written
  gradient.
The hand-written gradients are custom transposes of the forward-mode tangents
(``custom_jvp`` + ``linear_call``), so jax.jvp works through them as well as
jax.grad. They are checked against XLA's own results in tests/test_models_layers.py.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero, linear_call

DIMS = ("NHWC", "HWIO", "NHWC")


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
  """O = floor((I - K + 2P) / S) + 1."""
  return (size - kernel + 2 * padding) // stride + 1


def xla_conv(x, w, stride, padding):
  return lax.conv_general_dilated(
    x, w, (stride, stride), [(padding, padding)] * 2, dimension_numbers=DIMS
  )


# XLA:CPU's convolutions slow down when a kernel has fewer than 8 output channels
# (benchmarks/conv_lowering_results.md).
MIN_CPU_OUT_CHANNELS = 8


def xla_conv_padded_out(x, w, stride, padding):
  """xla_conv with the kernel's outputs zero-padded to MIN_CPU_OUT_CHANNELS.

  The padded outputs are sliced off, so their gradient is zero and the
  kernel's real channels get exactly xla_conv's gradients.
  """
  cout = w.shape[3]
  extra = max(MIN_CPU_OUT_CHANNELS - cout, 0)
  w = jnp.pad(w, [(0, 0), (0, 0), (0, 0), (0, extra)])
  return xla_conv(x, w, stride, padding)[..., :cout]


def strided_taps(x, kh, kw, stride, padding, ho, wo):
  """The kh*kw strided views of padded x that each kernel tap multiplies."""
  x = jnp.pad(x, [(0, 0), (padding, padding), (padding, padding), (0, 0)])
  return [
    lax.slice(
      x,
      (0, i, j, 0),
      (x.shape[0], i + stride * (ho - 1) + 1, j + stride * (wo - 1) + 1, x.shape[3]),
      (1, stride, stride, 1),
    )
    for i in range(kh)
    for j in range(kw)
  ]


# XLA:CPU's kernel gradient is many times slower than its forward pass and input
# gradient on most shapes. This keeps XLA's forward and input gradient and takes the
# kernel gradient as a matrix product of the concatenated strided taps with the output
# gradient, a few images at a time (benchmarks/conv_lowering_results.md).
@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def conv_tap_grad(x, w, stride, padding):
  return xla_conv(x, w, stride, padding)


def _conv_tap_grad_jvp(stride, padding, primals, tangents):
  x, w = primals
  dx, dw = tangents
  y = xla_conv(x, w, stride, padding)

  def kernel_tangent(x, dw):
    return xla_conv(x, dw, stride, padding)

  def kernel_grad(x, g):
    return tap_kernel_grad(x, g, w.shape, stride, padding).astype(w.dtype)

  # The input part transposes to XLA's own input gradient; a zero tangent (the image,
  # frozen weights) adds nothing.
  terms = []
  if not isinstance(dx, SymbolicZero):
    terms.append(xla_conv(dx, w, stride, padding))
  if not isinstance(dw, SymbolicZero):
    terms.append(linear_call(kernel_tangent, kernel_grad, x, dw))
  return y, sum(terms[1:], terms[0]) if terms else jnp.zeros_like(y)


conv_tap_grad.defjvp(_conv_tap_grad_jvp, symbolic_zeros=True)


def conv_positions(x, w, stride: int, padding: int):
  """A conv as one matrix product per output position (for tiny output maps).

  Each output position multiplies the input window it sees, cut to the real
  input (padding contributes nothing), by the matching slice of the kernel.
  Autodiff of slices and dots gives both gradients as matrix products too.
  XLA:CPU's own conv is pathological on these maps, and patches + one dot pays
  for an im2col conv and its transpose (benchmarks/conv_lowering_results.md).
  """
  b, h, wd, _ = x.shape
  kh, kw, _, cout = w.shape
  ho = output_size(h, kh, stride, padding)
  wo = output_size(wd, kw, stride, padding)
  outputs = []
  for i in range(ho):
    for j in range(wo):
      top, left = stride * i - padding, stride * j - padding
      r0, r1 = max(top, 0), min(top + kh, h)
      c0, c1 = max(left, 0), min(left + kw, wd)
      if r0 >= r1 or c0 >= c1:  # the window lies wholly in the padding
        outputs.append(jnp.zeros((b, cout), x.dtype))
        continue
      window = x[:, r0:r1, c0:c1, :].reshape(b, -1)
      taps = w[r0 - top : r1 - top, c0 - left : c1 - left].reshape(-1, cout)
      outputs.append(jnp.dot(window, taps))
  return jnp.stack(outputs, 1).reshape(b, ho, wo, cout)


# Bytes of concatenated taps per chunk: the tap product runs several times
# faster when a chunk's taps stay in cache (benchmarks/conv_lowering_results.md).
TAP_CHUNK_BYTES = 2 << 20


def tap_chunk_images(per_shard_batch: int, per_image_bytes: int) -> int:
  """Largest divisor of the per-shard batch whose taps fit TAP_CHUNK_BYTES."""
  limit = max(1, TAP_CHUNK_BYTES // per_image_bytes)
  return max(d for d in range(1, min(limit, per_shard_batch) + 1) if per_shard_batch % d == 0)


def tap_kernel_grad(x, g, w_shape, stride: int, padding: int):
  """Kernel gradient of an NHWC x HWIO conv as a chunked tap product.

  The batch is split as (shards, chunks, images) with shards = the device
  count when it divides the batch, so that under data parallelism each device
  scans its own images and the only cross-device sum is the final one.
  """
  kh, kw, cin, cout = w_shape
  b, ho, wo = g.shape[:3]
  shards = jax.device_count() if b % jax.device_count() == 0 else 1
  per_image = ho * wo * kh * kw * cin * x.dtype.itemsize
  images = tap_chunk_images(b // shards, per_image)
  chunks = b // shards // images

  def split(a):  # (b, ...) -> (chunks, shards, images, ...)
    a = a.reshape(shards, chunks, images, *a.shape[1:])
    return jnp.swapaxes(a, 0, 1)

  def chunk_grad(acc, xg):
    xc, gc = xg
    xc = xc.reshape(shards * images, *xc.shape[2:])
    taps = jnp.concatenate(strided_taps(xc, kh, kw, stride, padding, ho, wo), -1)
    taps = taps.reshape(shards, images * ho * wo, kh * kw * cin)
    gc = gc.reshape(shards, images * ho * wo, cout)
    return acc + jnp.einsum("snk,sno->sko", taps, gc, preferred_element_type=jnp.float32), None

  acc = jnp.zeros((shards, kh * kw * cin, cout), jnp.float32)
  if chunks == 1:
    acc, _ = chunk_grad(acc, (split(x)[0], split(g)[0]))
  else:
    acc, _ = lax.scan(chunk_grad, acc, (split(x), split(g)))
  return acc.sum(0).reshape(kh, kw, cin, cout)


# Max-pool as a max over size*size strided views, with a hand-written
# gradient: each output gradient goes to its window's first maximum (an int8
# tap index saved by the forward pass) and is put back in place by an
# interior-padded pad per tap, which XLA fuses with the sum over taps and with
# the batch-norm and ReLU gradients around it. XLA's own gradient of
# reduce_window, and autodiff of the strided views, are many times the forward
# pass on XLA:CPU (benchmarks/conv_lowering_results.md). A NaN in a window is
# its maximum, as in reduce_window.
@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def max_pool_strided(x, size, stride, padding):
  return _max_pool_with_index(x, size, stride, padding)[0]


def _taps(size):
  return enumerate((i, j) for i in range(size) for j in range(size))


def _strided_view(xp, i, j, stride, ho, wo):
  b, _, _, c = xp.shape
  return lax.slice(
    xp,
    (0, i, j, 0),
    (b, i + stride * (ho - 1) + 1, j + stride * (wo - 1) + 1, c),
    (1, stride, stride, 1),
  )


def _pool_geometry(shape, size, stride, padding):
  _, h, w, _ = shape
  return output_size(h, size, stride, padding), output_size(w, size, stride, padding)


def _max_pool_with_index(x, size, stride, padding):
  ho, wo = _pool_geometry(x.shape, size, stride, padding)
  pads = [(0, 0), (padding, padding), (padding, padding), (0, 0)]
  xp = jnp.pad(x, pads, constant_values=-jnp.inf)
  y = index = None
  for t, (i, j) in _taps(size):
    view = _strided_view(xp, i, j, stride, ho, wo)
    if y is None:
      y, index = view, jnp.zeros(view.shape, jnp.int8)
    else:
      # strict: the first maximum keeps the gradient; a NaN always wins
      better = (view > y) | jnp.isnan(view)
      y, index = jnp.where(better, view, y), jnp.where(better, jnp.int8(t), index)
  return y, index


def _route_to_index(dx, index, size, stride, padding):
  """The tangent of the pool: each output takes dx at its window's maximum."""
  ho, wo = _pool_geometry(dx.shape, size, stride, padding)
  pads = [(0, 0), (padding, padding), (padding, padding), (0, 0)]
  dxp = jnp.pad(dx, pads)
  dy = jnp.zeros(index.shape, dx.dtype)
  for t, (i, j) in _taps(size):
    dy = jnp.where(index == t, _strided_view(dxp, i, j, stride, ho, wo), dy)
  return dy


def _place_at_index(g, index, x_shape, size, stride, padding):
  """The transpose of _route_to_index: each output gradient back at its maximum."""
  _, h, w, _ = x_shape
  ho, wo = _pool_geometry(x_shape, size, stride, padding)
  hp, wp = h + 2 * padding, w + 2 * padding
  zero = jnp.zeros((), g.dtype)
  dxp = None
  for t, (i, j) in _taps(size):
    routed = jnp.where(index == t, g, zero)
    placed = lax.pad(
      routed,
      zero,
      [
        (0, 0, 0),
        (i, hp - i - stride * (ho - 1) - 1, stride - 1),
        (j, wp - j - stride * (wo - 1) - 1, stride - 1),
        (0, 0, 0),
      ],
    )
    dxp = placed if dxp is None else dxp + placed
  return dxp[:, padding : padding + h, padding : padding + w, :]


@max_pool_strided.defjvp
def _max_pool_strided_jvp(size, stride, padding, primals, tangents):
  (x,), (dx,) = primals, tangents
  y, index = _max_pool_with_index(x, size, stride, padding)

  def tangent(index, dx):
    return _route_to_index(dx, index, size, stride, padding)

  def transpose(index, g):
    return _place_at_index(g, index, x.shape, size, stride, padding)

  return y, linear_call(tangent, transpose, index, dx)
