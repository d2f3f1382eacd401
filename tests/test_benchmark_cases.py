"""The CPU benchmark's model line builds the same networks as its PyTorch peers.

benchmarks/train_step.py --suite=cpu_models compares each model with a PyTorch model of the
same architecture; a ratio is only meaningful if the project's options really give that
network. Checked abstractly (eval_shape: no weights are allocated).
"""

import importlib.util
import pathlib

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from abstract_cls.models import get_model

_SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "train_step.py"
_spec = importlib.util.spec_from_file_location("train_step_benchmark", _SCRIPT)
train_step_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_step_benchmark)

# The PyTorch peers' parameter counts at 20 classes: peer_torch._lenet5 by its layer
# sizes, torchvision's alexnet / resnet18 / resnet50 from the published 1000-class counts
# with the last layer resized.
TORCH_PEER_PARAMS = {
  "lenet5": (3 * 6 * 25 + 6)
  + (6 * 16 * 25 + 16)
  + (400 * 120 + 120)
  + (120 * 84 + 84)
  + (84 * 20 + 20),
  "alexnet": 61_100_840 - 4096 * 980 - 980,
  "resnet18": 11_689_512 - 512 * 980 - 980,
  "resnet50": 25_557_032 - 2048 * 980 - 980,
}


@pytest.mark.parametrize("model,size,batch", train_step_benchmark.CPU_MODEL_CASES)
def test_cpu_model_cases_match_the_torch_peers(model, size, batch):
  del batch
  options = train_step_benchmark._model_options(model, size, "float32", "auto")
  abstract = nnx.eval_shape(lambda: get_model(model, num_classes=20, rngs=nnx.Rngs(0), **options))
  graphdef, state = nnx.split(abstract)
  params = sum(x.size for x in jax.tree.leaves(nnx.state(abstract, nnx.Param)))
  assert params == TORCH_PEER_PARAMS[model]
  x = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
  logits = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state, x)
  assert logits.shape == (2, 20)


def test_cifar_resnets_get_their_own_stem():
  """The benchmark gives the ImageNet stem only to models that have one (resnet20 has not)."""
  options = train_step_benchmark._model_options("resnet20", 32, "float32", "auto")
  assert "stem" not in options
  get_model("resnet20", num_classes=20, rngs=nnx.Rngs(0), **options)
  assert (
    train_step_benchmark._model_options("resnet18", 64, "float32", "auto")["stem"] == "imagenet"
  )
