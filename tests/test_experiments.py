"""experiments/: each study's smoke preset end to end (probes, training, reports, summary.json).

The runs use the synthetic set at 16 px for 2 steps (the cost is the trainer's compiles) and
check that report.md, summary.md, summary.json and the plots exist, that the report states
the chance levels and each run's convergence, and that a second call skips finished runs.
"""

import dataclasses
import json
import os

import pytest

from experiments import (
  architectures,
  cli,
  convergence,
  depth,
  domains,
  imbalance,
  regularisation,
  run_all,
  run_identity,
  sweep,
)

SUMMARY_RUN_FIELDS = {
  "variant",
  "seed",
  "converged",
  "final_train_error",
  "test_accuracy",
  "test_macro_f1",
}


def _run_smoke(module, tmp_path, monkeypatch, keep_variants):
  """The study's smoke preset with the named variants only."""
  smoke = module.PRESETS["smoke"]
  chosen = [(v, s) for v, s in cli.run_plan(module, smoke) if v.name in keep_variants]
  assert sorted({v.name for v, _ in chosen}) == sorted(keep_variants)
  monkeypatch.setattr(module, "plan", lambda preset: chosen, raising=False)
  out = tmp_path / module.STUDY
  assert cli.main(module, ["--preset=smoke", f"--out={out}"]) == 0
  report = (out / "report.md").read_text()
  assert "Preset `smoke`" in report and "Chance levels" in report and "Convergence." in report
  for line in report.splitlines():
    if line.startswith("!["):
      assert (out / line.split("](")[1].rstrip(")")).is_file(), line
  assert "Chance: macro-F1" in (out / "summary.md").read_text()
  summary = json.loads((out / "summary.json").read_text())
  assert {"study", "preset", "commit", "chance", "runs", "findings"} <= set(summary)
  assert set(summary["chance"]) == {"accuracy", "macro_f1"}
  assert {r["variant"] for r in summary["runs"]} >= set(keep_variants)
  for run in summary["runs"]:
    assert SUMMARY_RUN_FIELDS <= set(run)
  for finding in summary["findings"]:
    assert set(finding) == {"claim", "holds", "evidence", "verdict"}
    assert finding["verdict"] in {"holds", "does not hold", "not checked", "undecided"}
  return out, report, summary


def test_depth_smoke_and_skip_if_done(tmp_path, monkeypatch, capsys):
  out, report, summary = _run_smoke(depth, tmp_path, monkeypatch, ("plain20", "resnet20"))
  assert (out / "figure6_error_vs_epoch.png").is_file()
  result = json.loads((out / "runs" / "resnet20" / "seed_0" / "result.json").read_text())
  assert result["curves"]["train"] and result["curves"]["eval"]
  assert 1 <= result["cores"] <= os.cpu_count()  # the cores the run could use (taskset)
  assert result["resumed_from_step"] == 0
  assert summary["bar"]["met"] is None  # 2 steps: nothing converges, the bar is unchecked
  assert all(f["holds"] is None for f in summary["findings"])
  capsys.readouterr()
  assert cli.main(depth, ["--preset=smoke", f"--out={out}"]) == 0
  assert capsys.readouterr().out.count("[skip]") == 2


def test_depth_findings_use_converged_runs(tmp_path, monkeypatch):
  """With the criterion satisfied, the findings are checked (and the bar with them)."""
  out, _, _ = _run_smoke(depth, tmp_path, monkeypatch, ("plain20", "resnet20"))
  monkeypatch.setattr(depth, "CRITERION", convergence.Completed())
  monkeypatch.setattr(depth, "BAR_TRAIN_ERROR", 1.01)
  cli.write_report(depth, out)
  summary = json.loads((out / "summary.json").read_text())
  assert all(r["converged"] for r in summary["runs"])
  assert summary["bar"]["met"] is True
  assert any("plain-56" in f["claim"] for f in summary["findings"])


def test_architectures_smoke(tmp_path, monkeypatch):
  out, report, _ = _run_smoke(architectures, tmp_path, monkeypatch, ("lenet5", "resnet18"))
  result = json.loads((out / "runs" / "lenet5" / "seed_0" / "result.json").read_text())
  assert result["params"] > 0 and result["flops"] > 0 and result["train_images"] == 32
  assert "training PFLOPs" in report


def test_regularisation_smoke_runs_a_best_combination(tmp_path, monkeypatch):
  out, report, _ = _run_smoke(regularisation, tmp_path, monkeypatch, ("none", "l1_penalty"))
  assert (out / "runs" / "best_combination" / "seed_0" / "result.json").is_file()
  assert "best_combination" in report and "gap" in report
  result = json.loads((out / "runs" / "l1_penalty" / "seed_0" / "result.json").read_text())
  assert 0.0 <= result["near_zero_fraction"] <= 1.0


def test_imbalance_smoke(tmp_path, monkeypatch):
  _, report, _ = _run_smoke(imbalance, tmp_path, monkeypatch, ("none", "oversample"))
  assert "most frequent" in report


def test_domains_smoke(tmp_path, monkeypatch):
  out, report, summary = _run_smoke(
    domains, tmp_path, monkeypatch, ("heldout_sketch", "all_seen_styles")
  )
  result = json.loads((out / "runs" / "heldout_sketch" / "seed_0" / "result.json").read_text())
  assert set(result["evals"]["domain_sketch"]["per_domain"]) == {"SKETCH"}
  assert "Leave one domain out" in report
  splits = {r["variant"]: r["test_split"] for r in summary["runs"]}
  assert splits == {"heldout_sketch": "domain_sketch", "all_seen_styles": "test"}


def test_run_all_runs_studies_in_order_and_refreshes_the_digest(tmp_path, monkeypatch):
  smoke = imbalance.PRESETS["smoke"]
  chosen = [(v, s) for v, s in cli.run_plan(imbalance, smoke) if v.name == "none"]
  monkeypatch.setattr(imbalance, "plan", lambda preset: chosen, raising=False)
  readme, digest = tmp_path / "README.md", tmp_path / "SUMMARY.md"
  readme.write_text("<!-- BEGIN generated:imbalance -->\n<!-- END generated:imbalance -->\n")
  failed = run_all.run(
    "smoke",
    ["imbalance"],
    tmp_path / "results",
    digest_args=[f"--readme={readme}", f"--summary={digest}"],
  )
  assert failed == 0
  assert "**Class imbalance** (preset `smoke`" in digest.read_text()
  assert "Finished runs: 1 of 1" in readme.read_text()


def test_run_all_refuses_a_second_driver(tmp_path):
  lock = tmp_path / "run_all.lock"
  lock.write_text("1")  # pid 1 is always alive
  with pytest.raises(SystemExit, match="another run_all"):
    run_all.acquire_lock(lock)
  lock.write_text("999999999")  # no such process: a stale lock
  run_all.acquire_lock(lock)


def test_a_run_stopped_by_sigterm_is_resumed_not_recorded(tmp_path, monkeypatch, capsys):
  """SIGTERM makes the trainer save and return early: that run is not a result; the next call
  resumes it from the saved step and only then writes result.json."""
  from abstract_cls.train import loop  # pylint: disable=g-import-not-at-top

  smoke = depth.PRESETS["smoke"]
  chosen = [(v, s) for v, s in cli.run_plan(depth, smoke) if v.name == "resnet20"]
  monkeypatch.setattr(depth, "plan", lambda preset: chosen, raising=False)
  out = tmp_path / "depth"
  result_path = out / "runs" / "resnet20" / "seed_0" / "result.json"
  with monkeypatch.context() as m:
    m.setattr(loop.Preemption, "reached", lambda self, manager, step: step >= 1)
    assert cli.main(depth, ["--preset=smoke", f"--out={out}"]) == cli.STOPPED_EXIT_CODE
  assert "stopped by SIGTERM at step 1" in capsys.readouterr().out
  assert not result_path.exists()
  assert cli.main(depth, ["--preset=smoke", f"--out={out}"]) == 0
  result = json.loads(result_path.read_text())
  assert result["final_step"] == 2 and result["resumed_from_step"] == 1


def test_a_changed_config_reruns_instead_of_resuming(tmp_path, monkeypatch):
  smoke = imbalance.PRESETS["smoke"]
  variant = sweep.Variant("none", {})
  specs = [cli._aliased(s, smoke) for s in imbalance.eval_specs(smoke)]  # pylint: disable=protected-access
  _, trained = sweep.run_one(imbalance.CONFIG_FILE, smoke, variant, 0, tmp_path, specs)
  assert trained
  _, trained = sweep.run_one(imbalance.CONFIG_FILE, smoke, variant, 0, tmp_path, specs)
  assert not trained
  fixup = dataclasses.replace(variant, init="he")
  _, trained = sweep.run_one(imbalance.CONFIG_FILE, smoke, fixup, 0, tmp_path, specs)
  assert trained  # another initialisation is another run
  assert (tmp_path / "replaced" / "none" / "seed_0-1" / "result.json").exists()  # kept


def test_a_run_stays_done_when_the_code_adds_or_removes_a_config_field():
  defaults = {"train.a": 1, "train.new": 0}
  recorded = {"train.a": 1, "train.removed": 5}
  assert run_identity.differing_settings(recorded, {"train.a": 1, "train.new": 0}, defaults) == []
  assert run_identity.differing_settings(recorded, {"train.a": 2, "train.new": 0}, defaults) == [
    "train.a"
  ]
  assert run_identity.differing_settings(recorded, {"train.a": 1, "train.new": 3}, defaults) == [
    "train.new"
  ]
