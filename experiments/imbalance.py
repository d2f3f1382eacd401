"""Imbalance study: no fix, oversampling, undersampling, class-weighted loss, focal loss.

Command: python -m experiments.imbalance --preset=cpu
The shared strong baseline (presets.strong_baseline); every variant trains for the same
number of steps (samplers change the epoch length) and keeps the checkpoint with the best
validation macro-F1. Reports macro-F1, accuracy and the recall of the rarest and the most
frequent training classes.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from experiments import cli, convergence, sweep, tables, train_filter
from experiments import findings as findings_lib
from experiments import presets as presets_lib

STUDY = "imbalance"
TITLE = "Class imbalance"
CONFIG_FILE = "configs/default.py"
CRITERION = convergence.Plateau()
NUM_EXTREME = 3  # rarest / most frequent classes shown
# The step budget's unit: one epoch of the natural training split (4159 images, batch 128).
# num_epochs is only a ceiling; max_steps decides, so every sampler gets the same steps.
STEPS_PER_EPOCH = 32  # 4159 // 128: the trainer drops the last partial batch


METHODS = {
  "none": ({}, ""),
  "oversample": ({"data.balance": "oversample"}, "Buda et al. 2018 (oversampling)"),
  "undersample": ({"data.balance": "undersample"}, "Buda et al. 2018 (undersampling)"),
  "class_weighted": ({"data.class_weighting": "inverse"}, "inverse-frequency class weights"),
  "focal": ({"loss.focal_gamma": 2.0}, "Lin et al. 2017 (focal loss, gamma 2)"),
}

PRESETS = {
  "smoke": sweep.Preset(
    "smoke",
    "synthetic set, 16 px, 2 steps",
    presets_lib.SMOKE_SEEDS,
    presets_lib.merged(presets_lib.SMOKE, presets_lib.SMOKE_LENET, {"data.undersample_cap": 4}),
    split_alias=presets_lib.SMOKE_ALIAS,
  ),
  "cpu": sweep.Preset(
    "cpu",
    "abstract_icons, resnet18 (ImageNet stem, width 0.5), 64 px, SGD cosine, 60 epochs' "
    "steps for every sampler",
    presets_lib.SEEDS,
    presets_lib.merged(
      presets_lib.CPU,
      presets_lib.strong_baseline(64, 60.0),
      {"train.num_epochs": 10000.0, "train.max_steps": 60 * STEPS_PER_EPOCH},
      {"data.undersample_cap": 100},
    ),
  ),
  "gpu": sweep.Preset(
    "gpu",
    "abstract_icons, resnet18 (ImageNet stem, width 0.5), 128 px, SGD cosine, 100 epochs' "
    "steps for every sampler",
    presets_lib.SEEDS,
    presets_lib.merged(
      presets_lib.GPU,
      presets_lib.strong_baseline(128, 100.0),
      {"train.num_epochs": 10000.0, "train.max_steps": 100 * STEPS_PER_EPOCH},
      {"data.undersample_cap": 150},
    ),
  ),
}


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  del preset
  return [sweep.Variant(name, o, labels=dict(method=name)) for name, (o, _) in METHODS.items()]


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  return [sweep.EvalSpec("test", ("test",))]


def extra(config, workdir: str) -> dict:
  """Training class counts after this run's filter (ranks the rarest / most frequent)."""
  labels, _, files = train_filter.split_metadata(config.data, "train")
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


def _f1(r) -> float:
  return r["evals"]["test"]["macro_f1"]


def _extreme_codes(runs) -> tuple[list[str], list[str], np.ndarray]:
  rare, frequent, counts = extremes(runs)
  codes = _codes()
  return [codes[i] for i in rare], [codes[i] for i in frequent], counts


def report(runs, meta, out_dir) -> str:
  del meta
  groups = tables.by_variant(runs)
  rare_codes, freq_codes, counts = _extreme_codes(runs)
  codes = _codes()
  support = runs[0]["evals"]["test"]["per_class"]
  headers = [
    "method",
    "converged",
    "test macro-F1 %",
    "test accuracy %",
    f"mean recall, {NUM_EXTREME} rarest %",
    f"mean recall, {NUM_EXTREME} most frequent %",
  ] + [
    f"recall {c} (train {counts[codes.index(c)]:.0f}, test {support[c]['support']}) %"
    for c in rare_codes + freq_codes
  ]
  rows = []
  for name, rs in groups.items():
    rows.append(
      [
        name,
        f"{sum(r['converged'] for r in rs)}/{len(rs)}",
        tables.fmt(tables.column(rs, _f1)),
        tables.fmt(tables.column(rs, lambda r: r["evals"]["test"]["accuracy"])),
        tables.fmt(tables.column(rs, _group_recall(rare_codes))),
        tables.fmt(tables.column(rs, _group_recall(freq_codes))),
      ]
      + [tables.fmt(tables.column(rs, _recall(c))) for c in rare_codes + freq_codes]
    )
  text = tables.markdown_table(headers, rows)
  fig, axes = tables.new_figure(width=8.0)
  ax = axes[0][0]
  names = list(groups)
  shown = rare_codes + freq_codes
  width = 0.8 / max(len(names), 1)
  for k, name in enumerate(names):
    stats = [tables.mean_std(tables.column(groups[name], _recall(c))) for c in shown]
    ax.bar(
      np.arange(len(shown)) + k * width,
      [100 * m for m, _ in stats],
      width,
      yerr=[100 * s for _, s in stats],
      capsize=2,
      label=f"{name} (n={len(groups[name])})",
    )
  ax.set_xticks(np.arange(len(shown)) + 0.4 - width / 2)
  ax.set_xticklabels([f"{c}\n(n={counts[codes.index(c)]:.0f})" for c in shown], fontsize=7)
  ax.set_ylabel("test recall (%), mean ± std")
  ax.set_title("rarest (left) and most frequent (right) training classes")
  ax.legend(fontsize=7)
  plot = tables.save_figure(fig, pathlib.Path(out_dir) / "recall_rare_vs_frequent.png")
  text += f"\n![{plot}]({plot})\n\n"
  text += (
    "Recall per class is over the test split, whose rarest classes have few images "
    "(support in the header), so their recalls move in large steps.\n"
  )
  return text


def findings(runs, out_dir) -> list[findings_lib.Finding]:
  del out_dir
  if not runs:
    return []
  groups = tables.by_variant(runs)
  base = groups.get("none", [])
  rare_codes, _, _ = _extreme_codes(runs)
  rare = _group_recall(rare_codes)
  stat = lambda rs, g: tables.mean_std(tables.column(rs, g))[0]
  out = []
  for name, rs in groups.items():
    if name == "none":
      continue
    direction = tables.compare(rs, base, _f1)
    out.append(
      findings_lib.Finding(
        f"{METHODS[name][1]}: rebalancing raises macro-F1 and the rarest classes' recall over "
        "plain training",
        findings_lib.check(
          direction > 0 and stat(rs, rare) > stat(base, rare), stat(rs, _f1), stat(base, _f1)
        ),
        f"test macro-F1 {tables.fmt(tables.column(rs, _f1), unit='%')} vs "
        f"{tables.fmt(tables.column(base, _f1), unit='%')} ("
        f"{'above' if direction > 0 else 'below' if direction < 0 else 'within'} the seed "
        f"spreads); recall of the {NUM_EXTREME} rarest classes {100 * stat(rs, rare):.1f}% vs "
        f"{100 * stat(base, rare):.1f}%.",
      )
    )
  return out


def key_figure(runs, out_dir) -> str:
  del out_dir
  groups = tables.by_variant(runs)
  return (
    "test macro-F1: "
    + ", ".join(f"{n} {tables.fmt(tables.column(rs, _f1), unit='%')}" for n, rs in groups.items())
    + "."
  )


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
