"""Building blocks shared by every model: conv, dense, norm, pooling, dropout.

Why custom layers instead of nnx.Conv / nnx.Linear directly:
- every weight carries a depth-sortable layer name (``layer_003_conv``) as
  Variable metadata, so ``layer_norms(grads)`` can order gradient norms by depth
  without knowing the model;
- convolutions and max-pools can be lowered two ways (``conv_impl``), because
  XLA:CPU has a few pathological shapes (see ``cpu_lowering.py``);
- padding is explicit and symmetric (PyTorch style), so every feature map obeys
  O = floor((I - K + 2P) / S) + 1, which ``model.trace`` reports and tests check;
- compute dtype (bfloat16) is applied with float32 parameters and float32
  batch-norm statistics.
"""

import contextlib
import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

from abstract_cls.models import cpu_kernels, cpu_lowering

_DIMS = cpu_kernels.DIMS
NORMS = ("batch", "group", "none")
CONV_IMPLS = cpu_lowering.CONV_IMPLS

# While a trace is being recorded this holds the list that conv/pool layers
# append to; None otherwise. Only touched at Python trace time.
_trace_log: list[dict[str, Any]] | None = None


@contextlib.contextmanager
def recording():
  """Collects a dict per conv/pool layer called inside the block."""
  global _trace_log
  previous, _trace_log = _trace_log, []
  try:
    yield _trace_log
  finally:
    _trace_log = previous


def _record(name, kind, x, y, kernel, stride, padding):
  if _trace_log is not None:
    _trace_log.append(
      dict(
        name=name,
        kind=kind,
        input_shape=tuple(x.shape),
        output_shape=tuple(y.shape),
        kernel=tuple(kernel),
        stride=tuple(stride),
        padding=tuple(padding),
      )
    )


output_size = cpu_kernels.output_size


class LayerNamer:
  """Hands out names that sort by depth: layer_001_conv, layer_001_norm, ...

  ``next(kind)`` starts a new depth (a conv or dense layer on the main path);
  ``same(kind)`` names a layer that sits at the current depth (its norm, the
  pool after it, or a projection shortcut beside it).
  """

  def __init__(self):
    self.depth = 0

  def next(self, kind: str) -> str:
    self.depth += 1
    return self.same(kind)

  def same(self, kind: str) -> str:
    return f"layer_{self.depth:03d}_{kind}"


def _normal(key, shape, std: float):
  """Normal(0, std) of any shape, compiling random bits once per size bucket.

  XLA:CPU takes seconds to compile a threefry sampler, once per distinct
  shape; a model zoo has hundreds of shapes, which made building a small
  model take tens of seconds of CPU. Sampling a power-of-two bucket and slicing keeps
  the distribution and compiles ~20 samplers for the whole zoo.
  """
  n = math.prod(shape)
  bucket = max(1024, 1 << (n - 1).bit_length())
  flat = jax.random.normal(key, (bucket,), jnp.float32)
  return (lax.slice(flat, (0,), (n,)) * std).reshape(shape)


def he_normal_fan_out(key, shape, dtype=jnp.float32):
  """He et al. normal init with fan_out (torchvision's ResNet/VGG choice)."""
  *receptive, _, out_ch = shape
  return _normal(key, shape, math.sqrt(2.0 / (math.prod(receptive) * out_ch)))


def lecun_normal_fan_in(key, shape, dtype=jnp.float32):
  return _normal(key, shape, math.sqrt(1.0 / shape[0]))


def compute_dtype(name: str):
  dtypes = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
  if name not in dtypes:
    raise ValueError(f"dtype must be one of {sorted(dtypes)}, got {name!r}")
  return dtypes[name]


def scaled(channels: int, width: float) -> int:
  return max(1, int(round(channels * width)))


class Conv(nnx.Module):
  """2-D convolution, NHWC/HWIO, symmetric padding, selectable lowering."""

  def __init__(
    self,
    in_ch: int,
    out_ch: int,
    kernel: int,
    *,
    stride: int = 1,
    padding: int = 0,
    use_bias: bool = False,
    name: str,
    dtype=jnp.float32,
    conv_impl: str = "auto",
    kernel_init=he_normal_fan_out,
    rngs: nnx.Rngs,
  ):
    if conv_impl not in CONV_IMPLS:
      raise ValueError(f"conv_impl must be one of {CONV_IMPLS}, got {conv_impl!r}")
    self.kernel = nnx.Param(
      kernel_init(rngs.params(), (kernel, kernel, in_ch, out_ch), jnp.float32), layer=name
    )
    self.bias = (
      nnx.Param(jnp.zeros((out_ch,), jnp.float32), layer=name) if use_bias else nnx.data(None)
    )
    self.size, self.stride, self.padding = kernel, stride, padding
    self.name, self.dtype, self.conv_impl = name, dtype, conv_impl

  def __call__(self, x):
    x = x.astype(self.dtype)
    w = self.kernel[...].astype(self.dtype)
    impl = cpu_lowering.conv_lowering(self.conv_impl, x.shape, w.shape, self.stride, self.padding)
    y = conv2d(x, w, self.stride, self.padding, impl)
    if self.bias is not None:
      y = y + self.bias[...].astype(self.dtype)
    _record(self.name, "conv", x, y, (self.size,) * 2, (self.stride,) * 2, (self.padding,) * 2)
    return y


def conv2d(x, w, stride: int, padding: int, impl: str):
  """NHWC x HWIO convolution in the lowering cpu_lowering.conv_lowering chose."""
  if impl == "xla":
    return cpu_kernels.xla_conv(x, w, stride, padding)
  if impl == "xla_tap_grad":
    return cpu_kernels.conv_tap_grad(x, w, stride, padding)
  if impl == "xla_padded_out":
    return cpu_kernels.xla_conv_padded_out(x, w, stride, padding)
  if impl == "positions":
    return cpu_kernels.conv_positions(x, w, stride, padding)
  kh, kw, cin, cout = w.shape
  if kh == kw == 1 and padding == 0:
    patches = x[:, ::stride, ::stride, :]
    return jnp.dot(patches, w.reshape(cin, cout))
  patches = lax.conv_general_dilated_patches(
    x, (kh, kw), (stride, stride), [(padding, padding)] * 2, dimension_numbers=_DIMS
  )
  # Patch features are ordered (C, kh, kw); bring the kernel into that order.
  return jnp.dot(patches, w.transpose(2, 0, 1, 3).reshape(cin * kh * kw, cout))


class Dense(nnx.Module):
  """Fully connected layer whose parameters carry their depth name."""

  def __init__(
    self,
    in_features: int,
    out_features: int,
    *,
    name: str,
    dtype=jnp.float32,
    rngs: nnx.Rngs,
    kernel_init=lecun_normal_fan_in,
  ):
    self.kernel = nnx.Param(
      kernel_init(rngs.params(), (in_features, out_features), jnp.float32), layer=name
    )
    self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32), layer=name)
    self.name, self.dtype = name, dtype

  def __call__(self, x):
    x = x.astype(self.dtype)
    return jnp.dot(x, self.kernel[...].astype(self.dtype)) + self.bias[...].astype(self.dtype)


class Norm(nnx.Module):
  """Batch / group / no normalisation; statistics and maths in float32.

  Parameters (scale, bias) carry the depth name; batch statistics do not need
  it (they are not differentiated).
  """

  def __init__(
    self,
    kind: str,
    channels: int,
    *,
    name: str,
    dtype=jnp.float32,
    zero_scale: bool = False,
    rngs: nnx.Rngs,
  ):
    if kind not in NORMS:
      raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")
    self.kind, self.dtype = kind, dtype
    scale_init = nnx.initializers.zeros_init() if zero_scale else nnx.initializers.ones_init()
    meta = dict(scale_metadata={"layer": name}, bias_metadata={"layer": name})
    if kind == "batch":
      # momentum 0.9 == PyTorch's 0.1: running stats settle within short runs.
      self.layer = nnx.BatchNorm(
        channels,
        momentum=0.9,
        epsilon=1e-5,
        dtype=jnp.float32,
        scale_init=scale_init,
        rngs=rngs,
        **meta,
      )
    elif kind == "group":
      self.layer = nnx.GroupNorm(
        channels,
        num_groups=math.gcd(32, channels),
        epsilon=1e-5,
        dtype=jnp.float32,
        scale_init=scale_init,
        rngs=rngs,
        **meta,
      )
    else:
      self.layer = nnx.data(None)

  def __call__(self, x):
    if self.layer is None:
      return x
    return self.layer(x).astype(self.dtype)


class Dropout(nnx.Module):
  """nnx.Dropout that is a no-op (and needs no rng) when the rate is 0."""

  def __init__(self, rate: float, *, rngs: nnx.Rngs):
    if not 0.0 <= rate < 1.0:
      raise ValueError(f"dropout must be in [0, 1), got {rate}")
    self.layer = nnx.Dropout(rate, rngs=rngs) if rate > 0 else nnx.data(None)

  def __call__(self, x):
    return x if self.layer is None else self.layer(x)


def max_pool(x, size: int, stride: int, padding: int = 0, *, name: str, conv_impl: str = "auto"):
  """Max pool with -inf padding; reduce_window or strided slices."""
  impl = cpu_lowering.pool_lowering(conv_impl, x.shape, size, stride)
  if impl == "xla":
    y = lax.reduce_window(
      x,
      -jnp.inf,
      lax.max,
      (1, size, size, 1),
      (1, stride, stride, 1),
      [(0, 0), (padding, padding), (padding, padding), (0, 0)],
    )
  else:
    y = cpu_kernels.max_pool_strided(x, size, stride, padding)
  _record(name, "pool", x, y, (size, size), (stride, stride), (padding, padding))
  return y


def global_avg_pool(x, *, name: str):
  y = jnp.mean(x.astype(jnp.float32), axis=(1, 2), keepdims=True).astype(x.dtype)
  _record(name, "pool", x, y, x.shape[1:3], (1, 1), (0, 0))
  return y.reshape(y.shape[0], -1)
