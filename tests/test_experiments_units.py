"""experiments/: the pieces the studies rest on, without training (chance levels, the
convergence criteria, initialisation surgery, gradient probes, config overrides, reports)."""

import csv
import dataclasses
import math

import jax
import numpy as np
import pytest
from flax import nnx

from abstract_cls.evaluation import metrics
from abstract_cls.models import resnet
from experiments import (
  chance,
  cli,
  convergence,
  depth,
  initialisation,
  report_all,
  sweep,
  tables,
  train_filter,
)


def test_apply_overrides_sets_nested_fields_and_rejects_typos():
  config = sweep.load_config("configs/resnet.py")
  sweep.apply_overrides(
    config,
    {"optimizer.lr": 0.5, "model.options.norm": "none", "data.augment.horizontal_flip": False},
  )
  assert config.optimizer.lr == 0.5
  assert config.model.options.norm == "none"
  assert config.data.augment.horizontal_flip is False
  with pytest.raises(KeyError, match="optimizer.lrr"):
    sweep.apply_overrides(config, {"optimizer.lrr": 0.1})
  with pytest.raises(KeyError, match="no section"):
    sweep.apply_overrides(config, {"nonsense.x": 1})


def test_every_cpu_and_gpu_preset_builds_a_valid_config():
  from abstract_cls.train.config_checks import validate_config

  for module in cli_modules():
    for name in ("cpu", "gpu"):
      preset = module.PRESETS[name]
      for variant, seed in cli.run_plan(module, preset):
        config = sweep.build_config(module.CONFIG_FILE, preset, variant, seed)
        validate_config(config)


def cli_modules():
  from experiments import architectures, domains, imbalance, regularisation

  return (depth, architectures, regularisation, imbalance, domains)


def test_depth_plan_puts_the_deciding_runs_first():
  runs = [(v.name, s) for v, s in depth.plan(depth.PRESETS["cpu"])]
  assert runs[:4] == [("plain20", 0), ("resnet20", 0), ("plain56", 0), ("resnet56", 0)]
  assert {(n, s) for n, s in runs[4:12]} == {
    (n, s) for n in ("plain20", "resnet20", "plain56", "resnet56") for s in (1, 2)
  }
  assert [n for n, _ in runs[12:]] == ["plain32", "resnet32", "plain44", "resnet44", "resnet110"]


def test_mean_std_fmt_and_table():
  assert tables.mean_std([0.5, 0.7]) == pytest.approx((0.6, 0.1414213), rel=1e-5)
  assert tables.mean_std([0.3]) == (0.3, 0.0)
  assert tables.fmt([0.5, 0.7, 0.6]) == "60.0 ± 10.0 (n=3)"
  assert tables.fmt([0.5]) == "50.0 (n=1)"
  assert tables.fmt([float("nan")]) == "n/a"
  assert tables.fmt([0.5, 0.7, 0.6], unit="%") == "60.0 ± 10.0% (n=3)"
  assert tables.fmt([0.5], unit="%") == "50.0% (n=1)"
  text = tables.markdown_table(["a", "b"], [[1, 2]])
  assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]


def test_uniform_guess_matches_a_simulation_and_majority_is_exact():
  rng = np.random.default_rng(0)
  labels = rng.choice(5, size=60, p=[0.5, 0.2, 0.15, 0.15, 0.0])
  exact = chance.uniform_guess(labels, 5)
  simulated = [
    metrics.compute(labels, rng.integers(0, 5, 60), class_codes=list("abcde"))["macro_f1"]
    for _ in range(4000)
  ]
  assert exact["accuracy"] == 0.2
  assert exact["macro_f1"] == pytest.approx(np.mean(simulated), abs=0.004)
  majority = chance.majority_guess(labels, np.array([1, 1, 0]), 5)
  assert majority["class"] == 1
  assert majority["accuracy"] == pytest.approx(np.mean(labels == 1))
  share = np.mean(labels == 1)
  assert majority["macro_f1"] == pytest.approx(2 * share / (1 + share) / 4)  # 4 classes present


def _run(accuracies, epochs_planned=None, diverged="", rows_per_epoch=3):
  rows = []
  for e, acc in enumerate(accuracies, start=1):
    for k in range(rows_per_epoch):
      rows.append(dict(step=e * 10 + k, epoch=e - 1 + (k + 1) / rows_per_epoch, accuracy=acc))
  return dict(
    curves=dict(train=rows, eval=[]),
    planned_epochs=float(epochs_planned or len(accuracies)),
    planned_max_steps=0,
    diverged=diverged,
  )


def test_plateau_criterion():
  criterion = convergence.Plateau(fraction=0.1, max_gain=0.01)
  flat = _run([0.1 * i for i in range(1, 9)] + [0.9] * 12)
  verdict = criterion.check(flat)
  assert verdict.converged and verdict.final_train_error == pytest.approx(0.1)
  rising = _run([0.04 * i for i in range(1, 21)])
  assert not criterion.check(rising).converged
  assert "still improving" in criterion.check(rising).reason
  assert not criterion.check(_run([0.5] * 10, epochs_planned=20)).converged  # stopped early
  assert criterion.check(_run([0.5] * 10, diverged="NaN")).reason == "diverged"
  assert convergence.Completed().check(_run([0.1], diverged="NaN")).converged


def test_initialisation_schemes_draw_the_stated_scales():
  model = resnet.cifar_resnet(20, True, num_classes=20, rngs=nnx.Rngs(0), norm="none")
  params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
  key = jax.random.key(0)
  he = initialisation.reinitialised(params, "he", key)
  kernel = np.asarray(he["blocks"][4]["conv1"]["kernel"])  # 3x3x32x32 (fan_in 288)
  assert np.std(kernel) == pytest.approx(math.sqrt(2 / 288), rel=0.05)
  glorot = initialisation.reinitialised(params, "glorot", key)
  assert np.std(np.asarray(glorot["out"]["kernel"])) == pytest.approx(math.sqrt(2 / 84), rel=0.2)
  naive = initialisation.reinitialised(params, "naive", key)
  assert np.std(np.asarray(naive["blocks"][4]["conv2"]["kernel"])) == pytest.approx(0.01, rel=0.05)
  np.testing.assert_array_equal(
    naive["blocks"][4]["conv1"]["bias"], params["blocks"][4]["conv1"]["bias"]
  )
  fixup = initialisation.reinitialised(params, "fixup", key)
  assert all(not np.any(fixup["blocks"][i]["conv2"]["kernel"]) for i in range(9))
  assert not np.any(fixup["out"]["kernel"])
  scale = 9 ** (-1 / 2)  # 9 branches of 2 convs: L^(-1/(2m-2))
  np.testing.assert_allclose(fixup["blocks"][4]["conv1"]["kernel"], kernel * scale, rtol=1e-6)
  zero = initialisation.reinitialised(params, "zero_branch", key)
  assert not np.any(zero["blocks"][0]["conv2"]["kernel"]) and np.any(zero["out"]["kernel"])
  with pytest.raises(ValueError, match="residual"):
    initialisation.reinitialised(params, "fixup", key, residual=False)
  with pytest.raises(ValueError, match="unknown initialisation"):
    initialisation.reinitialised(params, "orthogonal", key)


def test_with_scheme_reinitialises_the_trainers_models_and_restores_the_builder():
  from abstract_cls.train import state as state_lib

  config = sweep.load_config("configs/resnet.py")
  config.model.options.norm = "none"
  original = state_lib.build_model
  with initialisation.with_scheme("fixup"):
    model = state_lib.build_model(config.model, 3)
  assert state_lib.build_model is original
  assert not np.any(np.asarray(model.out.kernel[...]))
  assert np.any(np.asarray(original(config.model, 3).out.kernel[...]))


def test_train_filter_keeps_training_domains_and_a_stratified_fraction(tmp_path):
  config = sweep.load_config("configs/lenet.py")
  config.data.name = "synthetic"
  config.data.synthetic_num_examples = 120
  data = config.data
  path = train_filter.write(data, 0.5, ("SKETCH", "PICTOGRAM"), 0, tmp_path / "f.csv")
  with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
  labels, doms, files = train_filter.split_metadata(data, "train")
  kept = {r["file_name"] for r in rows if r["keep"] == "1"}
  illustration = train_filter.domain_indices(["ILLUSTRATION"])[0]
  assert not any(f in kept for f, d in zip(files, doms) if d == illustration)
  kept_train = [f for f in files if f in kept]
  eligible = sum(d != illustration for d in doms)
  assert 0.35 * eligible <= len(kept_train) <= 0.65 * eligible
  assert {int(y) for y, f in zip(labels, files) if f in kept} == {
    int(y) for y, d in zip(labels, doms) if d != illustration
  }  # every class survives


def test_report_all_rewrites_sections_and_says_what_is_not_run(tmp_path):
  results = tmp_path / "results"
  (results / "depth").mkdir(parents=True)
  (results / "depth" / "report.md").write_text("| x |\n![p](plot.png)\n")
  (results / "depth" / "summary.md").write_text("**Depth**: 1.0")
  readme = tmp_path / "README.md"
  readme.write_text(
    "intro\n<!-- BEGIN generated:depth -->\nold\n<!-- END generated:depth -->\n"
    "<!-- BEGIN generated:domains -->\n<!-- END generated:domains -->\n"
  )
  args = [f"--results={results}", f"--readme={readme}", f"--summary={tmp_path / 'SUMMARY.md'}"]
  assert report_all.main(args) == 0
  text = readme.read_text()
  assert "![p](results/depth/plot.png)" in text and "old" not in text
  assert "Not yet run with the cpu preset" in text
  digest = (tmp_path / "SUMMARY.md").read_text()
  assert "**Depth**: 1.0" in digest and "gradients_at_init**: not yet run" in digest
  assert report_all.main(args + ["--check"]) == 0


def test_depth_cpu_preset_is_sized_to_about_five_hours():
  hours = depth.estimated_hours(depth.PRESETS["cpu"])
  assert 4.5 < hours < 5.5, hours
  cpu = depth.PRESETS["cpu"]
  one = dataclasses.replace(cpu, overrides=dict(cpu.overrides, **{"train.num_epochs": 1.0}))
  per_epoch = depth.TRAIN_IMAGES / depth.RESNET20_IMAGES_PER_S / 3600
  depths = sum(v.labels["depth"] for v, _ in depth.plan(one))
  assert depth.estimated_hours(one) == pytest.approx(per_epoch * depths / 20)


def _trained_run(norm, init, f1, diverged=False):
  return {
    "labels": {"norm": norm},
    "init": init,
    "study_variant": f"resnet56_{norm}_{init}",
    "diverged": diverged,
    "curves": {"train": [{"loss": 2.5}]},
    "evals": {"test": {"macro_f1": f1}},
  }


def test_unnormalised_training_finding_needs_more_than_the_class_prior():
  from experiments import gradients_at_init_findings as findings_module

  batch = _trained_run("batch", "default", 0.40)
  default = _trained_run("none", "default", float("nan"), diverged=True)
  learned = [_trained_run("none", s, 0.30) for s in ("zero_branch", "fixup")]
  assert findings_module._training_finding([batch, default, *learned]).holds is True
  # Stable but stuck at the class prior (loss below ln 20, macro-F1 at the majority guess's).
  prior = [_trained_run("none", s, 0.02) for s in ("zero_branch", "fixup")]
  assert findings_module._training_finding([batch, default, *prior]).holds is False
  assert (
    findings_module._training_finding([default, *learned]).holds is None
  )  # no batch-norm yardstick


def test_domain_findings_need_the_same_direction_in_every_seed():
  from experiments import domains  # pylint: disable=g-import-not-at-top

  def run(held_out, seen_test):
    return {"a": np.float64(held_out), "b": np.float64(seen_test)}

  lower = lambda r: r["a"]
  higher = lambda r: r["b"]
  check = domains._lower_in_every_seed  # pylint: disable=protected-access
  assert check([run(0.5, 0.8), run(0.6, 0.7)], lower, higher) is True  # a bool, not np.bool_
  assert check([run(0.9, 0.8), run(0.8, 0.7)], lower, higher) is False
  assert check([run(0.5, 0.8), run(0.8, 0.7)], lower, higher) is None  # seeds disagree
  assert check([], lower, higher) is None
  assert check([run(0.795, 0.8), run(0.695, 0.7)], lower, higher) is False  # within 1 point


def test_depth_findings_read_differences_against_the_seed_spread():
  def runs(variant, train_errors, test_errors):
    return [
      {"study_variant": variant, "final_train_error": tr, "evals": {"test": {"accuracy": 1 - te}}}
      for tr, te in zip(train_errors, test_errors)
    ]

  def verdicts(resnet56_train, resnet56_test):
    found = depth.findings(
      runs("plain20", [0.09, 0.08, 0.10], [0.3] * 3)
      + runs("plain56", [0.63, 0.79, 0.79], [0.8] * 3)
      + runs("resnet20", [0.079, 0.084, 0.073], [0.24, 0.25, 0.25])
      + runs("resnet56", resnet56_train, resnet56_test),
      None,
    )
    return {f.claim.split(":")[0]: f.verdict for f in found}

  # ResNet-56 1.7 points above ResNet-20 with a 3.9-point seed spread: no difference, so
  # "lower or equal" holds, and its test error neither falls nor rises: undecided.
  got = verdicts([0.056, 0.099, 0.133], [0.23, 0.29, 0.31])
  assert got["He et al. 2016, Fig. 6 (left)"] == "holds"
  assert got["He et al. 2016, Fig. 6 (middle)"] == "holds"
  assert got["He et al. 2016, Fig. 6"] == "holds"
  assert got["He et al. 2016, Table 6"] == "undecided"
  # Above ResNet-20 beyond both spreads: does not hold; a test error beyond them: rises.
  got = verdicts([0.150, 0.151, 0.152], [0.30, 0.30, 0.31])
  assert got["He et al. 2016, Fig. 6 (middle)"] == "does not hold"
  assert got["He et al. 2016, Table 6"] == "does not hold"
  got = verdicts([0.05, 0.05, 0.05], [0.20, 0.20, 0.21])
  assert got["He et al. 2016, Table 6"] == "holds"
  # No ResNet-56 run: nothing to compare, which is not the same as undecided.
  found = depth.findings(runs("resnet20", [0.08], [0.25]), None)
  assert {f.verdict for f in found} == {"not checked"}
