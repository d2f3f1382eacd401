"""Registry-wide model tests, kept small for a 2-core CPU.

Shapes and parameter counts of big configurations use eval_shape (nothing is
computed); numerical behaviour runs on tiny widths and 16-32 px inputs. The
deepest nets (ResNet/plain 101/152, CIFAR 110) only differ from their shallower
siblings in block counts: numerical runs cover one member per family and
block type by default; the other members' numerical runs are marked slow
(`pytest -m slow`). Shapes and the trace rule are checked for every model.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from abstract_cls.models import count_params, get_model, layers, list_models, registry

CONTRACT_NAMES = (
  ["lenet5", "alexnet"]
  + [f"vgg{d}{s}" for d in (11, 13, 16, 19) for s in ("", "_bn")]
  + [f"{p}{d}" for p in ("resnet", "plain") for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110)]
)
# One member per family / block type runs numerically in the default run.
FAST_NUMERICS = {
  "lenet5",
  "alexnet",
  "vgg11",
  "vgg11_bn",
  "resnet18",
  "plain18",
  "resnet50",
  "resnet20",
  "plain20",
}
NUM_CLASSES = 5


def tiny_options(name):
  """Small widths/inputs that still exercise every layer of the family."""
  if name == "lenet5":
    return dict(input_size=32), 32, 1
  if name == "alexnet":
    return dict(stem="small", width=0.125, input_size=32), 32, 3
  if name.startswith("vgg"):
    return dict(stem="small", width=0.125, input_size=32), 32, 3
  depth = int(name.removeprefix("resnet").removeprefix("plain"))
  if depth in (20, 32, 44, 56, 110):
    return dict(width=0.5, input_size=16), 16, 3
  return dict(stem="small", width=0.125, input_size=16), 16, 3


def build(name, seed=0, **extra):
  options, size, channels = tiny_options(name)
  options.update(extra)
  model = get_model(name, num_classes=NUM_CLASSES, rngs=nnx.Rngs(seed), **options)
  x = jax.random.normal(jax.random.key(1), (2, size, size, channels))
  return model, x


def has_batch_norm(model):
  return bool(jax.tree.leaves(nnx.state(model, nnx.BatchStat)))


def batch_stats(model):
  return [np.asarray(v) for v in jax.tree.leaves(nnx.state(model, nnx.BatchStat))]


@nnx.jit
def trunk_once_head_twice(model, x):
  """One compiled program per mode: dropout lives in the heads, so two head
  passes over one feature map show whether dropout is active."""
  fmap = model.features(x)
  return model.classify(fmap), model.classify(fmap)


def test_registry_has_contract_names():
  assert set(CONTRACT_NAMES) <= set(list_models())


def test_clear_errors():
  with pytest.raises(ValueError, match="unknown model"):
    get_model("resnet19")
  with pytest.raises(ValueError, match="does not support"):
    get_model("lenet5", shortcut="zero_pad")
  with pytest.raises(ValueError, match="norm must be one of"):
    get_model("resnet20", norm="layer")
  with pytest.raises(ValueError, match="zero_init_residual"):
    get_model("plain20", zero_init_residual=True)
  with pytest.raises(ValueError, match="too small"):
    get_model("vgg11", input_size=16)


def test_stem_is_checked_once_against_each_family():
  """The registry knows which stems a family has; a wrong one fails before anything is built."""
  with pytest.raises(ValueError, match=r"resnet20'?: stem must be one of \('small',\)"):
    get_model("resnet20", stem="imagenet")
  with pytest.raises(ValueError, match="stem must be one of"):
    get_model("vgg11", stem="tiny")
  with pytest.raises(ValueError, match="does not support"):
    get_model("lenet5", stem="small")


def test_stems_lists_what_each_family_accepts():
  assert registry.stems("resnet20") == ("small",)
  assert set(registry.stems("resnet18")) == {"imagenet", "small"}
  assert registry.stems("lenet5") == ()
  with pytest.raises(ValueError, match="unknown model"):
    registry.stems("resnet19")


DEEP = {"resnet101", "resnet152", "plain101", "plain152", "resnet110", "plain110"}


@pytest.mark.parametrize(
  "name", [pytest.param(n, marks=pytest.mark.slow) if n in DEEP else n for n in CONTRACT_NAMES]
)
def test_shapes_and_trace(name):
  """Output shapes and the O = (I - K + 2P)/S + 1 rule, abstractly (one
  eval_shape pass, the same one model.trace makes)."""
  model, x = build(name)
  x = jax.ShapeDtypeStruct((3,) + x.shape[1:], jnp.float32)
  graphdef, state = nnx.split(model)

  def run(state, x):
    m = nnx.merge(graphdef, state)
    fmap = m.features(x)
    return m.classify(fmap), fmap

  with layers.recording() as entries:
    logits, fmap = jax.eval_shape(run, state, x)
  assert logits.shape == (3, NUM_CLASSES)
  assert logits.dtype == jnp.float32
  assert fmap.ndim == 4 and fmap.shape[0] == 3
  assert entries and entries[0]["input_shape"] == x.shape
  names = [e["name"] for e in entries]
  assert names == sorted(names), "trace must be in depth order"
  for e in entries:
    assert e["kind"] in ("conv", "pool")
    for axis in (0, 1):
      expected = layers.output_size(
        e["input_shape"][1 + axis], e["kernel"][axis], e["stride"][axis], e["padding"][axis]
      )
      assert e["output_shape"][1 + axis] == expected, e
  assert fmap.shape == [e for e in entries if e["kind"] == "conv"][-1]["output_shape"]


def _behaviour(name):
  model, x = build(name, dropout=0.5)
  model.train()
  before = batch_stats(model)
  y1, y2 = trunk_once_head_twice(model, x)
  after = batch_stats(model)
  assert y1.shape == (2, NUM_CLASSES)
  assert np.isfinite(y1).all() and np.isfinite(y2).all()
  assert not np.allclose(y1, y2), "dropout must be active in train mode"
  if has_batch_norm(model):
    assert any(not np.allclose(a, b) for a, b in zip(before, after)), (
      "train mode must update batch statistics"
    )
  model.eval()
  e1, e2 = trunk_once_head_twice(model, x)
  assert np.isfinite(e1).all()
  np.testing.assert_array_equal(e1, e2)
  for a, b in zip(after, batch_stats(model)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
  "name",
  [n if n in FAST_NUMERICS else pytest.param(n, marks=pytest.mark.slow) for n in CONTRACT_NAMES],
)
def test_train_eval_behaviour(name):
  _behaviour(name)


REFERENCE_PARAMS = {
  "resnet18": 11_689_512,
  "resnet34": 21_797_672,
  "resnet50": 25_557_032,
  "resnet101": 44_549_160,
  "alexnet": 61_100_840,
  "vgg16": 138_357_544,
  "vgg16_bn": 138_365_992,
}


def abstract_count(name, **options):
  return count_params(nnx.eval_shape(lambda: get_model(name, rngs=nnx.Rngs(0), **options)))


@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_published_parameter_counts(name):
  assert abstract_count(name, num_classes=1000) == REFERENCE_PARAMS[name]


def test_small_published_parameter_counts():
  assert abstract_count("lenet5", num_classes=10) == 61_706
  r20 = abstract_count("resnet20", num_classes=10)
  r110 = abstract_count("resnet110", num_classes=10)
  assert 0.26e6 < r20 < 0.28e6
  assert 1.7e6 < r110 < 1.75e6
  # Plain-N with option-A shortcuts has exactly ResNet-N's parameters.
  assert abstract_count("plain20", num_classes=10) == r20
  assert abstract_count("plain18", num_classes=10, shortcut="zero_pad") == (
    abstract_count("resnet18", num_classes=10, shortcut="zero_pad")
  )
