"""Per-layer gradient norms in depth order (for vanishing-gradient plots)."""

import math

import jax
import jax.numpy as jnp
from flax import nnx


def layer_norms(grads_state, kinds=None) -> list[tuple[str, float]]:
  """[(layer_name, L2 norm of that layer's gradients)] sorted by depth.

  grads_state: an nnx.State of gradients (e.g. from nnx.grad or jax.grad over
  nnx.split's Param state). Every Param of these models carries its layer name
  ('layer_003_conv', 'layer_003_norm', 'layer_005_shortcut', 'layer_018_fc')
  as metadata, and the names sort by depth. kinds: optional collection of
  suffixes to keep, e.g. ('conv', 'fc') for weight layers only.
  A State without that metadata (e.g. a pure dict) falls back to one entry
  per module path, in path order.
  Works on concrete arrays; call it outside jit (it returns Python floats).
  """
  squares: dict[str, float] = {}
  for path, leaf in _flat(grads_state):
    layer = None
    if isinstance(leaf, nnx.Variable):
      layer = leaf.get_metadata().get("layer")
      value = leaf.get_value()
    else:
      value = leaf
    if layer is None:
      layer = "/".join(str(p) for p in path[:-1])
    if kinds is not None and layer.rsplit("_", 1)[-1] not in kinds:
      continue
    squares[layer] = squares.get(layer, 0.0) + float(
      jnp.sum(jnp.square(jnp.asarray(value, jnp.float32)))
    )
  return [(name, math.sqrt(sq)) for name, sq in sorted(squares.items())]


def _flat(grads_state):
  if isinstance(grads_state, nnx.State):
    return list(nnx.to_flat_state(grads_state))
  flat = jax.tree_util.tree_leaves_with_path(grads_state)
  return [(tuple(_key(k) for k in path), leaf) for path, leaf in flat]


def _key(k):
  for attr in ("key", "name", "idx"):
    if hasattr(k, attr):
      return getattr(k, attr)
  return str(k)
