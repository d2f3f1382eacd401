"""Regularisation study on one model: each regulariser alone, then the best combination.

Command: python -m experiments.regularisation --preset=quick --out=experiments/results/regularisation
Baseline 'none': no augmentation, no weight decay, no dropout, no label smoothing. Every other
variant adds one regulariser. 'best_combination' then combines the regularisers whose single
runs beat the baseline on VALIDATION macro-F1 (the best three at most; chosen on the first
seed and kept for the others), so the test split plays no part in the choice. Reports train vs test accuracy (generalisation gap), macro-F1 and, for
every run, the fraction of near-zero weights (|w| < 1e-3; the point of L1).
"""

from __future__ import annotations

import json
import pathlib
import sys

import jax
import numpy as np

from abstract_cls.data.config import data_config
from experiments import cli, presets, sweep, tables

STUDY = "regularisation"
CONFIG_FILE = "configs/lenet.py"
NEAR_ZERO = 1e-3
MAX_COMBINED = 3

_NO_AUGMENT = {
  "data.augment.random_resized_crop": False,
  "data.augment.horizontal_flip": False,
  "data.augment.rotation_degrees": 0.0,
  "data.augment.shear_degrees": 0.0,
  "data.augment.translate_fraction": 0.0,
  "data.augment.ink_strength": 0.0,
  "data.augment.saturation": 0.0,
  "data.augment.hue_degrees": 0.0,
  "data.augment.grayscale_probability": 0.0,
}
_BASELINE = presets.merged(
  _NO_AUGMENT,
  {"optimizer.weight_decay": 0.0, "model.options.dropout": 0.0, "loss.label_smoothing": 0.0},
)

PRESETS = {
  "tiny": sweep.Preset(
    "tiny",
    "synthetic set, 16 px, 2 steps",
    presets.TINY_SEEDS,
    presets.merged(presets.TINY_DATA, _BASELINE),
    split_alias=presets.TINY_ALIAS,
  ),
  "quick": sweep.Preset(
    "quick",
    "abstract_icons, lenet5 (AdamW 2e-3), 32 px, 6 epochs",
    presets.SEEDS,
    presets.merged(
      presets.QUICK_DATA,
      _BASELINE,
      {"train.num_epochs": 6.0, "train.eval_every_epochs": 2.0, "train.log_every": 25},
    ),
  ),
  "full": sweep.Preset(
    "full",
    "abstract_icons, lenet5 (AdamW 2e-3), 64 px, 60 epochs",
    presets.SEEDS,
    presets.merged(
      presets.FULL_DATA,
      _BASELINE,
      {"train.num_epochs": 60.0, "train.eval_every_epochs": 5.0, "train.log_every": 50},
    ),
  ),
}

# One regulariser each, on top of the baseline.
SINGLE = {
  "weight_decay": {"optimizer.weight_decay": 0.05},  # AdamW: decoupled
  "l2_penalty": {"loss.l2": 5e-4},
  "l1_penalty": {"loss.l1": 5e-5},
  "dropout": {"model.options.dropout": 0.5},
  # The pipeline's default augmentation (crop, flip, small affine, ink colour jitter).
  "augmentation": {f"data.augment.{k}": v for k, v in data_config().augment.items()},
  "mixup": {"data.mixup_alpha": 0.2},
  "cutmix": {"data.cutmix_alpha": 1.0},
  "label_smoothing": {"loss.label_smoothing": 0.1},
}


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  del preset
  out = [sweep.Variant("none", {}, labels=dict(parts=()))]
  out += [sweep.Variant(name, o, labels=dict(parts=(name,))) for name, o in SINGLE.items()]
  return out


def followup_variants(preset: sweep.Preset, results, out_dir) -> list[sweep.Variant]:
  """'best_combination' from the single runs' validation macro-F1 (never the test split).

  Chosen once, from the first seed that finished, and kept in OUT/best_combination.json so
  that every seed runs the same combination.
  """
  del preset
  saved = pathlib.Path(out_dir) / "best_combination.json"
  if saved.exists():
    chosen = json.loads(saved.read_text())["chosen"]
  else:
    chosen = _choose(results)
    saved.write_text(
      json.dumps({"chosen": chosen, "from_seeds": sorted({r["seed"] for r in results})}, indent=1)
    )
  overrides = {}
  for name in chosen:
    overrides.update(SINGLE[name])
  return [sweep.Variant("best_combination", overrides, labels=dict(parts=tuple(chosen)))]


def _choose(results) -> list[str]:
  groups = tables.by_variant(results)
  val = lambda r: r["evals"]["validation"]["macro_f1"]
  base = tables.mean_std(tables.column(groups.get("none", []), val))[0]
  scored = [(tables.mean_std(tables.column(groups[n], val))[0], n) for n in SINGLE if n in groups]
  chosen = [n for m, n in sorted(scored, reverse=True) if m > base][:MAX_COMBINED]
  if not chosen and scored:
    chosen = [max(scored)[1]]
  return chosen


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  return [
    sweep.EvalSpec("train", ("train",)),
    sweep.EvalSpec("validation", ("validation",)),
    sweep.EvalSpec("test", ("test",)),
  ]


def extra(config, workdir: str) -> dict:
  """Fraction of decayed weights (kernels) with |w| < NEAR_ZERO in the selected checkpoint."""
  from flax import nnx  # pylint: disable=g-import-not-at-top

  del config
  model, _, _ = sweep.restore_best(workdir)
  leaves = [
    np.asarray(x) for x in jax.tree_util.tree_leaves(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
  ]
  kernels = [x.ravel() for x in leaves if x.ndim >= 2]
  weights = np.concatenate(kernels) if kernels else np.zeros(0)
  return {
    "near_zero_fraction": float(np.mean(np.abs(weights) < NEAR_ZERO)) if len(weights) else 0.0,
    "num_kernel_weights": int(len(weights)),
  }


def _acc(spec):
  return lambda r: r["evals"][spec]["accuracy"]


def write_report(results, meta, out_dir) -> str:
  out_dir = pathlib.Path(out_dir)
  groups = tables.by_variant(results)
  gap = lambda r: r["evals"]["train"]["accuracy"] - r["evals"]["test"]["accuracy"]
  rows = []
  for name, runs in groups.items():
    parts = runs[0]["labels"].get("parts", ())
    label = name if name != "best_combination" else f"best_combination ({' + '.join(parts)})"
    rows.append(
      [
        label,
        tables.fmt(tables.column(runs, _acc("train"))),
        tables.fmt(tables.column(runs, _acc("test"))),
        tables.fmt(tables.column(runs, gap)),
        tables.fmt(tables.column(runs, lambda r: r["evals"]["validation"]["macro_f1"])),
        tables.fmt(tables.column(runs, lambda r: r["evals"]["test"]["macro_f1"])),
        tables.fmt(tables.column(runs, lambda r: r["near_zero_fraction"])),
      ]
    )
  text = tables.markdown_table(
    [
      "variant",
      "train accuracy %",
      "test accuracy %",
      "gap (train - test) points",
      "val macro-F1 %",
      "test macro-F1 %",
      f"weights with abs < {NEAR_ZERO:g} %",
    ],
    rows,
  )
  text += (
    "\nTrain accuracy: the selected checkpoint on the whole training split without "
    "augmentation. Checkpoint selected on validation macro-F1.\n\n"
  )
  fig, axes = tables.new_figure(ncols=2, width=5.5)
  names = list(groups)
  x = np.arange(len(names))
  for ax, (title, pairs) in zip(
    axes[0],
    [
      ("accuracy: train vs test", [("train", _acc("train")), ("test", _acc("test"))]),
      ("test macro-F1", [("test macro-F1", lambda r: r["evals"]["test"]["macro_f1"])]),
    ],
  ):
    width = 0.8 / len(pairs)
    for k, (label, getter) in enumerate(pairs):
      stats = [tables.mean_std(tables.column(groups[n], getter)) for n in names]
      ax.bar(
        x + k * width,
        [100 * m for m, _ in stats],
        width,
        yerr=[100 * s for _, s in stats],
        capsize=2,
        label=label,
      )
    ax.set_xticks(x + 0.4 - width / 2)
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("%")
    ax.set_title(title)
    ax.legend(fontsize=7)
  plot = tables.save_figure(fig, out_dir / "generalisation_gap.png")
  text += f"![{plot}]({plot})\n\n**Findings:**\n\n"
  text += "".join(f"- {line}\n" for line in findings(groups))
  return text


def findings(groups) -> list[str]:
  f1 = lambda r: r["evals"]["test"]["macro_f1"]
  gap = lambda r: r["evals"]["train"]["accuracy"] - r["evals"]["test"]["accuracy"]
  train_acc = lambda r: r["evals"]["train"]["accuracy"]
  test_acc = lambda r: r["evals"]["test"]["accuracy"]
  stat = lambda n, g: tables.mean_std(tables.column(groups[n], g))[0]
  if "none" not in groups:
    return ["baseline not run"]
  base_f1, base_gap = stat("none", f1), stat("none", gap)
  ranked = sorted((stat(n, f1), n) for n in groups if n != "none")
  lines = [f"Baseline: test macro-F1 {100 * base_f1:.1f}%, gap {100 * base_gap:.1f} points."]
  for m, n in reversed(ranked):
    # The literature's claim for every regulariser: a smaller gap and a better test score.
    verdict = {
      1: "agrees with the literature (better test score)",
      -1: "disagrees with the literature at this budget (worse test score)",
      0: "no test change beyond the seed spread",
    }[tables.compare(groups[n], groups["none"], f1)]
    train_drop = stat("none", train_acc) - stat(n, train_acc)
    test_drop = stat("none", test_acc) - stat(n, test_acc)
    if stat(n, gap) < base_gap - 0.03 and train_drop > 0.03 and test_drop > 0:
      verdict += (
        "; the gap narrows because training accuracy falls "
        f"({100 * train_drop:.1f} points), not because test accuracy rises: the model "
        "underfits this short budget"
      )
    lines.append(
      f"{n}: test macro-F1 {100 * m:.1f}% ({100 * (m - base_f1):+.1f}), gap "
      f"{100 * stat(n, gap):.1f} points ({100 * (stat(n, gap) - base_gap):+.1f}): "
      f"{verdict}."
    )
  if "l1_penalty" in groups:
    z = lambda r: r["near_zero_fraction"]
    lines.append(
      f"L1 leaves {100 * stat('l1_penalty', z):.1f}% of the weights near zero vs "
      f"{100 * stat('none', z):.1f}% without it"
      + (f" and {100 * stat('l2_penalty', z):.1f}% with L2" if "l2_penalty" in groups else "")
      + "."
    )
  return lines


def summary_line(results, meta) -> str:
  groups = tables.by_variant(results)
  f1 = lambda r: r["evals"]["test"]["macro_f1"]
  best = max(groups, key=lambda n: tables.mean_std(tables.column(groups[n], f1))[0])
  parts = [f"none {tables.fmt(tables.column(groups['none'], f1))}"] if "none" in groups else []
  parts.append(f"best {best} {tables.fmt(tables.column(groups[best], f1))}")
  return (
    f"**Regularisation** (preset `{meta['preset']}`, commit {tables.short_commit(meta)}): test "
    f"macro-F1 % " + ", ".join(parts) + "."
  )


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
