"""experiments.gradients_at_init: the probes against He et al. 2015's prediction, and the
study's smoke preset end to end (probes, short training runs, report, summary.json)."""

import json

import numpy as np
import pytest
from test_experiments import _run_smoke  # tests/ is on sys.path (pytest rootdir mode)

from experiments import cli, gradient_probes, gradients_at_init, sweep


def test_every_preset_builds_a_valid_config():
  from abstract_cls.train.config_checks import validate_config

  for name in ("cpu", "gpu"):
    preset = gradients_at_init.PRESETS[name]
    for variant, seed in cli.run_plan(gradients_at_init, preset):
      validate_config(sweep.build_config(gradients_at_init.CONFIG_FILE, preset, variant, seed))


def test_lag_correlation():
  rng = np.random.default_rng(0)
  base = rng.normal(size=50)
  smooth = np.stack([base + 0.1 * i * rng.normal(size=50) for i in range(6)])
  noise = rng.normal(size=(6, 50))
  assert gradient_probes.lag_correlation(smooth)[0] > 0.9
  assert abs(gradient_probes.lag_correlation(noise)[0]) < 0.3
  assert len(gradient_probes.lag_correlation(noise)) == 5


def test_scaled_rms_keeps_gradients_far_below_the_float32_square_range():
  tiny = np.full((3, 3), 3e-25, np.float32)
  assert float(gradient_probes.scaled_rms(tiny)) == pytest.approx(3e-25, rel=1e-5)
  assert float(gradient_probes.scaled_rms(np.zeros(4, np.float32))) == 0.0


def test_probe_naive_init_vanishes_as_he_et_al_predict():
  images = gradient_probes.load_images("synthetic", 16, 16)
  probe = gradient_probes.Probe(gradient_probes.Net("plain", 8, "none"), 16)
  levels = {}
  for scheme in ("he", "naive"):
    rms, loss = probe.layer_gradient_rms(probe.params(scheme, 0), images.images, images.labels)
    assert len(rms) == 8 and np.isfinite(loss)  # 7 convs + the classifier, in depth order
    levels[scheme] = np.median(np.log10(rms))
  offset = levels["naive"] - levels["he"]
  assert offset == pytest.approx(gradients_at_init.predicted_level_offset(8, "naive"), abs=1.0)


def test_gradients_at_init_smoke(tmp_path, monkeypatch):
  monkeypatch.setattr(gradients_at_init, "NORMS", ("none",))
  out, report, summary = _run_smoke(
    gradients_at_init, tmp_path, monkeypatch, ("resnet20_none_default", "resnet20_none_fixup")
  )
  probes = json.loads((out / "probes.json").read_text())
  assert set(probes["timing"]) == {"plain8_none", "resnet8_none", "plain14_none", "resnet14_none"}
  entry = probes["layer_rms"]["plain14_none/he"]
  assert len(entry["per_seed"][0]) == 14 and len(entry["layers"]) == 14
  assert "grad_rms_vs_layer.png" in report and "training_loss.png" in report
  claims = " ".join(f["claim"] for f in summary["findings"])
  for paper in ("Glorot & Bengio 2010", "He et al. 2015", "Yang et al. 2019", "Balduzzi"):
    assert paper in claims


def test_findings_compare_only_depths_where_every_net_was_measured():
  from experiments import gradients_at_init_report as report

  nets = [f"{a}{d}_{n}" for d in (8, 20) for a in ("plain", "resnet") for n in ("batch", "none")]
  probes = {"timing": {k: {} for k in [*nets, "plain56_batch"]}}
  probes["layer_rms"] = {f"{k}/he": {} for k in probes["timing"]}
  assert report._depths(probes) == [8, 20, 56]
  assert report.complete_depths(probes) == [8, 20]
