"""Gradients of freshly initialised CIFAR nets on real images: per-layer size and input correlation.

Two probes of a plain or residual CIFAR net (abstract_cls.models.resnet.cifar_resnet) whose
kernels are redrawn by an experiments.initialisation scheme:
- `layer_gradient_rms`: for each weight layer in depth order, the RMS of dL/dW (cross-entropy
  on a batch of real images; batch norm in training mode, i.e. with batch statistics);
- `input_gradient_correlation`: the Pearson correlation of d logit / d input between
  neighbouring points on a line of inputs between two real images, as a function of the lag
  (Balduzzi et al. 2017's shattering measure). Batch norm uses the statistics of a fixed real
  batch (evaluation mode), so each input's gradient does not depend on its neighbours.
Every probe of one net structure shares one compiled program: params are arguments.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from experiments import initialisation


@dataclasses.dataclass(frozen=True)
class Net:
  arch: str  # 'plain' | 'resnet'
  depth: int  # 6n + 2
  norm: str  # 'batch' | 'none'

  @property
  def key(self) -> str:
    return f"{self.arch}{self.depth}_{self.norm}"


@dataclasses.dataclass
class Images:
  """Normalised float32 images [N, S, S, 3] and labels [N] the probes draw from."""

  images: np.ndarray
  labels: np.ndarray


def load_images(data_name: str, image_size: int, count: int, seed: int = 0) -> Images:
  """`count` training images of the named set, chosen at random by `seed`, normalised."""
  from abstract_cls.data import augment, pipeline  # pylint: disable=g-import-not-at-top
  from abstract_cls.data.config import data_config  # pylint: disable=g-import-not-at-top

  config = data_config()
  config.name, config.image_size = data_name, image_size
  if data_name == "synthetic":
    config.synthetic_num_examples = max(count, 64)
  arrays = pipeline.load_arrays(config, "train")
  if len(arrays) < count:
    raise ValueError(f"{data_name} train split has {len(arrays)} images, the probes need {count}")
  pick = np.random.default_rng(seed).choice(len(arrays), count, replace=False)
  images = np.asarray(augment.normalize(jnp.asarray(arrays.images[pick]) / 255.0))
  return Images(images, arrays.labels[pick].astype(np.int32))


class Probe:
  """One net structure, built once; params for any (scheme, seed) drawn by surgery."""

  def __init__(self, net: Net, image_size: int):
    from abstract_cls.models import resnet  # pylint: disable=g-import-not-at-top

    if (net.depth - 2) % 6:
      raise ValueError(f"CIFAR nets have depth 6n + 2; got {net.depth}")
    start = time.time()
    model = resnet.cifar_resnet(
      net.depth,
      net.arch == "resnet",
      num_classes=20,
      rngs=nnx.Rngs(0),
      norm=net.norm,
      input_size=image_size,
    )
    for _, module in nnx.iter_modules(model):
      if isinstance(module, nnx.BatchNorm):
        module.momentum = 0.0  # one training-mode call stores that batch's statistics
    self.net = net
    self.layers = _weight_layers(model)
    model.train()
    self._train_graph, params, rest = nnx.split(model, nnx.Param, ...)
    model.eval()
    self._eval_graph = nnx.split(model, nnx.Param, ...)[0]
    self._params, self._rest = nnx.to_pure_dict(params), nnx.to_pure_dict(rest)
    self._residual = net.arch == "resnet"
    self.build_s = time.time() - start
    self._reinit = {}

  def params(self, scheme: str, seed: int) -> dict:
    if scheme not in self._reinit:
      self._reinit[scheme] = jax.jit(
        lambda p, key, s=scheme: initialisation.reinitialised(p, s, key, self._residual)
      )
    return self._reinit[scheme](self._params, initialisation.surgery_key(seed))

  def layer_gradient_rms(self, params: dict, x: np.ndarray, y: np.ndarray) -> tuple:
    """(RMS of dL/dW per weight layer in depth order [L], loss) for one batch."""
    rms, loss = _layer_rms_fn(self._train_graph)(params, self._rest, x, y)
    flat = {tuple(str(k) for k in p): float(v) for p, v in _flatten(rms)}
    return np.array([flat[path] for _, path in self.layers]), float(loss)

  def input_gradient_correlation(
    self, params: dict, reference: np.ndarray, lines: Sequence[tuple[np.ndarray, ...]]
  ) -> np.ndarray:
    """Mean correlation of input gradients at lag 1..P-1 along each (a, b, label) line."""
    rest = self._rest
    if self.net.norm == "batch":
      rest = _batch_stats_fn(self._train_graph)(params, rest, reference)
    grad_fn = _input_grad_fn(self._eval_graph)
    out = []
    for a, b, label, points in lines:
      t = np.linspace(0.0, 1.0, points, dtype=np.float32)[:, None, None, None]
      x = a[None] + t * (b - a)[None]
      grads = np.asarray(grad_fn(params, rest, x, np.full(points, label, np.int32)))
      out.append(lag_correlation(grads.reshape(points, -1)))
    return np.mean(out, axis=0)


def lag_correlation(vectors: np.ndarray) -> np.ndarray:
  """c[k-1] = mean over i of the Pearson correlation of rows i and i + k, for k = 1..P-1."""
  centred = vectors - vectors.mean(axis=1, keepdims=True)
  norms = np.linalg.norm(centred, axis=1, keepdims=True)
  unit = np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 0)
  gram = unit @ unit.T
  return np.array([np.mean(np.diagonal(gram, offset=k)) for k in range(1, len(vectors))])


def _weight_layers(model) -> list[tuple[str, tuple]]:
  """[(layer name, param path)] of every conv / dense kernel, in depth order."""
  out = []
  for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
    if path[-1] == "kernel":
      out.append((var.get_metadata()["layer"], tuple(str(k) for k in path)))
  return sorted(out)


def _flatten(tree):
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    yield tuple(_key(k) for k in path), leaf


def _key(k):
  for attr in ("key", "idx", "name"):
    if hasattr(k, attr):
      return getattr(k, attr)
  return k


_COMPILED: dict = {}


def _cached(kind: str, graph, make):
  key = (kind, graph)
  if key not in _COMPILED:
    _COMPILED[key] = make()
  return _COMPILED[key]


def _cross_entropy(logits, labels):
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32))
  return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))


def scaled_rms(g):
  """RMS of `g`, scaled by its largest entry first: squares of gradients below ~1e-19 would
  flush to zero in float32 and report a gradient that exists as vanished."""
  scale = jnp.max(jnp.abs(g))
  safe = jnp.where(scale > 0, scale, 1.0)
  return scale * jnp.sqrt(jnp.mean(jnp.square(g / safe)))


def _layer_rms_fn(graph):
  def make():
    @jax.jit
    def fn(params, rest, x, y):
      def loss(p):
        return _cross_entropy(nnx.merge(graph, p, rest)(x), y)

      value, grads = jax.value_and_grad(loss)(params)
      return jax.tree_util.tree_map(scaled_rms, grads), value

    return fn

  return _cached("layer_rms", graph, make)


def _batch_stats_fn(graph):
  def make():
    @jax.jit
    def fn(params, rest, x):
      model = nnx.merge(graph, params, rest)
      model(x)
      return nnx.to_pure_dict(nnx.split(model, nnx.Param, ...)[2])

    return fn

  return _cached("batch_stats", graph, make)


def _input_grad_fn(graph):
  def make():
    @jax.jit
    def fn(params, rest, x, labels):
      def picked_logits(inputs):
        logits = nnx.merge(graph, params, rest)(inputs).astype(jnp.float32)
        return jnp.sum(jnp.take_along_axis(logits, labels[:, None], axis=1))

      return jax.grad(picked_logits)(x)

    return fn

  return _cached("input_grad", graph, make)
