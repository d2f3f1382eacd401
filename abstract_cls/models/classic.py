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
Layers are built in depth order, so their names (layers.LayerNamer) sort by depth;
the pool after a model's last conv belongs to the head, so features() ends at the
last conv's activation (what Grad-CAM needs).
"""

import jax
from flax import nnx

from abstract_cls.models import base, layers


def _next_size(model, size, kernel, stride, padding, layer):
  """The map size after one conv or pool; an error if the map vanishes there."""
  size = layers.output_size(size, kernel, stride, padding)
  if size < 1:
    raise ValueError(f"{model}: input_size too small, the map vanishes at {layer}")
  return size


class _Builder:
  """Conv + norm pairs and dense layers that share one model's settings and namer."""

  def __init__(self, *, norm, dtype, conv_impl, rngs):
    self.norm, self.dtype = norm, layers.compute_dtype(dtype)
    self.conv_impl, self.rngs = conv_impl, rngs
    self.namer = layers.LayerNamer()

  def conv_norm(self, cin, cout, kernel, stride=1, padding=0):
    conv = layers.Conv(
      cin,
      cout,
      kernel,
      stride=stride,
      padding=padding,
      use_bias=True,
      name=self.namer.next("conv"),
      dtype=self.dtype,
      conv_impl=self.conv_impl,
      rngs=self.rngs,
    )
    norm = layers.Norm(
      self.norm, cout, name=self.namer.same("norm"), dtype=self.dtype, rngs=self.rngs
    )
    return conv, norm

  def dense(self, in_features, out_features):
    return layers.Dense(
      in_features, out_features, name=self.namer.next("fc"), dtype=self.dtype, rngs=self.rngs
    )


class _PlainStack(base.Classifier):
  """What the models in this file share: their attributes, builder and forward pieces."""

  conv_impl: str

  def _start(
    self,
    name,
    num_classes,
    in_channels,
    input_size,
    rngs,
    *,
    norm,
    dtype="float32",
    conv_impl="auto",
  ) -> _Builder:
    """Sets the attributes every Classifier has; returns this model's layer builder."""
    self.name, self.num_classes = name, num_classes
    self.in_channels, self.input_size = in_channels, input_size
    self.conv_impl = conv_impl
    return _Builder(norm=norm, dtype=dtype, conv_impl=conv_impl, rngs=rngs)

  def _conv(self, conv, norm, x):
    return jax.nn.relu(norm(conv(x)))

  def _pool(self, x, kernel, stride, name):
    return layers.max_pool(x, kernel, stride, 0, name=name, conv_impl=self.conv_impl)

  def _dropout_fc_fc(self, fmap):
    """Dropout, FC, ReLU, dropout, FC, ReLU on the flattened map (torchvision's AlexNet)."""
    x = fmap.reshape(fmap.shape[0], -1)
    x = jax.nn.relu(self.fc1(self.fc1_dropout(x)))
    return jax.nn.relu(self.fc2(self.fc2_dropout(x)))


class LeNet5(_PlainStack):
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
    norm="none",
    **settings,  # dtype, conv_impl
  ):
    b = self._start("lenet5", num_classes, in_channels, input_size, rngs, norm=norm, **settings)
    c1, c2 = layers.scaled(6, width), layers.scaled(16, width)
    h1, h2 = layers.scaled(120, width), layers.scaled(84, width)

    self.conv1, self.norm1 = b.conv_norm(in_channels, c1, 5)
    self.pool1 = b.namer.same("pool")
    size = _next_size(self.name, input_size, 5, 1, 0, "conv1")
    size = _next_size(self.name, size, 2, 2, 0, "pool1")
    self.conv2, self.norm2 = b.conv_norm(c1, c2, 5)
    self.pool2 = b.namer.same("pool")
    size = _next_size(self.name, size, 5, 1, 0, "conv2")
    size = _next_size(self.name, size, 2, 2, 0, "pool2")

    self.fc1 = b.dense(c2 * size * size, h1)
    self.fc2 = b.dense(h1, h2)
    self.fc1_dropout = layers.Dropout(dropout, rngs=rngs)
    self.fc2_dropout = layers.Dropout(dropout, rngs=rngs)
    self.head_dropout = layers.Dropout(dropout, rngs=rngs)
    self.out = b.dense(h2, num_classes)

  def features(self, x):
    x = self._pool(self._conv(self.conv1, self.norm1, x), 2, 2, self.pool1)
    return self._conv(self.conv2, self.norm2, x)

  def penultimate(self, fmap):
    return self._dropout_fc_fc(self._pool(fmap, 2, 2, self.pool2))


class AlexNet(_PlainStack):
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
    norm="none",
    **settings,  # dtype, conv_impl
  ):
    b = self._start("alexnet", num_classes, in_channels, input_size, rngs, norm=norm, **settings)
    c1, c2, c3, c4, c5 = (layers.scaled(n, width) for n in (64, 192, 384, 256, 256))
    k1, s1, p1 = (11, 4, 2) if stem == "imagenet" else (3, 1, 1)

    self.conv1, self.norm1 = b.conv_norm(in_channels, c1, k1, s1, p1)
    self.pool1 = b.namer.same("pool")
    size = _next_size(self.name, input_size, k1, s1, p1, "conv1")
    size = _next_size(self.name, size, 3, 2, 0, "pool1")
    self.conv2, self.norm2 = b.conv_norm(c1, c2, 5, 1, 2)
    self.pool2 = b.namer.same("pool")
    size = _next_size(self.name, size, 3, 2, 0, "pool2")
    self.conv3, self.norm3 = b.conv_norm(c2, c3, 3, 1, 1)
    self.conv4, self.norm4 = b.conv_norm(c3, c4, 3, 1, 1)
    self.conv5, self.norm5 = b.conv_norm(c4, c5, 3, 1, 1)
    self.pool5 = b.namer.same("pool")
    size = _next_size(self.name, size, 3, 2, 0, "pool5")

    hidden = layers.scaled(4096, width)
    self.fc1 = b.dense(c5 * size * size, hidden)
    self.fc2 = b.dense(hidden, hidden)
    self.fc1_dropout = layers.Dropout(dropout, rngs=rngs)
    self.fc2_dropout = layers.Dropout(dropout, rngs=rngs)
    self.head_dropout = layers.Dropout(0.0, rngs=rngs)
    self.out = b.dense(hidden, num_classes)

  def features(self, x):
    x = self._pool(self._conv(self.conv1, self.norm1, x), 3, 2, self.pool1)
    x = self._pool(self._conv(self.conv2, self.norm2, x), 3, 2, self.pool2)
    x = self._conv(self.conv3, self.norm3, x)
    x = self._conv(self.conv4, self.norm4, x)
    return self._conv(self.conv5, self.norm5, x)

  def penultimate(self, fmap):
    return self._dropout_fc_fc(self._pool(fmap, 3, 2, self.pool5))


# Convs per stage (widths 64-128-256-512-512, a 2x2/2 max-pool after each stage).
VGG_STAGES = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


class VGG(_PlainStack):
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
    name=None,
    **settings,  # dtype, conv_impl
  ):
    b = self._start(name, num_classes, in_channels, input_size, rngs, norm=norm, **settings)
    self.compact_head = stem == "small"

    # One list of conv + norm pairs; a stage ends where a pool follows.
    convs, norms, pool_after, pool_names = [], [], [], []
    ch, size = in_channels, input_size
    for stage, (n_convs, stage_width) in enumerate(
      zip(VGG_STAGES[depth], (64, 128, 256, 512, 512))
    ):
      out = layers.scaled(stage_width, width)
      for _ in range(n_convs):
        conv, norm_layer = b.conv_norm(ch, out, 3, 1, 1)
        convs.append(conv)
        norms.append(norm_layer)
        ch = out
      pool_after.append(len(convs) - 1)
      pool_names.append(b.namer.same("pool"))
      size = _next_size(name, size, 2, 2, 0, f"the pool of stage {stage + 1}")
    self.convs, self.norms = nnx.List(convs), nnx.List(norms)
    self.pool_after, self.pool_names = tuple(pool_after), tuple(pool_names)

    if self.compact_head:
      self.gap_name = b.namer.same("pool")
      dim = ch
    else:
      dim = layers.scaled(4096, width)
      # torchvision: FC, ReLU, Dropout, FC, ReLU, Dropout, FC; the last dropout is
      # head_dropout, so embed() returns the second FC's activation.
      self.fc1 = b.dense(ch * size * size, dim)
      self.fc2 = b.dense(dim, dim)
      self.fc1_dropout = layers.Dropout(dropout, rngs=rngs)
    self.head_dropout = layers.Dropout(dropout, rngs=rngs)
    self.out = b.dense(dim, num_classes)

  def features(self, x):
    last = len(self.convs) - 1
    pools = dict(zip(self.pool_after, self.pool_names))
    for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
      x = self._conv(conv, norm, x)
      if i in pools and i != last:  # the pool after the last conv belongs to the head
        x = self._pool(x, 2, 2, pools[i])
    return x

  def penultimate(self, fmap):
    if self.compact_head:
      return layers.global_avg_pool(fmap, name=self.gap_name)
    x = self._pool(fmap, 2, 2, self.pool_names[-1])
    x = x.reshape(x.shape[0], -1)
    x = self.fc1_dropout(jax.nn.relu(self.fc1(x)))
    return jax.nn.relu(self.fc2(x))
