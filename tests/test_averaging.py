"""Weight averaging (EMA with warm-up, SWA): the decay rule, the update and the real step."""

import jax
import numpy as np
import pytest
from test_train_support import tiny_config

from abstract_cls.data import pipeline as pipeline_lib
from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import optimizer as optimizer_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train import step as step_lib
from abstract_cls.train.errors import ConfigError


def test_decay_rules():
  ema = [float(optimizer_lib.average_decay("ema", 0.99, 0.0, t)) for t in (0, 10, 10_000)]
  assert ema[0] == pytest.approx(1 / 10) and ema[1] == pytest.approx(11 / 20)
  assert ema[2] == pytest.approx(0.99)  # the warm-up ends at the configured decay
  swa = [float(optimizer_lib.average_decay("swa", 0.0, 5.0, t)) for t in (0, 4, 5, 6, 8)]
  assert swa == pytest.approx([0.0, 0.0, 0.0, 0.5, 0.75])  # follows live, then 1 - 1/n


def test_exclusive_averaging_is_a_config_error():
  config = tiny_config()
  config.optimizer.ema_decay, config.optimizer.swa_start_epoch = 0.99, 1.0
  with pytest.raises(ConfigError, match="exclusive"):
    optimizer_lib.averaging(config.optimizer)


def _run(config, steps):
  mesh = mesh_lib.make_mesh(1)
  train_input = pipeline_lib.make_train_input(
    config.data, "train", mesh, config.seed, config.train.batch_size
  )
  total = steps
  schedule = mesh_lib.replicate(
    optimizer_lib.schedule_values(config.optimizer, train_input.steps_per_epoch, total), mesh
  )
  optimizer = optimizer_lib.make_optimizer(config.optimizer)
  graphs, state = state_lib.create_train_state(config, mesh, optimizer)
  acc = jax.jit(step_lib.init_accumulators)()
  train_step = step_lib.make_train_step(
    graphs, train_input, optimizer, config, train_input.class_weights, mesh
  )
  history = []
  for step in range(steps):
    train_input.prepare_epoch(step)
    state, acc, _ = train_step(state, acc, train_input.device_data, {}, schedule)
    history.append(jax.device_get(dict(params=state["params"], rest=state["rest"])))
  return train_input.steps_per_epoch, jax.device_get(state), history


def test_swa_averages_weights_and_batch_statistics_of_the_steps_since_its_start():
  config = tiny_config()
  config.model.name = "resnet20"
  config.model.options = {"input_size": 16, "width": 0.5, "dtype": "float32"}
  config.optimizer.swa_start_epoch = 1.0
  steps_per_epoch, state, history = _run(config, 7)
  since_start = history[steps_per_epoch:]  # the weights after the updates of steps >= swa_start
  mean = jax.tree_util.tree_map(lambda *xs: np.mean(xs, axis=0), *since_start)
  average = state["average"]
  flat_mean, flat_avg = jax.tree_util.tree_leaves(mean), jax.tree_util.tree_leaves(average)
  floats = [(m, a) for m, a in zip(flat_mean, flat_avg) if np.issubdtype(a.dtype, np.floating)]
  assert floats
  for m, a in floats:
    np.testing.assert_allclose(a, m, rtol=1e-4, atol=1e-6)
  # Evaluation uses the averaged weights with their own batch statistics.
  params, rest = state_lib.inference_variables(state)
  assert params is average["params"] and rest is average["rest"]
  live_stats = jax.tree_util.tree_leaves(state["rest"])
  avg_stats = jax.tree_util.tree_leaves(average["rest"])
  assert any(not np.allclose(x, y) for x, y in zip(live_stats, avg_stats) if x.dtype == np.float32)


def test_ema_starts_at_the_live_weights_not_the_initialisation():
  config = tiny_config()
  config.optimizer.ema_decay = 0.999
  _, state, history = _run(config, 1)
  # Warm-up: after the first update the decay is 1/10, so the average is 90% live weights.
  first = history[0]["params"]
  for avg, live in zip(
    jax.tree_util.tree_leaves(state["average"]["params"]), jax.tree_util.tree_leaves(first)
  ):
    assert np.abs(avg - live).max() <= 0.1 * np.abs(live).max() + 1e-6


def test_no_averaging_keeps_no_copy():
  config = tiny_config()
  _, state, _ = _run(config, 1)
  assert state["average"] == {}
  params, rest = state_lib.inference_variables(state)
  assert params is state["params"] and rest is state["rest"]
