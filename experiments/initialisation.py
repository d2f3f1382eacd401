"""Weight initialisation by parameter surgery: a built model's kernels replaced after construction.

Schemes (every conv and dense kernel; biases and norm parameters are left as built):
- 'he': N(0, 2 / fan_in) (He et al. 2015, the forward-pass form);
- 'glorot': N(0, 2 / (fan_in + fan_out)) (Glorot & Bengio 2010, normal form);
- 'naive': N(0, 0.01^2), the fixed-scale init He et al. 2015 found too small for deep nets;
- 'zero_branch': 'he', then the last conv of every residual branch set to zero, so each block
  starts as the identity;
- 'fixup': 'zero_branch', the other convs of every branch scaled by L^(-1/(2m-2)) (L branches,
  m convs each) and the classifier set to zero (Zhang et al. 2019, without the scalar
  multipliers and biases Fixup adds to the architecture).
'default' keeps the model's own initialisation. `with_scheme` applies a scheme to every model
the trainer builds, so the studies can train re-initialised models without a model change.
"""

from __future__ import annotations

import contextlib
import math

import jax
import jax.numpy as jnp
from flax import nnx

SCHEMES = ("default", "he", "glorot", "naive", "zero_branch", "fixup")
NAIVE_STD = 0.01
# Seeds the surgery's draws apart from the model's own (same run seed, other stream).
_SURGERY_STREAM = 7919


def _fans(shape) -> tuple[int, int]:
  *receptive, fan_in_channels, out_channels = shape
  field = math.prod(receptive)
  return field * fan_in_channels, field * out_channels


def _std(scheme: str, shape) -> float:
  fan_in, fan_out = _fans(shape)
  if scheme in ("he", "zero_branch", "fixup"):
    return math.sqrt(2.0 / fan_in)
  if scheme == "glorot":
    return math.sqrt(2.0 / (fan_in + fan_out))
  if scheme == "naive":
    return NAIVE_STD
  raise ValueError(f"unknown initialisation scheme {scheme!r}; known: {SCHEMES}")


def _branches(paths) -> dict[int, list[tuple]]:
  """Kernel paths of each residual block's branch, in order: ('blocks', i, 'conv1', 'kernel')."""
  out: dict[int, list[tuple]] = {}
  for path in paths:
    if (
      len(path) == 4
      and path[0] == "blocks"
      and str(path[2]).startswith("conv")
      and (path[3] == "kernel")
    ):
      out.setdefault(int(path[1]), []).append(path)
  return {i: sorted(p, key=lambda q: str(q[2])) for i, p in out.items()}


def reinitialised(params: dict, scheme: str, key, residual: bool = True) -> dict:
  """A copy of `params` (the model's nnx.Param pure dict) with every kernel redrawn by `scheme`.

  Traceable: works on concrete arrays and under jit (the trainer builds models inside jit).
  `residual` says whether the blocks have shortcuts ('zero_branch' / 'fixup' need them).
  """
  if scheme not in SCHEMES:
    raise ValueError(f"unknown initialisation scheme {scheme!r}; known: {SCHEMES}")
  if scheme == "default":
    return params
  flat = dict(jax.tree_util.tree_flatten_with_path(params)[0])
  paths = {tuple(_key(k) for k in path): path for path in flat}
  out = {}
  for i, (path, keypath) in enumerate(sorted(paths.items(), key=lambda kv: str(kv[0]))):
    value = flat[keypath]
    if path[-1] == "kernel":
      draw = jax.random.normal(jax.random.fold_in(key, i), value.shape, jnp.float32)
      value = (draw * _std(scheme, value.shape)).astype(value.dtype)
    out[path] = value
  if scheme in ("zero_branch", "fixup"):
    branches = _branches(out)
    if not residual or not branches:
      raise ValueError(
        f"initialisation {scheme!r} needs a residual net of basic blocks "
        "(params 'blocks'/<i>/'conv1'/'kernel', ...); this model has none"
      )
    depth = len(next(iter(branches.values())))
    for convs in branches.values():
      out[convs[-1]] = jnp.zeros_like(out[convs[-1]])
      if scheme == "fixup":
        scale = len(branches) ** (-1.0 / (2 * depth - 2))
        for path in convs[:-1]:
          out[path] = out[path] * scale
    if scheme == "fixup":
      for path in out:
        if path[0] == "out" and path[-1] == "kernel":
          out[path] = jnp.zeros_like(out[path])
  return _unflatten(out)


def _key(k):
  for attr in ("key", "idx", "name"):
    if hasattr(k, attr):
      return getattr(k, attr)
  return str(k)


def _unflatten(flat: dict[tuple, jax.Array]) -> dict:
  tree: dict = {}
  for path, value in flat.items():
    node = tree
    for part in path[:-1]:
      node = node.setdefault(part, {})
    node[path[-1]] = value
  return tree


def apply(model: nnx.Module, scheme: str, key) -> nnx.Module:
  """Re-initialises `model`'s kernels in place by `scheme`; returns the model."""
  if scheme == "default":
    return model
  state = nnx.state(model, nnx.Param)
  residual = getattr(model, "name", "").startswith("resnet")
  nnx.replace_by_pure_dict(
    state, reinitialised(nnx.to_pure_dict(state), scheme, key, residual=residual)
  )
  nnx.update(model, state)
  return model


def surgery_key(seed):
  """The key a scheme draws with for run seed `seed` (a Python int or a traced int32)."""
  return jax.random.fold_in(jax.random.key(seed), _SURGERY_STREAM)


@contextlib.contextmanager
def with_scheme(scheme: str):
  """While active, every model the trainer builds (train.state.build_model) is re-initialised.

  The trainer has no initialisation option; this wraps its model constructor for the length
  of one training call, so the studies train Fixup / zero-branch nets with the ordinary loop.
  """
  if scheme not in SCHEMES:
    raise ValueError(f"unknown initialisation scheme {scheme!r}; known: {SCHEMES}")
  if scheme == "default":
    yield
    return
  from abstract_cls.train import state as state_lib  # pylint: disable=g-import-not-at-top

  original = state_lib.build_model

  def build(model_config, seed):
    return apply(original(model_config, seed), scheme, surgery_key(seed))

  state_lib.build_model = build
  try:
    yield
  finally:
    state_lib.build_model = original
