"""Regularisation in a regime that overfits: each regulariser alone, then the best combination.

Command: python -m experiments.regularisation --preset=cpu
Baseline 'none': the shared strong baseline (presets.strong_baseline) with no augmentation,
no weight decay, no dropout, no label smoothing, trained to convergence, so its training
accuracy ends far above its test accuracy. Every other variant adds one regulariser.
'best_combination' then combines the regularisers whose single runs beat the baseline on
VALIDATION macro-F1 (the best three at most; chosen on the first seed and kept for the
others), so the test split plays no part in the choice. Reports train vs test accuracy (the
generalisation gap), macro-F1 and the sparsity of the weights (the point of L1).
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

from abstract_cls.data.config import data_config
from experiments import checkpoint_eval, cli, convergence, sweep, tables
from experiments import findings as findings_lib
from experiments import presets as presets_lib

STUDY = "regularisation"
TITLE = "Regularisation"
CONFIG_FILE = "configs/default.py"
CRITERION = convergence.Plateau()
NEAR_ZERO = 1e-3
MAX_COMBINED = 3
MIN_GAP = 0.2  # the baseline must overfit: clean training accuracy this far above test

_NO_AUGMENT = {
  f"data.augment.{k}": v
  for k, v in dict(
    random_resized_crop=False,
    horizontal_flip=False,
    rotation_degrees=0.0,
    shear_degrees=0.0,
    translate_fraction=0.0,
    ink_strength=0.0,
    saturation=0.0,
    hue_degrees=0.0,
    grayscale_probability=0.0,
  ).items()
}
_BASELINE = presets_lib.merged(
  _NO_AUGMENT,
  {"optimizer.weight_decay": 0.0, "model.options.dropout": 0.0, "loss.label_smoothing": 0.0},
)

# One regulariser each on top of the baseline, with the literature claim each one checks.
SINGLE = {
  "weight_decay": {"optimizer.weight_decay": 5e-4},  # SGD: the L2 penalty's gradient
  "l1_penalty": {"loss.l1": 2e-5},
  "dropout": {"model.options.dropout": 0.5},
  # The pipeline's default augmentation (crop, flip, small affine, ink colour jitter).
  "augmentation": {f"data.augment.{k}": v for k, v in data_config().augment.items()},
  "mixup": {"data.mixup_alpha": 0.2},
  "cutmix": {"data.cutmix_alpha": 1.0},
  "label_smoothing": {"loss.label_smoothing": 0.1},
}
SOURCES = {
  "weight_decay": "Krogh & Hertz 1992 (weight decay / L2)",
  "l1_penalty": "Tibshirani 1996 (L1 penalty)",
  "dropout": "Srivastava et al. 2014 (dropout)",
  "augmentation": "Krizhevsky et al. 2012 (data augmentation)",
  "mixup": "Zhang et al. 2018 (mixup)",
  "cutmix": "Yun et al. 2019 (CutMix)",
  "label_smoothing": "Szegedy et al. 2016 (label smoothing)",
  "best_combination": "the regularisers that helped alone",
}

PRESETS = {
  "smoke": sweep.Preset(
    "smoke",
    "synthetic set, 16 px, 2 steps",
    presets_lib.SMOKE_SEEDS,
    presets_lib.merged(presets_lib.SMOKE, presets_lib.SMOKE_LENET, _BASELINE),
    split_alias=presets_lib.SMOKE_ALIAS,
  ),
  "cpu": sweep.Preset(
    "cpu",
    "abstract_icons, resnet18 (ImageNet stem, width 0.5), 48 px, SGD cosine, 60 epochs",
    presets_lib.SEEDS,
    # 48 px: what fits 27 runs in the 2-core CPU budget (benchmarks/RESULTS.md, 1g).
    presets_lib.merged(presets_lib.CPU, presets_lib.strong_baseline(48, 60.0), _BASELINE),
  ),
  "gpu": sweep.Preset(
    "gpu",
    "abstract_icons, resnet18 (ImageNet stem, width 0.5), 128 px, SGD cosine, 100 epochs",
    presets_lib.SEEDS,
    presets_lib.merged(presets_lib.GPU, presets_lib.strong_baseline(128, 100.0), _BASELINE),
  ),
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
  """Sparsity of the selected checkpoint's kernels: |w| < NEAR_ZERO, and |w| below 1% of its
  layer's RMS weight (scale-free)."""
  import jax  # pylint: disable=g-import-not-at-top
  from flax import nnx  # pylint: disable=g-import-not-at-top

  del config
  model, _, _ = checkpoint_eval.restore_best(workdir)
  leaves = jax.tree_util.tree_leaves(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
  kernels = [np.asarray(x).ravel() for x in leaves if np.ndim(x) >= 2]
  if not kernels:
    return {"near_zero_fraction": 0.0, "relative_zero_fraction": 0.0, "num_kernel_weights": 0}
  weights = np.concatenate(kernels)
  relative = np.concatenate([np.abs(k) < 0.01 * np.sqrt(np.mean(k**2)) for k in kernels])
  return {
    "near_zero_fraction": float(np.mean(np.abs(weights) < NEAR_ZERO)),
    "relative_zero_fraction": float(np.mean(relative)),
    "num_kernel_weights": int(len(weights)),
  }


def _acc(spec):
  return lambda r: r["evals"][spec]["accuracy"]


def _gap(r) -> float:
  return r["evals"]["train"]["accuracy"] - r["evals"]["test"]["accuracy"]


def _f1(r) -> float:
  return r["evals"]["test"]["macro_f1"]


def report(runs, meta, out_dir) -> str:
  del meta
  groups = tables.by_variant(runs)
  rows = []
  for name, rs in groups.items():
    parts = rs[0]["labels"].get("parts", ())
    label = name if name != "best_combination" else f"best_combination ({' + '.join(parts)})"
    rows.append(
      [
        label,
        f"{sum(r['converged'] for r in rs)}/{len(rs)}",
        tables.fmt(tables.column(rs, _acc("train"))),
        tables.fmt(tables.column(rs, _acc("test"))),
        tables.fmt(tables.column(rs, _gap)),
        tables.fmt(tables.column(rs, lambda r: r["evals"]["validation"]["macro_f1"])),
        tables.fmt(tables.column(rs, _f1)),
        tables.fmt(tables.column(rs, lambda r: r["near_zero_fraction"])),
        tables.fmt(tables.column(rs, lambda r: r.get("relative_zero_fraction"))),
      ]
    )
  text = tables.markdown_table(
    [
      "variant",
      "converged",
      "train accuracy %",
      "test accuracy %",
      "gap (train - test) points",
      "val macro-F1 %",
      "test macro-F1 %",
      f"weights with abs < {NEAR_ZERO:g} %",
      "weights below 1% of their layer's RMS %",
    ],
    rows,
  )
  text += (
    "\nTrain accuracy: the selected checkpoint on the whole training split without "
    "augmentation. Checkpoint selected on validation macro-F1.\n\n"
  )
  plot = _plot(groups, out_dir)
  return text + f"![{plot}]({plot})\n"


def _plot(groups, out_dir) -> str:
  fig, axes = tables.new_figure(ncols=2, width=5.5)
  names = list(groups)
  x = np.arange(len(names))
  for ax, (title, pairs) in zip(
    axes[0],
    [
      ("accuracy: train vs test", [("train", _acc("train")), ("test", _acc("test"))]),
      ("test macro-F1", [("test macro-F1", _f1)]),
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
    ax.set_xticklabels(
      [f"{n} (n={len(groups[n])})" for n in names], rotation=45, ha="right", fontsize=7
    )
    ax.set_ylabel("%, mean ± std over seeds")
    ax.set_title(title)
    ax.legend(fontsize=7)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "generalisation_gap.png")


def bar(runs) -> tuple[bool | None, str]:
  base = [r for r in runs if r["study_variant"] == "none"]
  text = f"the baseline overfits: its train accuracy at least {100 * MIN_GAP:.0f} points above test"
  if not base:
    return None, text + " (no converged baseline run yet)"
  gap = tables.mean_std(tables.column(base, _gap))[0]
  return bool(gap >= MIN_GAP), text + f" (gap {100 * gap:.1f} points, n={len(base)})"


def _f1_text(runs) -> str:
  return tables.fmt(tables.column(runs, _f1), unit="%")


def findings(runs, out_dir) -> list[findings_lib.Finding]:
  del out_dir
  groups = tables.by_variant(runs)
  base = groups.get("none", [])
  stat = lambda rs, g: tables.mean_std(tables.column(rs, g))[0]
  out = []
  for name, rs in groups.items():
    if name == "none":
      continue
    direction = tables.compare(rs, base, _f1)
    out.append(
      findings_lib.Finding(
        f"{SOURCES.get(name, name)}: {name} narrows the generalisation gap and raises test "
        "macro-F1 over the unregularised baseline",
        findings_lib.check(
          direction > 0 and stat(rs, _gap) < stat(base, _gap), stat(rs, _f1), stat(base, _f1)
        ),
        f"test macro-F1 {_f1_text(rs)} vs {_f1_text(base)}"
        f" ({'above' if direction > 0 else 'below' if direction < 0 else 'within'} the seed "
        f"spreads); gap {100 * stat(rs, _gap):.1f} vs {100 * stat(base, _gap):.1f} points.",
      )
    )
  if "l1_penalty" in groups and "weight_decay" in groups:
    z = lambda r: r["near_zero_fraction"]
    l1, l2 = stat(groups["l1_penalty"], z), stat(groups["weight_decay"], z)
    out.append(
      findings_lib.Finding(
        "Tibshirani 1996: an L1 penalty drives weights to zero (sparsity), an L2 penalty only "
        "shrinks them",
        findings_lib.check(l1 > l2 and l1 > stat(base, z), l1, l2),
        f"weights with |w| < {NEAR_ZERO:g}: L1 {100 * l1:.1f}%, L2 (weight decay) "
        f"{100 * l2:.1f}%, none {100 * stat(base, z):.1f}%.",
      )
    )
  return out


def key_figure(runs, out_dir) -> str:
  del out_dir
  groups = tables.by_variant(runs)
  parts = []
  if "none" in groups:
    parts.append(
      f"baseline test macro-F1 {_f1_text(groups['none'])} (train-test "
      f"gap {tables.fmt(tables.column(groups['none'], _gap))} points)"
    )
  others = [n for n in groups if n != "none"]
  if others:
    best = max(others, key=lambda n: tables.mean_std(tables.column(groups[n], _f1))[0])
    parts.append(f"best {best} {_f1_text(groups[best])}")
  return "; ".join(parts) + "."


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
