"""LeNet-5, AlexNet and VGG: the plain stacks that came before ResNet.

- LeNet-5 (LeCun et al. 1998): conv5(6)-pool-conv5(16)-pool-FC120-FC84-FC.
  Modern adaptation: ReLU and 2x2 max-pool instead of tanh and trainable
  subsampling (the subsampling coefficients are not counted in 61,706).
- AlexNet (Krizhevsky et al. 2012), the single-tower 64-192-384-256-256 variant
  (torchvision): 5 convs + 3 FC with dropout 0.5 before the two hidden FCs.
  stem='small' swaps the 11x11/4 conv for 3x3/1 so 32-64 px inputs keep a map.
- VGG-11/13/16/19 (Simonyan & Zisserman 2015), optional batch norm;
  FC-4096-4096 head (torchvision layout) or, with stem='small', the CIFAR head
  (global average pool + one FC).
The FC input size follows from input_size (no adaptive pooling), so the
reference configurations (224 px) reproduce the published parameter counts.
"""

import jax
from flax import nnx

from abstract_cls.models import base, layers


def _check_stem(name, stem):
  if stem not in ("imagenet", "small"):
    raise ValueError(f"{name}: stem must be 'imagenet' or 'small', got {stem!r}")


class _ConvStack(base.Classifier):
  """Sequence of (conv + norm + relu) and max-pool steps."""

  def _build_trunk(self, plan, in_ch, size, *, norm, dtype, conv_impl, namer, rngs):
    """plan: list of ('conv', out, kernel, stride, pad) / ('pool', k, s, p).

    Returns (channels, spatial size) of the map after the plan.
    """
    convs, norms, steps = [], [], []
    ch = in_ch
    for step in plan:
      if step[0] == "conv":
        _, out, k, st, p = step
        convs.append(
          layers.Conv(
            ch,
            out,
            k,
            stride=st,
            padding=p,
            use_bias=True,
            name=namer.next("conv"),
            dtype=dtype,
            conv_impl=conv_impl,
            rngs=rngs,
          )
        )
        norms.append(layers.Norm(norm, out, name=namer.same("norm"), dtype=dtype, rngs=rngs))
        steps.append(("conv", len(convs) - 1))
        ch, size = out, layers.output_size(size, k, st, p)
      else:
        _, k, st, p = step
        steps.append(("pool", (k, st, p, namer.same("pool"))))
        size = layers.output_size(size, k, st, p)
      if size < 1:
        raise ValueError(f"{self.name}: input_size too small, the map vanishes at step {step}")
    self.convs, self.norms = nnx.List(convs), nnx.List(norms)
    # The last pool(s) after the last conv belong to the head, so that
    # features() ends at the last conv's activation (what Grad-CAM needs).
    last_conv = max(i for i, s in enumerate(steps) if s[0] == "conv")
    self.trunk_steps = tuple(steps[: last_conv + 1])
    self.head_pools = tuple(s[1] for s in steps[last_conv + 1 :])
    return ch, size

  def features(self, x):
    for kind, arg in self.trunk_steps:
      if kind == "conv":
        x = jax.nn.relu(self.norms[arg](self.convs[arg](x)))
      else:
        x = self._pool(x, arg)
    return x

  def _pool(self, x, arg):
    k, st, p, name = arg
    return layers.max_pool(x, k, st, p, name=name, conv_impl=self.conv_impl)

  def _pooled(self, fmap):
    for arg in self.head_pools:
      fmap = self._pool(fmap, arg)
    return fmap


class _FCHead(nnx.Module):
  """[dropout] FC relu [dropout] FC relu ... ; dropout placement per model."""

  def __init__(self, sizes, *, dropout, dropout_first, namer, dtype, rngs):
    self.fcs = nnx.List(
      [
        layers.Dense(a, b, name=namer.next("fc"), dtype=dtype, rngs=rngs)
        for a, b in zip(sizes[:-1], sizes[1:])
      ]
    )
    self.drops = nnx.List([layers.Dropout(dropout, rngs=rngs) for _ in self.fcs])
    self.dropout_first = dropout_first

  def __call__(self, x):
    for fc, drop in zip(self.fcs, self.drops):
      if self.dropout_first:
        x = drop(x)
      x = jax.nn.relu(fc(x))
      if not self.dropout_first:
        x = drop(x)
    return x


class LeNet5(_ConvStack):
  OPTIONS = ("in_channels", "input_size", "width", "dropout", "dtype", "conv_impl", "norm")

  def __init__(
    self,
    *,
    num_classes,
    rngs,
    in_channels=1,
    input_size=32,
    width=1.0,
    dropout=0.0,
    dtype="float32",
    conv_impl="auto",
    norm="none",
  ):
    self.name, self.input_size = "lenet5", input_size
    self.in_channels, self.num_classes = in_channels, num_classes
    self.conv_impl = conv_impl
    dt = layers.compute_dtype(dtype)
    namer = layers.LayerNamer()
    c1, c2 = layers.scaled(6, width), layers.scaled(16, width)
    plan = [("conv", c1, 5, 1, 0), ("pool", 2, 2, 0), ("conv", c2, 5, 1, 0), ("pool", 2, 2, 0)]
    ch, size = self._build_trunk(
      plan,
      in_channels,
      input_size,
      norm=norm,
      dtype=dt,
      conv_impl=conv_impl,
      namer=namer,
      rngs=rngs,
    )
    h1, h2 = layers.scaled(120, width), layers.scaled(84, width)
    self.hidden = _FCHead(
      (ch * size * size, h1, h2),
      dropout=dropout,
      dropout_first=True,
      namer=namer,
      dtype=dt,
      rngs=rngs,
    )
    self.head_dropout = layers.Dropout(dropout, rngs=rngs)
    self.out = layers.Dense(h2, num_classes, name=namer.next("fc"), dtype=dt, rngs=rngs)

  def penultimate(self, fmap):
    x = self._pooled(fmap)
    return self.hidden(x.reshape(x.shape[0], -1))


class AlexNet(_ConvStack):
  OPTIONS = ("in_channels", "input_size", "stem", "width", "dropout", "dtype", "conv_impl", "norm")

  def __init__(
    self,
    *,
    num_classes,
    rngs,
    in_channels=3,
    input_size=224,
    stem="imagenet",
    width=1.0,
    dropout=0.5,
    dtype="float32",
    conv_impl="auto",
    norm="none",
  ):
    _check_stem("alexnet", stem)
    self.name, self.input_size = "alexnet", input_size
    self.in_channels, self.num_classes = in_channels, num_classes
    self.conv_impl = conv_impl
    dt = layers.compute_dtype(dtype)
    namer = layers.LayerNamer()
    c = [layers.scaled(n, width) for n in (64, 192, 384, 256, 256)]
    first = ("conv", c[0], 11, 4, 2) if stem == "imagenet" else ("conv", c[0], 3, 1, 1)
    plan = [
      first,
      ("pool", 3, 2, 0),
      ("conv", c[1], 5, 1, 2),
      ("pool", 3, 2, 0),
      ("conv", c[2], 3, 1, 1),
      ("conv", c[3], 3, 1, 1),
      ("conv", c[4], 3, 1, 1),
      ("pool", 3, 2, 0),
    ]
    ch, size = self._build_trunk(
      plan,
      in_channels,
      input_size,
      norm=norm,
      dtype=dt,
      conv_impl=conv_impl,
      namer=namer,
      rngs=rngs,
    )
    hidden = layers.scaled(4096, width)
    # torchvision: Dropout, FC, ReLU, Dropout, FC, ReLU, FC.
    self.hidden = _FCHead(
      (ch * size * size, hidden, hidden),
      dropout=dropout,
      dropout_first=True,
      namer=namer,
      dtype=dt,
      rngs=rngs,
    )
    self.head_dropout = layers.Dropout(0.0, rngs=rngs)
    self.out = layers.Dense(hidden, num_classes, name=namer.next("fc"), dtype=dt, rngs=rngs)

  def penultimate(self, fmap):
    x = self._pooled(fmap)
    return self.hidden(x.reshape(x.shape[0], -1))


VGG_PLANS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


class VGG(_ConvStack):
  OPTIONS = ("in_channels", "input_size", "stem", "norm", "width", "dropout", "dtype", "conv_impl")

  def __init__(
    self,
    *,
    depth,
    num_classes,
    rngs,
    in_channels=3,
    input_size=224,
    stem="imagenet",
    norm="none",
    width=1.0,
    dropout=0.5,
    dtype="float32",
    conv_impl="auto",
    name=None,
  ):
    _check_stem(name, stem)
    self.name, self.input_size = name, input_size
    self.in_channels, self.num_classes = in_channels, num_classes
    self.conv_impl, self.compact_head = conv_impl, stem == "small"
    dt = layers.compute_dtype(dtype)
    namer = layers.LayerNamer()
    plan = []
    for n_convs, ch in zip(VGG_PLANS[depth], (64, 128, 256, 512, 512)):
      plan += [("conv", layers.scaled(ch, width), 3, 1, 1)] * n_convs
      plan.append(("pool", 2, 2, 0))
    ch, size = self._build_trunk(
      plan,
      in_channels,
      input_size,
      norm=norm,
      dtype=dt,
      conv_impl=conv_impl,
      namer=namer,
      rngs=rngs,
    )
    if self.compact_head:
      self.gap_name = namer.same("pool")
      self.hidden = nnx.data(None)
      dim = ch
    else:
      dim = layers.scaled(4096, width)
      # torchvision: FC, ReLU, Dropout, FC, ReLU, Dropout, FC.
      self.hidden = _FCHead(
        (ch * size * size, dim, dim),
        dropout=0.0,
        dropout_first=False,
        namer=namer,
        dtype=dt,
        rngs=rngs,
      )
      self.hidden_dropout = layers.Dropout(dropout, rngs=rngs)
    self.head_dropout = layers.Dropout(dropout, rngs=rngs)
    self.out = layers.Dense(dim, num_classes, name=namer.next("fc"), dtype=dt, rngs=rngs)

  def penultimate(self, fmap):
    if self.compact_head:
      return layers.global_avg_pool(fmap, name=self.gap_name)
    x = self._pooled(fmap)
    x = x.reshape(x.shape[0], -1)
    # Dropout sits between the two hidden FCs; the one after the second FC is
    # head_dropout, so embed() returns the second FC's activation.
    fc6, fc7 = self.hidden.fcs
    return jax.nn.relu(fc7(self.hidden_dropout(jax.nn.relu(fc6(x)))))
