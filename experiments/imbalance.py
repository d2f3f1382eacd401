"""Imbalance study: no fix, oversampling, undersampling, class-weighted loss, focal loss.

Command: python -m experiments.imbalance --preset=quick --out=experiments/results/imbalance
Every variant trains for the same number of steps (samplers change the epoch length) and is
evaluated at the end. Reports macro-F1, accuracy and the recall of the rarest and the most
frequent training classes.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from experiments import cli, presets, sweep, tables

STUDY = "imbalance"
CONFIG_FILE = "configs/lenet.py"
NUM_EXTREME = 3  # rarest / most frequent classes shown

# Same step budget for every sampler: num_epochs is a ceiling, max_steps decides; one
# evaluation at the end (the selected checkpoint is the last).
_BUDGET = {"train.num_epochs": 1000.0, "train.eval_every_epochs": 1000.0}

PRESETS = {
  "tiny": sweep.Preset(
    "tiny",
    "synthetic set, 16 px, 2 steps",
    presets.TINY_SEEDS,
    presets.merged(presets.TINY_DATA, {"data.undersample_cap": 4}),
    split_alias=presets.TINY_ALIAS,
  ),
  "quick": sweep.Preset(
    "quick",
    "abstract_icons, lenet5, 32 px, 150 steps of 128 (~5 epochs)",
    presets.SEEDS,
    presets.merged(
      presets.QUICK_DATA,
      _BUDGET,
      {"train.max_steps": 150, "train.log_every": 25, "data.undersample_cap": 100},
    ),
  ),
  "full": sweep.Preset(
    "full",
    "abstract_icons, resnet20, 64 px, 3000 steps of 128",
    presets.SEEDS,
    presets.merged(
      presets.FULL_DATA,
      _BUDGET,
      {
        "model.name": "resnet20",
        "model.options.in_channels": 3,
        "optimizer.name": "sgd",
        "optimizer.lr": 0.1,
        "optimizer.weight_decay": 5e-4,
        "train.max_steps": 3000,
        "train.log_every": 50,
        "data.undersample_cap": 150,
      },
    ),
  ),
}

METHODS = {
  "none": {},
  "oversample": {"data.balance": "oversample"},
  "undersample": {"data.balance": "undersample"},
  "class_weighted": {"data.class_weighting": "inverse"},
  "focal": {"loss.focal_gamma": 2.0},
}


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  del preset
  return [sweep.Variant(name, o, labels=dict(method=name)) for name, o in METHODS.items()]


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  return [sweep.EvalSpec("test", ("test",))]


def extra(config, workdir: str) -> dict:
  """Training class counts after this run's filter (ranks the rarest / most frequent)."""
  labels, _, files = sweep.split_metadata(config.data, "train")
  if config.data.cleaned_manifest:
    from abstract_cls.data import sources  # pylint: disable=g-import-not-at-top

    removed = sources.read_cleaned_manifest(config.data.cleaned_manifest)
    labels = labels[[f not in removed for f in files]]
  del workdir
  return {"train_class_counts": np.bincount(labels, minlength=20).tolist()}


def _codes():
  from abstract_cls import taxonomy  # pylint: disable=g-import-not-at-top

  return taxonomy.class_codes()


def extremes(results) -> tuple[list[int], list[int], np.ndarray]:
  """The rarest and most frequent training classes among those the test split holds (a
  class with no test image has no recall to compare)."""
  counts = np.mean([r["train_class_counts"] for r in results], axis=0)
  per_class = results[0]["evals"]["test"]["per_class"]
  tested = np.array([per_class.get(c, {}).get("support", 0) > 0 for c in _codes()])
  present = np.flatnonzero((counts > 0) & tested)
  order = present[np.argsort(counts[present], kind="stable")]
  return order[:NUM_EXTREME].tolist(), order[::-1][:NUM_EXTREME].tolist(), counts


def _recall(code):
  return lambda r: r["evals"]["test"]["per_class"][code]["recall"]


def _group_recall(codes_list):
  return lambda r: np.mean([r["evals"]["test"]["per_class"][c]["recall"] for c in codes_list])


def write_report(results, meta, out_dir) -> str:
  out_dir = pathlib.Path(out_dir)
  groups = tables.by_variant(results)
  rare, frequent, counts = extremes(results)
  codes = _codes()
  rare_codes, freq_codes = [codes[i] for i in rare], [codes[i] for i in frequent]
  support = results[0]["evals"]["test"]["per_class"]
  headers = [
    "method",
    "test macro-F1 %",
    "test accuracy %",
    f"mean recall, {NUM_EXTREME} rarest %",
    f"mean recall, {NUM_EXTREME} most frequent %",
  ] + [
    f"recall {c} (train {counts[codes.index(c)]:.0f}, test {support[c]['support']}) %"
    for c in rare_codes + freq_codes
  ]
  rows = []
  for name, runs in groups.items():
    rows.append(
      [
        name,
        tables.fmt(tables.column(runs, lambda r: r["evals"]["test"]["macro_f1"])),
        tables.fmt(tables.column(runs, lambda r: r["evals"]["test"]["accuracy"])),
        tables.fmt(tables.column(runs, _group_recall(rare_codes))),
        tables.fmt(tables.column(runs, _group_recall(freq_codes))),
      ]
      + [tables.fmt(tables.column(runs, _recall(c))) for c in rare_codes + freq_codes]
    )
  text = tables.markdown_table(headers, rows)
  fig, axes = tables.new_figure(width=8.0)
  ax = axes[0][0]
  names = list(groups)
  shown = rare_codes + freq_codes
  width = 0.8 / max(len(names), 1)
  for k, name in enumerate(names):
    ms = [100 * tables.mean_std(tables.column(groups[name], _recall(c)))[0] for c in shown]
    ax.bar(np.arange(len(shown)) + k * width, ms, width, label=name)
  ax.set_xticks(np.arange(len(shown)) + 0.4 - width / 2)
  ax.set_xticklabels([f"{c}\n(n={counts[codes.index(c)]:.0f})" for c in shown], fontsize=7)
  ax.set_ylabel("test recall (%)")
  ax.set_title("rarest (left) and most frequent (right) training classes")
  ax.legend(fontsize=7)
  plot = tables.save_figure(fig, out_dir / "recall_rare_vs_frequent.png")
  text += f"\n![{plot}]({plot})\n\n"
  text += (
    "Recall per class is over the test split, whose rarest classes have few images "
    "(support in the header), so their recalls move in large steps.\n\n"
  )
  text += "**Findings:**\n\n" + "".join(f"- {x}\n" for x in findings(groups, rare_codes))
  return text


def findings(groups, rare_codes) -> list[str]:
  f1 = lambda r: r["evals"]["test"]["macro_f1"]
  base_f1 = tables.mean_std(tables.column(groups.get("none", []), f1))[0]
  base_rare = tables.mean_std(tables.column(groups.get("none", []), _group_recall(rare_codes)))[0]
  lines = []
  for name, runs in groups.items():
    if name == "none":
      continue
    m = tables.mean_std(tables.column(runs, f1))[0]
    rare = tables.mean_std(tables.column(runs, _group_recall(rare_codes)))[0]
    direction = tables.compare(runs, groups.get("none", []), f1)
    f1_up, f1_down = direction > 0, direction < 0
    rare_up = rare > base_rare
    # The literature's claim: rebalancing trades head accuracy for tail recall and macro-F1.
    verdict = (
      "agrees with the literature (both higher)"
      if f1_up and rare_up
      else "agrees only in part (macro-F1 higher, rarest-class recall not)"
      if f1_up
      else "agrees only in part (rarest-class recall higher, macro-F1 not)"
      if rare_up
      else "disagrees with the literature at this budget (neither higher)"
    )
    change = "higher" if f1_up else "lower" if f1_down else "no change beyond the seed spread"
    lines.append(
      f"{name}: macro-F1 {100 * m:.1f}% vs {100 * base_f1:.1f}% without a fix "
      f"({100 * (m - base_f1):+.1f} points, {change}); rarest-class recall "
      f"{100 * rare:.1f}% vs {100 * base_rare:.1f}%: {verdict}."
    )
  return lines


def summary_line(results, meta) -> str:
  groups = tables.by_variant(results)
  f1 = lambda r: r["evals"]["test"]["macro_f1"]
  parts = [f"{n} {tables.fmt(tables.column(runs, f1))}" for n, runs in groups.items()]
  return (
    f"**Imbalance** (preset `{meta['preset']}`, commit {tables.short_commit(meta)}): test macro-F1 % "
    + ", ".join(parts)
    + "."
  )


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
