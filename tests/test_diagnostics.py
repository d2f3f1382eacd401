"""Inspect on a tiny trained checkpoint, and the output-size rule on registered models.

The checkpoint comes from the trainer's own train_and_evaluate (lenet5, synthetic data,
a few steps), so the test exercises restore_for_inference, the eval input and metrics.jsonl
exactly as a user's run does.
"""

import json

import numpy as np
import pytest
from flax import nnx

from abstract_cls.diagnostics import feature_maps, output_size, run, saliency
from abstract_cls.models import get_model
from configs import lenet

# Small inputs keep every model cheap; each still has several strided / pooled stages.
MODELS = [
  ("lenet5", dict(in_channels=3, input_size=32)),
  ("alexnet", dict(input_size=64)),  # ImageNet stem: 11x11/4 conv, 3x3/2 pools
  ("vgg11", dict(input_size=32, stem="small")),
  ("resnet18", dict(input_size=64)),  # 7x7/2 stem, 3x3/2 max-pool, projection shortcuts
  ("resnet20", dict(input_size=32)),  # CIFAR ResNet, zero-pad shortcuts
]


@pytest.mark.parametrize("name, options", MODELS, ids=[m[0] for m in MODELS])
def test_output_size_rule_holds_for_every_conv_and_pool(name, options):
  # eval_shape: the trace's shapes are XLA's shapes of the real computation, no weights needed.
  model = nnx.eval_shape(lambda: get_model(name, **options))
  trace = model.trace()
  checks = output_size.check_trace(trace)
  kinds = {c.kind for c in checks}
  assert "conv" in kinds and "pool" in kinds, kinds
  assert len(checks) == sum(e["kind"] in ("conv", "pool") for e in trace)
  bad = [c for c in checks if not c.ok]
  assert not bad, output_size.markdown_table(bad)
  assert feature_maps.default_layers(trace), "no layer with a spatial map to show"


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory):
  from abstract_cls.train import loop  # pylint: disable=g-import-not-at-top

  config = lenet.get_config()
  config.data.name = "synthetic"
  config.data.synthetic_num_examples = 100  # 80 train / 20 validation
  config.train.batch_size = 32
  config.train.max_steps = 4
  config.train.log_every = 1
  config.train.layer_norms_every = 2
  config.train.eval_every_epochs = 1.0
  config.train.progress_bar = False
  config.train.num_devices = 1  # one device compiles fastest; sharding is the trainer's test
  config.eval.batch_size = 16
  workdir = tmp_path_factory.mktemp("lenet_run")
  loop.train_and_evaluate(config, str(workdir))
  return workdir


EXPECTED = (
  "filters",
  "feature_maps",
  "shape_profile",
  "saliency",
  "errors_by_class",
  "errors_by_domain",
  "confusion_by_domain",
  "embedding_pca",
  "embedding_tsne",
  "training_curves",
)


def test_inspect_writes_every_artefact(trained_workdir):
  options = run.inspect_config()
  options.batch_size = 16
  options.images_per_domain = 1
  summary = run.run_inspect(None, str(trained_workdir), options=options)
  out = trained_workdir / "inspect"
  assert summary["out_dir"] == str(out)
  assert sorted(summary["artefacts"]) == sorted(EXPECTED)
  index = (out / "index.md").read_text()
  for key in EXPECTED:
    path = out / summary["artefacts"][key]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    assert path.stat().st_size > 2000, path
    assert f"]({path.name})" in index, key
  assert summary["num_examples"] == 20
  # LeNet-5: conv5 -> pool2 -> conv5 -> pool2, all checked on the model's real outputs.
  checks = summary["layer_checks"]
  assert [c["kind"] for c in checks] == ["conv", "pool", "conv", "pool"]
  assert [tuple(c["actual_hw"]) for c in checks] == [(28, 28), (14, 14), (10, 10), (5, 5)]
  assert all(c["ok"] for c in checks)
  assert "all match" in index
  assert json.loads((out / "summary.json").read_text())["step"] == summary["step"]


def test_layer_outputs_match_trace_on_a_restored_model(trained_workdir):
  from abstract_cls.train import checkpointing  # pylint: disable=g-import-not-at-top

  model, _, _ = checkpointing.restore_for_inference(str(trained_workdir), step="latest")
  images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
  outputs = feature_maps.layer_outputs(model, images)
  trace = model.trace(images)
  assert [e["name"] for e, _ in outputs] == [e["name"] for e in trace]
  assert [y.shape for _, y in outputs] == [tuple(e["output_shape"]) for e in trace]
  # The last recorded conv output, after ReLU, is the Grad-CAM map model.features returns.
  assert np.isfinite(outputs[-1][1]).all()


def test_grad_cam_of_a_split_model_equals_grad_cam_of_the_model(trained_workdir):
  from abstract_cls.train import checkpointing, state  # pylint: disable=g-import-not-at-top

  model, _, _ = checkpointing.restore_for_inference(str(trained_workdir), step="latest")
  images = np.random.default_rng(1).normal(size=(3, 32, 32, 3)).astype(np.float32)
  classes = np.array([0, 5, 19])
  expected, _ = saliency.grad_cam(model, images, classes)
  graphs, params, rest = state.split_model(model)
  split_cam = saliency.make_grad_cam(graphs.eval)
  np.testing.assert_allclose(split_cam(params, rest, images, classes), expected, atol=1e-6)


def test_unknown_inspect_option_is_a_clear_error():
  with pytest.raises(ValueError, match="unknown inspect options"):
    run._options(None, {"embeding_methods": ("pca",)})  # pylint: disable=protected-access
  with pytest.raises(ValueError, match="saliency_target"):
    run._options(None, {"saliency_target": "both"})  # pylint: disable=protected-access
