"""Trainer pieces: schedules, decay mask, losses, penalties; NaN stop; corrupt checkpoint."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from test_train_support import tiny_config, train_rows

from abstract_cls.data import pipeline as pipeline_lib
from abstract_cls.train import checkpointing, loop, losses
from abstract_cls.train import optimizer as optimizer_lib
from abstract_cls.train.errors import CheckpointNotFoundError, ConfigError


def _opt_config(**kw):
  config = tiny_config().optimizer
  for k, v in kw.items():
    config[k] = v
  return config


def test_warmup_then_cosine_and_step_schedules():
  cosine = optimizer_lib.make_schedule(_opt_config(lr=1.0, warmup_epochs=1.0), 10, 110)
  assert float(cosine(0)) == pytest.approx(0.1)
  assert float(cosine(9)) == pytest.approx(1.0)
  assert float(cosine(60)) == pytest.approx(0.5, abs=1e-6)
  assert float(cosine(110)) == pytest.approx(0.0, abs=1e-6)
  step = optimizer_lib.make_schedule(
    _opt_config(
      lr=1.0, warmup_epochs=0.0, schedule="step", step_epochs=(2.0, 4.0), step_factor=0.1
    ),
    10,
    100,
  )
  assert [round(float(step(s)), 6) for s in (0, 19, 20, 39, 40)] == [1.0, 1.0, 0.1, 0.1, 0.01]
  with pytest.raises(ConfigError, match="schedule"):
    optimizer_lib.make_schedule(_opt_config(schedule="linear"), 10, 100)


def test_cosine_restarts_double_each_cycle():
  sgdr = optimizer_lib.make_schedule(
    _opt_config(lr=1.0, warmup_epochs=1.0, schedule="cosine_restarts", restart_epochs=2.0),
    10,
    200,
  )
  # Warm-up 10 steps, then cycles of 20, 40, 80 steps, each starting at the peak.
  assert [round(float(sgdr(s)), 6) for s in (10, 20, 30, 70, 150)] == [1.0, 0.5, 1.0, 1.0, 1.0]
  assert float(sgdr(29)) < 0.01 and float(sgdr(69)) < 0.01
  assert float(sgdr(50)) == pytest.approx(0.5, abs=1e-6)


def test_decay_mask_spares_biases_and_scales():
  params = {
    "conv": {"kernel": jnp.ones((3, 3, 1, 2)), "bias": jnp.ones(2)},
    "norm": {"scale": jnp.ones(2)},
  }
  assert optimizer_lib.decay_mask(params) == {
    "conv": {"kernel": True, "bias": False},
    "norm": {"scale": False},
  }
  for name in ("sgd", "adamw"):
    opt = optimizer_lib.make_optimizer(
      _opt_config(name=name, weight_decay=0.1, lr=1.0, clip_norm=1.0)
    )
    zero = jax.tree_util.tree_map(jnp.zeros_like, params)
    updates, _ = opt.update(zero, opt.init(params), params)
    assert float(jnp.abs(updates["conv"]["bias"]).max()) == 0.0, name
    assert float(jnp.abs(updates["conv"]["kernel"]).max()) > 0.0, name


def test_losses():
  logits = jnp.array([[2.0, 0.0, -1.0], [0.5, 0.2, 0.1]])
  onehot = jax.nn.one_hot(jnp.array([0, 2]), 3)
  ones = jnp.ones(3)
  plain = optax.softmax_cross_entropy(logits, onehot).mean()
  assert losses.classification_loss(logits, onehot, ones) == pytest.approx(float(plain))
  smoothed = optax.softmax_cross_entropy(logits, onehot * 0.9 + 0.1 / 3).mean()
  assert losses.classification_loss(logits, onehot, ones, label_smoothing=0.1) == pytest.approx(
    float(smoothed)
  )
  # Class weights: weighted mean of per-example losses.
  weights = jnp.array([1.0, 1.0, 3.0])
  per = optax.softmax_cross_entropy(logits, onehot)
  assert losses.classification_loss(logits, onehot, weights) == pytest.approx(
    float((per[0] + 3 * per[1]) / 4)
  )
  # Focal loss down-weights the confident (easy) first example more than the hard second one.
  focal = [
    float(losses.classification_loss(logits[i : i + 1], onehot[i : i + 1], ones, focal_gamma=2.0))
    for i in range(2)
  ]
  assert focal[0] / float(per[0]) < focal[1] / float(per[1]) < 1.0


def test_explicit_penalties_skip_biases():
  params = {"dense": {"kernel": jnp.array([[1.0, -2.0]]), "bias": jnp.array([5.0])}}
  assert float(losses.weight_penalty(params, l1=0.5, l2=0.0)) == pytest.approx(1.5)
  assert float(losses.weight_penalty(params, l1=0.0, l2=0.1)) == pytest.approx(0.25)


def test_nan_stops_run_naming_step_and_saves_nothing_after(tmp_path, monkeypatch):
  real = pipeline_lib.make_train_input

  def poisoned(*args, **kwargs):
    train_input = real(*args, **kwargs)
    clean_batch = train_input.batch

    def batch(device_data, host_batch, step, key):
      out = clean_batch(device_data, host_batch, step, key)
      out["image"] = jnp.where(step >= 3, jnp.nan, out["image"])
      return out

    train_input.batch = batch
    return train_input

  monkeypatch.setattr(pipeline_lib, "make_train_input", poisoned)
  workdir = str(tmp_path)
  config = tiny_config(train=dict(checkpoint_every_steps=1, log_every=1, max_steps=6))
  with pytest.raises(FloatingPointError, match=r"NaN/Inf at step 4 .*after step 3"):
    loop.train_and_evaluate(config, workdir)
  manager = checkpointing.make_manager(workdir, create=False)
  assert max(manager.all_steps()) == 3


def test_options_bf16_adamw_ema_focal_mixup_class_weights(tmp_path):
  config = tiny_config(
    train=dict(max_steps=2, log_every=1),
    optimizer=dict(name="adamw", lr=1e-3, ema_decay=0.9, clip_norm=1.0),
    loss=dict(focal_gamma=2.0, label_smoothing=0.1, l1=1e-5, l2=1e-4),
    data=dict(mixup_alpha=0.2, cutmix_alpha=1.0, class_weighting="inverse"),
  )
  config.model.options.dtype = "bfloat16"
  result = loop.train_and_evaluate(config, str(tmp_path))
  assert all(np.isfinite(r["loss"]) for r in train_rows(str(tmp_path)))
  assert result["step"] == 2
  model, restored_config, step = checkpointing.restore_for_inference(str(tmp_path), "latest")
  assert step == 2 and restored_config.optimizer.ema_decay == 0.9


def _corrupt(step_dir):
  """Truncates every data file of the step, as a crash mid-write or a bad disk would."""
  for root, _, files in os.walk(step_dir):
    for name in files:
      if "metadata" not in name.lower():
        with open(os.path.join(root, name), "r+b") as f:
          f.truncate(0)


def test_corrupt_latest_checkpoint_falls_back_to_previous(tmp_path, capsys):
  workdir = str(tmp_path)
  loop.train_and_evaluate(tiny_config(train=dict(max_steps=4, checkpoint_every_steps=2)), workdir)
  steps = sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit())
  assert steps[-1] == 4
  _corrupt(os.path.join(workdir, "checkpoints", "4"))
  result = loop.train_and_evaluate(
    tiny_config(train=dict(max_steps=6, checkpoint_every_steps=2)), workdir
  )
  captured = capsys.readouterr()
  assert "checkpoint step 4" in captured.out and "unreadable" in captured.out
  assert f"resumed at step {steps[-2]})" in captured.err, captured.err
  assert result["step"] == 6
  assert os.listdir(os.path.join(workdir, "corrupt_checkpoints"))


def test_missing_checkpoint_is_one_clear_error(tmp_path):
  with pytest.raises(CheckpointNotFoundError, match="no checkpoint in"):
    checkpointing.restore_for_inference(str(tmp_path), "best")


def test_unknown_names_are_config_errors(tmp_path):
  with pytest.raises(ConfigError, match="not a known data set"):
    loop.train_and_evaluate(tiny_config(data=dict(name="imagenet")), str(tmp_path))
  with pytest.raises(ConfigError, match="not a known model"):
    loop.train_and_evaluate(tiny_config(model=dict(name="resnet9000")), str(tmp_path))


def test_streaming_mode_trains(tmp_path):
  """The host-batch path (grain reader, batch placed on the mesh by the loop) trains."""
  workdir = str(tmp_path)
  result = loop.train_and_evaluate(
    tiny_config(data=dict(mode="streaming", num_workers=0), train=dict(max_steps=2, log_every=1)),
    workdir,
  )
  assert result["step"] == 2
  assert all(np.isfinite(r["loss"]) for r in train_rows(workdir))
