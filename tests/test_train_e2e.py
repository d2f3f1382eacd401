"""End to end, in process: tiny train -> save -> restore -> identical evaluation; 8 devices
match 1 device; logs, reports and checkpoint retention."""

import json
import os

import numpy as np
import pytest
from test_train_support import eval_rows, flat_params, read_jsonl, tiny_config, train_rows

from abstract_cls.train import checkpointing, evaluate, loop

TRAIN_KEYS = {
  "step",
  "epoch",
  "loss",
  "accuracy",
  "lr",
  "grad_norm",
  "param_norm",
  "update_norm",
  "images_per_s",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("tiny"))
  config = tiny_config(train=dict(keep_checkpoints=1, layer_norms_every=3, num_devices=8))
  result = loop.train_and_evaluate(config, workdir)
  return config, workdir, result


def test_logs_metrics_layer_norms_and_tensorboard(trained):
  _, workdir, result = trained
  rows = train_rows(workdir)
  total = result["step"]
  steps_per_epoch = round(total / result["epoch"])
  assert total == 2 * steps_per_epoch  # num_epochs=2
  assert [r["step"] for r in rows] == [s for s in range(1, total + 1) if s % 2 == 0 or s == total]
  for row in rows:
    assert set(row) == TRAIN_KEYS and all(np.isfinite(row[k]) for k in TRAIN_KEYS)
  assert [r["step"] for r in eval_rows(workdir)] == [steps_per_epoch, total]
  validation = eval_rows(workdir)[-1]["eval"]["validation"]
  for key in ("accuracy", "macro_f1", "per_class", "per_domain", "confusion"):
    assert key in validation
  assert result["eval"]["validation"]["accuracy"] == validation["accuracy"]
  layers = read_jsonl(os.path.join(workdir, "layer_grad_norms.jsonl"))
  assert [r["step"] for r in layers] == list(range(3, total + 1, 3))
  names = [name for name, _ in layers[0]["layers"]]
  assert names == sorted(names) and len(names) >= 5  # depth order, conv and fc layers
  assert all(norm > 0 for _, norm in layers[0]["layers"])
  assert any(
    f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(workdir, "tensorboard"))
  )
  with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
    assert json.load(f)["model"]["name"] == "lenet5"


def test_keeps_last_n_plus_best(trained):
  _, workdir, result = trained
  manager = checkpointing.make_manager(workdir, 1, create=False)
  steps = sorted(manager.all_steps())
  f1 = {r["step"]: r["eval"]["validation"]["macro_f1"] for r in eval_rows(workdir)}
  assert steps[-1] == result["step"] and max(f1[s] for s in steps) == max(f1.values())
  assert len(steps) <= 2
  assert manager.best_step() in steps and f1[manager.best_step()] == max(f1.values())


def test_restored_checkpoint_gives_identical_eval_metrics(trained, capsys):
  config, workdir, result = trained
  config = config.copy_and_resolve_references()
  config.eval.checkpoint = "latest"
  metrics = evaluate.run_eval(config, workdir)
  expected = result["eval"]["validation"]
  for key in ("accuracy", "macro_f1", "loss", "per_class", "per_domain", "confusion"):
    assert metrics[key] == expected[key], key  # bit for bit
  out = capsys.readouterr().out
  assert "macro" in out and "acc" in out and "support" in out
  report_dir = os.path.join(workdir, "synthetic_validation")
  with open(os.path.join(report_dir, "report.json"), encoding="utf-8") as f:
    report = json.load(f)
  assert report["accuracy"] == expected["accuracy"]
  assert report_dir in out


def test_eight_devices_match_one_device(tmp_path):
  params, losses = {}, {}
  for n in (1, 8):
    workdir = str(tmp_path / f"d{n}")
    loop.train_and_evaluate(tiny_config(train=dict(num_devices=n, max_steps=6)), workdir)
    params[n] = flat_params(workdir)
    losses[n] = [r["loss"] for r in train_rows(workdir)]
  np.testing.assert_allclose(losses[8], losses[1], rtol=1e-5)
  for key, value in params[1].items():
    np.testing.assert_allclose(params[8][key], value, rtol=1e-4, atol=1e-6, err_msg=key)


def test_model_with_dropout_restores_for_inference(tmp_path):
  # Dropout keeps PRNG keys in the model state; restoring them from an abstract template
  # once raised TypeError (AlexNet/VGG checkpoints could not be evaluated).
  config = tiny_config(train=dict(max_steps=2))
  config.model.options = {"in_channels": 3, "input_size": 16, "dtype": "float32", "dropout": 0.5}
  workdir = str(tmp_path / "dropout")
  loop.train_and_evaluate(config, workdir)
  model, restored_config, step = checkpointing.restore_for_inference(workdir, "latest")
  assert step == 2 and restored_config.model.options.dropout == 0.5
  logits = model(np.zeros((2, 16, 16, 3), np.float32))
  assert logits.shape == (2, 20) and np.all(np.isfinite(np.asarray(logits)))
