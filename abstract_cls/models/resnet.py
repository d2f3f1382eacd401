"""ResNets (He et al. 2016) and their plain counterparts.

- ImageNet design (ResNet-18/34 basic blocks, 50/101/152 bottlenecks, stride in
  the 3x3 conv as in torchvision "v1.5"), widths 64-128-256-512.
- CIFAR design (ResNet-20/32/44/56/110): 3x3 stem, three stages of
  (depth - 2) / 6 basic blocks, widths 16-32-64.
- Plain-N: the same layers with the shortcut addition removed (He et al.'s
  plain nets), so a ResNet/plain pair differs only in the skip connection.

Shortcuts when the shape changes: 'projection' (1x1 conv + norm, option B) or
'zero_pad' (stride-subsample and zero-pad channels, parameter-free option A).
"""

import jax
import jax.numpy as jnp
from flax import nnx

from abstract_cls.models import base, layers


class _Settings:
  """Options every conv/norm in one model shares."""

  def __init__(self, norm, dtype, conv_impl, namer, rngs):
    self.norm, self.dtype, self.conv_impl = norm, dtype, conv_impl
    self.namer, self.rngs = namer, rngs

  def conv(self, cin, cout, kernel, stride=1, padding=0, *, name=None):
    return layers.Conv(
      cin,
      cout,
      kernel,
      stride=stride,
      padding=padding,
      use_bias=self.norm == "none",
      name=name or self.namer.next("conv"),
      dtype=self.dtype,
      conv_impl=self.conv_impl,
      rngs=self.rngs,
    )

  def norm_layer(self, channels, *, zero_scale=False, kind="norm"):
    return layers.Norm(
      self.norm,
      channels,
      name=self.namer.same(kind),
      dtype=self.dtype,
      zero_scale=zero_scale,
      rngs=self.rngs,
    )


class Shortcut(nnx.Module):
  """Identity, projection (1x1 conv + norm) or zero-padding shortcut."""

  def __init__(self, cin, cout, stride, kind, s: _Settings):
    self.stride, self.pad = stride, cout - cin
    self.identity = cin == cout and stride == 1
    if kind not in ("projection", "zero_pad"):
      raise ValueError(f"shortcut must be 'projection' or 'zero_pad', got {kind!r}")
    self.projection = kind == "projection" and not self.identity
    if self.projection:
      self.conv = s.conv(cin, cout, 1, stride, name=s.namer.same("shortcut"))
      self.norm = s.norm_layer(cout, kind="shortcut_norm")
    elif not self.identity and cout < cin:
      raise ValueError("zero_pad shortcut cannot reduce channels")

  def __call__(self, x):
    if self.identity:
      return x
    if self.projection:
      return self.norm(self.conv(x))
    x = x[:, :: self.stride, :: self.stride, :]
    return jnp.pad(x, [(0, 0), (0, 0), (0, 0), (0, self.pad)])


class _Block(nnx.Module):
  """relu(branch(x) + shortcut(x)); a plain net's block has no shortcut."""

  def _shortcut(self, cin, cout, stride, residual, kind, s: _Settings):
    # Built after the branch, so its name sits at the branch's last depth.
    self.shortcut = Shortcut(cin, cout, stride, kind, s) if residual else nnx.data(None)

  def branch(self, x):
    raise NotImplementedError

  def __call__(self, x):
    y = self.branch(x)
    if self.shortcut is not None:
      y = y + self.shortcut(x)
    return jax.nn.relu(y)


class BasicBlock(_Block):
  expansion = 1

  def __init__(self, cin, width, stride, *, residual, shortcut, zero_init_residual, s: _Settings):
    self.conv1 = s.conv(cin, width, 3, stride, 1)
    self.norm1 = s.norm_layer(width)
    self.conv2 = s.conv(width, width, 3, 1, 1)
    self.norm2 = s.norm_layer(width, zero_scale=zero_init_residual)
    self._shortcut(cin, width, stride, residual, shortcut, s)

  def branch(self, x):
    y = jax.nn.relu(self.norm1(self.conv1(x)))
    return self.norm2(self.conv2(y))


class Bottleneck(_Block):
  expansion = 4

  def __init__(self, cin, width, stride, *, residual, shortcut, zero_init_residual, s: _Settings):
    cout = width * self.expansion
    self.conv1 = s.conv(cin, width, 1)
    self.norm1 = s.norm_layer(width)
    self.conv2 = s.conv(width, width, 3, stride, 1)
    self.norm2 = s.norm_layer(width)
    self.conv3 = s.conv(width, cout, 1)
    self.norm3 = s.norm_layer(cout, zero_scale=zero_init_residual)
    self._shortcut(cin, cout, stride, residual, shortcut, s)

  def branch(self, x):
    y = jax.nn.relu(self.norm1(self.conv1(x)))
    y = jax.nn.relu(self.norm2(self.conv2(y)))
    return self.norm3(self.conv3(y))


class ResNet(base.Classifier):
  """Residual or plain network; see the module docstring."""

  def __init__(
    self,
    *,
    name,
    block,
    stage_sizes,
    stage_widths,
    residual,
    num_classes,
    rngs,
    in_channels=3,
    input_size=224,
    stem="imagenet",
    norm="batch",
    width=1.0,
    zero_init_residual=False,
    shortcut="projection",
    dropout=0.0,
    dtype="float32",
    conv_impl="auto",
  ):
    if zero_init_residual and (not residual or norm == "none"):
      raise ValueError(
        f"{name}: zero_init_residual needs shortcuts and a norm with a scale "
        "(a plain net or norm=none would output zeros)"
      )
    self.name, self.input_size = name, input_size
    self.in_channels, self.num_classes = in_channels, num_classes
    self.stem_kind, self.conv_impl = stem, conv_impl
    namer = layers.LayerNamer()
    s = _Settings(norm, layers.compute_dtype(dtype), conv_impl, namer, rngs)
    block = {"basic": BasicBlock, "bottleneck": Bottleneck}[block]

    ch = layers.scaled(stage_widths[0], width)
    if stem == "imagenet":
      self.stem_conv = s.conv(in_channels, ch, 7, 2, 3)
    else:
      self.stem_conv = s.conv(in_channels, ch, 3, 1, 1)
    self.stem_norm = s.norm_layer(ch)
    self.stem_pool_name = namer.same("pool")

    blocks = []
    for stage, (n_blocks, w) in enumerate(zip(stage_sizes, stage_widths)):
      w = layers.scaled(w, width)
      for i in range(n_blocks):
        stride = 2 if stage > 0 and i == 0 else 1
        blocks.append(
          block(
            ch,
            w,
            stride,
            residual=residual,
            shortcut=shortcut,
            zero_init_residual=zero_init_residual,
            s=s,
          )
        )
        ch = w * block.expansion
    self.blocks = nnx.List(blocks)
    self.feature_channels = ch
    self.gap_name = namer.same("pool")
    self.head_dropout = layers.Dropout(dropout, rngs=rngs)
    self.out = layers.Dense(ch, num_classes, name=namer.next("fc"), dtype=s.dtype, rngs=rngs)

  def features(self, x):
    x = jax.nn.relu(self.stem_norm(self.stem_conv(x)))
    if self.stem_kind == "imagenet":
      x = layers.max_pool(x, 3, 2, 1, name=self.stem_pool_name, conv_impl=self.conv_impl)
    for block in self.blocks:
      x = block(x)
    return x

  def penultimate(self, fmap):
    return layers.global_avg_pool(fmap, name=self.gap_name)


_IMAGENET = {
  18: ("basic", (2, 2, 2, 2)),
  34: ("basic", (3, 4, 6, 3)),
  50: ("bottleneck", (3, 4, 6, 3)),
  101: ("bottleneck", (3, 4, 23, 3)),
  152: ("bottleneck", (3, 8, 36, 3)),
}
IMAGENET_DEPTHS = tuple(_IMAGENET)
CIFAR_DEPTHS = (20, 32, 44, 56, 110)
OPTIONS = (
  "in_channels",
  "input_size",
  "stem",
  "norm",
  "width",
  "zero_init_residual",
  "shortcut",
  "dropout",
  "dtype",
  "conv_impl",
)


def imagenet_resnet(depth: int, residual: bool, **kwargs) -> ResNet:
  block, sizes = _IMAGENET[depth]
  prefix = "resnet" if residual else "plain"
  return ResNet(
    name=f"{prefix}{depth}",
    block=block,
    stage_sizes=sizes,
    stage_widths=(64, 128, 256, 512),
    residual=residual,
    **kwargs,
  )


def cifar_resnet(depth: int, residual: bool, **kwargs) -> ResNet:
  """CIFAR ResNet: option-A shortcuts and 32 px by default, as He et al."""
  prefix = "resnet" if residual else "plain"
  kwargs.setdefault("stem", "small")  # the only stem the registry allows here
  kwargs.setdefault("shortcut", "zero_pad")
  kwargs.setdefault("input_size", 32)
  n = (depth - 2) // 6
  return ResNet(
    name=f"{prefix}{depth}",
    block="basic",
    stage_sizes=(n, n, n),
    stage_widths=(16, 32, 64),
    residual=residual,
    **kwargs,
  )
