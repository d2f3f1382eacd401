"""Model construction and the train state: a plain dict of arrays, replicated over the mesh.

    state = {'step': int32[], 'params': {...}, 'rest': {...}, 'opt_state': optax state,
             'average': {'params', 'rest'} (averaged weights and their batch statistics when
                        optimizer.ema_decay > 0 or optimizer.swa_start_epoch > 0, else {})}

'params' are the nnx.Param leaves as a pure dict; 'rest' is every other variable (batch-norm
statistics, dropout RNG state). The module structure lives in two static graph definitions,
one in train mode and one in eval mode, so no mode switch happens inside jit:
nnx.merge(graphs.train, params, rest) is the model.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from abstract_cls import models as models_lib
from abstract_cls import taxonomy
from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import optimizer as optimizer_lib
from abstract_cls.train.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Graphs:
  train: nnx.GraphDef
  eval: nnx.GraphDef


def build_model(model_config, seed: int) -> nnx.Module:
  known = models_lib.list_models()
  if model_config.name not in known:
    raise ConfigError(
      f"model.name={model_config.name!r} is not a known model; known: {', '.join(known)}"
    )
  options = model_config.options.to_dict() if "options" in model_config else {}
  # A traced seed (under jit) must be turned into a key first; nnx.Rngs(int) does the same.
  rngs = nnx.Rngs(seed) if isinstance(seed, int) else nnx.Rngs(jax.random.key(seed))
  return models_lib.get_model(
    model_config.name, num_classes=taxonomy.NUM_CLASSES, rngs=rngs, **options
  )


def split_model(model: nnx.Module):
  """-> (Graphs, params pure dict, rest pure dict); leaves the model in eval mode."""
  model.train()
  train_graph, params, rest = nnx.split(model, nnx.Param, ...)
  model.eval()
  eval_graph, _, _ = nnx.split(model, nnx.Param, ...)
  return Graphs(train_graph, eval_graph), nnx.to_pure_dict(params), nnx.to_pure_dict(rest)


def _init_fn(config, optimizer, graphs_out: list):
  def init(seed):
    model = build_model(config.model, seed)
    graphs, params, rest = split_model(model)
    graphs_out.append(graphs)
    return dict(
      step=jnp.zeros((), jnp.int32),
      params=params,
      rest=rest,
      opt_state=optimizer.init(params),
      average=average_template(config.optimizer, params, rest),
    )

  return init


def create_train_state(config, mesh, optimizer: optax.GradientTransformation):
  """Builds model and optimiser state under one jit on the local device, then replicates it.

  Every process computes the same initial values itself (same seed), so nothing is
  broadcast between hosts. The jit has no mesh in it, so its compiled form is cached once
  for every device count. Returns (Graphs, state).
  """
  graphs = []
  init = _init_fn(config, optimizer, graphs)
  # The seed is an argument, so runs differing only in seed share the compiled init.
  state = mesh_lib.replicate(jax.jit(init)(jnp.asarray(config.seed, jnp.int32)), mesh)
  return graphs[0], state


def abstract_train_state(config, mesh, optimizer):
  """(Graphs, state of ShapeDtypeStructs with replicated shardings) without computing anything."""
  graphs = []
  abstract = jax.eval_shape(
    _init_fn(config, optimizer, graphs), jax.ShapeDtypeStruct((), jnp.int32)
  )
  sharding = mesh_lib.replicated(mesh)
  abstract = jax.tree_util.tree_map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), abstract
  )
  return graphs[0], abstract


def average_template(opt_config, params, rest) -> dict:
  """The averaged copy kept beside the live variables ({} when no averaging is configured)."""
  return dict(params=params, rest=rest) if optimizer_lib.averaging(opt_config) else {}


def inference_variables(state) -> tuple[dict, dict]:
  """(params, rest) to evaluate with: the averaged weights with their own batch statistics
  when an average is kept, else the live ones."""
  average = state["average"]
  return (average["params"], average["rest"]) if average else (state["params"], state["rest"])
