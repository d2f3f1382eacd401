"""Shared interface of every model (docs/DESIGN.md, the model interface).

A model is split into a convolutional trunk (``features``) and a head
(``penultimate`` + optional dropout + output layer), so that
``model(x) == model.classify(model.features(x))`` holds by construction.
"""

import jax
import jax.numpy as jnp
from flax import nnx

from abstract_cls.models import layers


class Classifier(nnx.Module):
  """Base class; subclasses define features() and penultimate()."""

  # Set by subclasses in __init__.
  name: str
  input_size: int
  in_channels: int
  num_classes: int

  def features(self, x):
    """Last conv feature map [B, h, w, C] (after its activation)."""
    raise NotImplementedError

  def penultimate(self, fmap):
    """Head up to (not including) the output layer: [B, D]."""
    raise NotImplementedError

  def classify(self, fmap):
    """Logits (float32) from a feature map returned by features()."""
    return self.out(self.head_dropout(self.penultimate(fmap))).astype(jnp.float32)

  def embed(self, x):
    """Penultimate vector [B, D] (the input of the output layer)."""
    return self.penultimate(self.features(x)).astype(jnp.float32)

  def __call__(self, x):
    return self.classify(self.features(x))

  def trace(self, x=None):
    """Conv and pool layers in depth order with their shapes.

    ``x`` may be an array or a jax.ShapeDtypeStruct; by default a single
    image at the model's default input size. Nothing is computed (eval_shape)
    and the model's state is left untouched.
    """
    if x is None:
      x = jax.ShapeDtypeStruct((1, self.input_size, self.input_size, self.in_channels), jnp.float32)
    graphdef, state = nnx.split(self)

    def forward(state, x):
      return nnx.merge(graphdef, state)(x)

    with layers.recording() as log:
      jax.eval_shape(forward, state, x)
    return list(log)


def count_params(model: nnx.Module) -> int:
  """Trainable parameters (nnx.Param), as torchvision counts them."""
  return sum(int(p.size) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
