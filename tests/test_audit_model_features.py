"""Near-duplicate search with embeddings of a trained model instead of the fixed features."""

import ml_collections
import numpy as np
import pytest
from flax import nnx

from abstract_cls.audit import runner, sources
from abstract_cls.models import get_model
from abstract_cls.train import checkpointing


@pytest.mark.slow  # jax compile of a small CNN: tens of seconds on a loaded 2-core machine
def test_model_workdir_embeddings_are_used(tmp_path, monkeypatch):
  from abstract_cls.audit import inject  # pylint: disable=import-outside-toplevel
  from tests.test_audit import write_fixture  # pylint: disable=import-outside-toplevel

  base, out = tmp_path / "clean", tmp_path / "injected"
  write_fixture(base, per_class=3)
  inject.inject(
    sources.FolderSource(base), out, inject.InjectOptions(num_duplicates=4, num_photos=0, seed=0)
  )
  model = get_model("lenet5", num_classes=20, rngs=nnx.Rngs(0), in_channels=3, input_size=32)
  config = ml_collections.ConfigDict({"data": {"image_size": 32}})
  monkeypatch.setattr(checkpointing, "restore_for_inference", lambda workdir: (model, config, 7))
  result = runner.run_audit(
    sources.FolderSource(out),
    runner.AuditOptions(model_workdir="fake", progress=False, remove_photos=False),
  )
  assert result.collected.model_features.shape[:2] == (2, len(result.items))
  assert result.feature_kind == "model:fake"
  np.testing.assert_allclose(
    np.linalg.norm(result.collected.model_features, axis=-1), 1.0, rtol=1e-4
  )
