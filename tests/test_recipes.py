"""Recipe levers (experiments.recipes) and the family-recipe tables (tools.family_recipes)."""

import dataclasses
import json

import pytest

from experiments import cli, recipes, sweep
from tools import family_recipes


def test_arms_that_change_step_cost_get_equal_time_budgets():
  for name, (lever, overrides) in recipes.arms().items():
    if name in recipes.EPOCH_COST:
      expected = round(recipes.DEFAULT_EPOCHS / recipes.EPOCH_COST[name])
      assert overrides["train.num_epochs"] == expected, name
    elif lever:
      assert "train.num_epochs" not in overrides, name
  assert list(recipes.arms())[0] == recipes.BASELINE


def _runs(f1s):
  return [{"evals": {"test": {"macro_f1": f}}} for f in f1s]


def test_verdict_needs_every_seed_beyond_the_other_arm():
  assert recipes.verdict(_runs([0.70, 0.72]), _runs([0.75, 0.73])) == "helps"
  assert recipes.verdict(_runs([0.70, 0.72]), _runs([0.65, 0.69])) == "hurts"
  assert recipes.verdict(_runs([0.70, 0.72]), _runs([0.71, 0.74])) == "no clear effect"
  assert recipes.verdict(_runs([0.70]), _runs([0.80])).startswith("pending")


def test_every_arm_names_the_claim_it_checks():
  assert set(recipes.CLAIMS) == set(recipes.arms()) - {recipes.BASELINE}
  runs = [
    dict(r, study_variant=name)
    for name, f1s in (("default", [0.70, 0.72]), ("mixup", [0.75, 0.76]), ("adamw", [0.71, 0.73]))
    for r in _runs(f1s)
  ]
  found = {f.claim.split(": ")[-1].split()[0]: f for f in recipes.findings(runs, None)}
  assert found["mixup"].holds is True  # predicted helps, every seed above the default's
  assert found["adamw"].holds is False  # predicted hurts, no clear effect
  assert found["cutmix"].holds is None  # not run
  assert "Zhang et al. 2018" in found["mixup"].claim


def test_recipes_smoke_sweep_writes_the_lever_table(tmp_path, monkeypatch):
  smoke = dataclasses.replace(recipes.PRESETS["smoke"], seeds=(0,))
  monkeypatch.setitem(recipes.PRESETS, "smoke", smoke)
  chosen = [v for v in recipes.variants(smoke) if v.name in ("default", "ema")]
  monkeypatch.setattr(recipes, "variants", lambda preset: chosen)
  out = tmp_path / "recipes"
  assert cli.main(recipes, ["--preset=smoke", f"--out={out}"]) == 0
  report = (out / "report.md").read_text()
  assert "| **default** | default |" in report and "| averaging | ema |" in report
  assert "Flip test-time augmentation" in report and "Chance levels" in report
  result = json.loads((out / "runs" / "ema" / "seed_0" / "result.json").read_text())
  assert "macro_f1" in result["flip_tta"]["test"]
  assert {r["study_variant"] for r in sweep.load_results(out)} == {"default", "ema"}
  summary = json.loads((out / "summary.json").read_text())
  assert summary["study"] == "recipes" and summary["preset"] == "smoke"
  assert {r["variant"] for r in summary["runs"]} == {"default", "ema"}
  assert len(summary["findings"]) == len(recipes.CLAIMS)


def _metrics(path, accuracies):
  rows = [
    dict(step=10 * (i + 1), epoch=(i + 1) / 2, loss=1.0, accuracy=a)
    for i, a in enumerate(accuracies)
  ]
  path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_plateau_check_reads_the_last_tenth_of_training(tmp_path):
  _metrics(tmp_path / "metrics.jsonl", [0.1 * i for i in range(10)] + [0.95] * 20)
  flat = family_recipes.training_curve(tmp_path)
  assert flat["converged"] and flat["final_train_accuracy"] == pytest.approx(0.95)
  _metrics(tmp_path / "metrics.jsonl", [0.03 * i for i in range(30)])
  rising = family_recipes.training_curve(tmp_path)
  assert not rising["converged"] and rising["last_tenth_gain_points"] > 2


def _family(name, seed, f1):
  split = lambda f: {"accuracy": f + 0.05, "macro_f1": f}
  return dict(
    config=name,
    seed=seed,
    model={"name": "resnet18", "options": {"width": 0.5}},
    image_size=64,
    epochs=60.0,
    command_to_exit_s=600.0,
    separate_eval_s=30.0,
    final_train_accuracy=0.93,
    converged=True,
    test=split(f1),
    test_unseen_style=split(f1 - 0.05),
    machine="test CPU (2 cores)",
    commit="abc1234",
    test_per_domain={"SKETCH": {"macro_f1": f1}},
  )


def test_family_and_default_run_tables():
  runs = {
    "resnet": [_family("resnet", 0, 0.80), _family("resnet", 1, 0.78)],
    "lenet": [_family("lenet", 0, 0.40)],
  }
  table = family_recipes.family_table(runs)
  lines = table.splitlines()
  assert lines[2].startswith("| `configs/lenet.py`") and lines[3].startswith(
    "| `configs/resnet.py`"
  )
  assert "**0.790 ± 0.014**" in table and "| 10.5 ± 0.0 |" in table
  text = family_recipes.default_run_text(runs["resnet"])
  assert "| mean |" in text and "SKETCH 0.790 ± 0.014" in text and "test CPU" in text


def test_every_cpu_arm_builds_a_valid_config():
  from abstract_cls.train.config_checks import validate_config

  preset = recipes.PRESETS["cpu"]
  assert preset.seeds == (0, 1)
  for variant, seed in cli.run_plan(recipes, preset):
    validate_config(sweep.build_config(recipes.CONFIG_FILE, preset, variant, seed))
