"""The eval step's flip test-time augmentation."""

import jax
import numpy as np
from test_train_support import tiny_config

from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train import step as step_lib


def test_flip_tta_averages_the_probabilities_of_the_image_and_its_mirror():
  config = tiny_config()
  graphs, params, rest = state_lib.split_model(state_lib.build_model(config.model, 0))
  mesh = mesh_lib.make_mesh(1)
  images = jax.random.normal(jax.random.key(0), (4, 16, 16, 3))
  labels = np.arange(4, dtype=np.int32)
  plain = step_lib.make_eval_step(graphs, mesh)
  tta = step_lib.make_eval_step(graphs, mesh, flip_tta=True)
  p = np.asarray(plain(params, rest, images, labels)["prob"])
  p_mirror = np.asarray(plain(params, rest, images[:, :, ::-1], labels)["prob"])
  out = tta(params, rest, images, labels)
  np.testing.assert_allclose(np.asarray(out["prob"]), (p + p_mirror) / 2, rtol=1e-5, atol=1e-7)
  np.testing.assert_array_equal(np.asarray(out["pred"]), np.argmax((p + p_mirror) / 2, -1))
  assert not np.allclose(p, p_mirror)  # the test would not see a missing flip otherwise
