"""experiments/: sweep machinery units, and each study's tiny preset end to end (train, report).

The end-to-end tests run two variants with one seed on the synthetic set (16 px, 2 steps) —
the cost is the trainer's compiles — and check that report.md, summary.md and the plots exist
and that a second call skips the finished runs.
"""

import csv
import dataclasses
import json

import pytest

from experiments import (
  architectures,
  cli,
  depth,
  domains,
  imbalance,
  regularisation,
  report_all,
  sweep,
  tables,
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


def test_mean_std_fmt_and_table():
  assert tables.mean_std([0.5, 0.7]) == pytest.approx((0.6, 0.1414213), rel=1e-5)
  assert tables.mean_std([0.3]) == (0.3, 0.0)
  assert tables.fmt([0.5, 0.7, 0.6]) == "60.0 ± 10.0"
  assert tables.fmt([0.5, 0.7]) == "60.0 ± 14.1 (2 seeds)"
  assert tables.fmt([0.5]) == "50.0 (1 seed)"
  assert tables.fmt([float("nan")]) == "n/a"
  text = tables.markdown_table(["a", "b"], [[1, 2]])
  assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]
  stamp = tables.stamp(
    dict(
      preset="quick",
      seeds=[0, 1, 2],
      machine="2-core X",
      commit="abc",
      command="python -m experiments.depth",
    )
  )
  assert "`quick`" in stamp and "2-core X" in stamp and "abc" in stamp


def test_train_filter_keeps_training_domains_and_a_stratified_fraction(tmp_path):
  config = sweep.load_config("configs/lenet.py")
  config.data.name = "synthetic"
  config.data.synthetic_num_examples = 120
  data = config.data
  preset = sweep.Preset("t", "t", (0,), {}, train_fraction=0.5)
  variant = sweep.Variant("v", {}, train_domains=("SKETCH", "PICTOGRAM"))
  path = sweep.write_train_filter(data, preset, variant, 0, tmp_path / "f.csv")
  with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
  labels, doms, files = sweep.split_metadata(data, "train")
  kept = {r["file_name"] for r in rows if r["keep"] == "1"}
  illustration = sweep.domain_indices(["ILLUSTRATION"])[0]
  assert not any(f in kept for f, d in zip(files, doms) if d == illustration)
  kept_train = [f for f in files if f in kept]
  eligible = sum(d != illustration for d in doms)
  assert 0.35 * eligible <= len(kept_train) <= 0.65 * eligible
  assert {int(y) for y, f in zip(labels, files) if f in kept} == {
    int(y) for y, d in zip(labels, doms) if d != illustration
  }  # every class survives


def test_report_all_rewrites_sections_and_image_links(tmp_path):
  results = tmp_path / "results"
  (results / "depth").mkdir(parents=True)
  (results / "depth" / "report.md").write_text("| x |\n![p](plot.png)\n")
  (results / "depth" / "summary.md").write_text("**Depth**: 1.0")
  readme = tmp_path / "README.md"
  readme.write_text(
    "intro\n<!-- BEGIN generated:depth -->\nold\n<!-- END generated:depth -->\n"
    "<!-- BEGIN generated:domains -->\n<!-- END generated:domains -->\n"
  )
  assert (
    report_all.main(
      [f"--results={results}", f"--readme={readme}", f"--summary={tmp_path / 'SUMMARY.md'}"]
    )
    == 0
  )
  text = readme.read_text()
  assert "![p](results/depth/plot.png)" in text and "old" not in text
  assert "Not run yet" in text
  assert "**Depth**: 1.0" in (tmp_path / "SUMMARY.md").read_text()
  assert (
    report_all.main(
      [
        f"--results={results}",
        f"--readme={readme}",
        f"--summary={tmp_path / 'SUMMARY.md'}",
        "--check",
      ]
    )
    == 0
  )


def _run_tiny(module, tmp_path, monkeypatch, keep_variants):
  """The study's tiny preset with one seed and the named variants only."""
  tiny = dataclasses.replace(module.PRESETS["tiny"], seeds=(0,))
  monkeypatch.setitem(module.PRESETS, "tiny", tiny)
  chosen = [v for v in module.variants(tiny) if v.name in keep_variants]
  assert [v.name for v in chosen] == list(keep_variants)
  monkeypatch.setattr(module, "variants", lambda preset: chosen)
  out = tmp_path / module.STUDY
  assert cli.main(module, ["--preset=tiny", f"--out={out}"]) == 0
  report = (out / "report.md").read_text()
  assert "Preset `tiny`" in report and "| " in report
  for line in report.splitlines():
    if line.startswith("!["):
      assert (out / line.split("](")[1].rstrip(")")).is_file(), line
  assert (out / "summary.md").read_text().strip()
  results = sweep.load_results(out)
  assert {r["study_variant"] for r in results} >= set(keep_variants)
  return out, report


def test_depth_tiny(tmp_path, monkeypatch):
  out, report = _run_tiny(depth, tmp_path, monkeypatch, ("plain20_batch", "resnet20_none"))
  assert (out / "grad_norm_vs_layer.png").is_file()
  assert (out / "train_error_vs_epoch.png").is_file()
  norms = sweep.layer_grad_norms(out / "runs" / "plain20_batch" / "seed_0")
  assert norms and norms[0]["step"] == 1  # the gradient of the initial weights
  assert "Findings" in report


def test_architectures_tiny_and_skip_if_done(tmp_path, monkeypatch, capsys):
  out, report = _run_tiny(architectures, tmp_path, monkeypatch, ("lenet5", "resnet18"))
  result = json.loads((out / "runs" / "lenet5" / "seed_0" / "result.json").read_text())
  assert result["params"] > 0 and result["flops"] > 0
  assert "parameters (M)" in report
  capsys.readouterr()
  assert cli.main(architectures, ["--preset=tiny", f"--out={out}"]) == 0
  assert capsys.readouterr().out.count("[skip]") == 2


def test_regularisation_tiny_runs_a_best_combination(tmp_path, monkeypatch):
  out, report = _run_tiny(regularisation, tmp_path, monkeypatch, ("none", "l1_penalty"))
  assert (out / "runs" / "best_combination" / "seed_0" / "result.json").is_file()
  assert "best_combination" in report and "gap" in report
  result = json.loads((out / "runs" / "l1_penalty" / "seed_0" / "result.json").read_text())
  assert 0.0 <= result["near_zero_fraction"] <= 1.0


def test_imbalance_tiny(tmp_path, monkeypatch):
  _, report = _run_tiny(imbalance, tmp_path, monkeypatch, ("none", "oversample"))
  assert "most frequent" in report


def test_domains_tiny(tmp_path, monkeypatch):
  out, report = _run_tiny(domains, tmp_path, monkeypatch, ("heldout_sketch", "all_seen_styles"))
  result = json.loads((out / "runs" / "heldout_sketch" / "seed_0" / "result.json").read_text())
  assert set(result["evals"]["domain_sketch"]["per_domain"]) == {"SKETCH"}
  assert "Leave one domain out" in report
