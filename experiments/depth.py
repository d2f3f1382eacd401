"""Depth study: He et al. 2016, Fig. 6 on this data: plain vs residual CIFAR nets with batch norm.

Command: python -m experiments.depth --preset=cpu
Plain-20/32/44/56 and ResNet-20/32/44/56/110 (He et al.'s CIFAR nets, option-A shortcuts),
batch norm, 32 px, He et al.'s flip-and-shift augmentation; 3 seeds at depths 20 and 56, 1 at the others. Reports training error
(thin) and validation error (bold) per epoch, the test error of the checkpoint selected on
validation macro-F1, and per-layer gradient norms during training, beside He et al.'s
CIFAR-10 numbers.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from experiments import cli, convergence, sweep, tables
from experiments import findings as findings_lib
from experiments import presets as presets_lib

STUDY = "depth"
TITLE = "Depth (He et al. 2016, Fig. 6)"
CONFIG_FILE = "configs/default.py"
ARCHS = ("plain", "resnet")
CRITERION = convergence.Plateau()
BAR_TRAIN_ERROR = 0.15  # the shallowest ResNet must fit the training set this well

# Per-preset recipe: depths per architecture, seeds of the deciding depths, budget.
RECIPE = {
  "smoke": dict(depths={"plain": (20,), "resnet": (20,)}, key_depths=(20,), key_seeds=(0,)),
  "cpu": dict(
    depths={"plain": (20, 32, 44, 56), "resnet": (20, 32, 44, 56, 110)},
    key_depths=(20, 56),
    key_seeds=(0, 1, 2),
    overrides={"train.num_epochs": 25.0, "train.layer_norms_every": 330, **presets_lib.HE_AUGMENT},
  ),
  "gpu": dict(
    depths={"plain": (20, 32, 44, 56), "resnet": (20, 32, 44, 56, 110)},
    key_depths=(20, 56),
    key_seeds=(0, 1, 2),
    overrides={
      "train.num_epochs": 160.0,
      "train.layer_norms_every": 1300,
      **presets_lib.HE_AUGMENT,
    },
  ),
}
# He et al. 2016, Table 6: CIFAR-10 test error (%) of the ResNets (110: best of 5 runs;
# mean 6.61 ± 0.16). Fig. 6: plain-56 ends with higher training error than plain-20.
HE_2016_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}

PRESETS = {
  "smoke": sweep.Preset(
    "smoke",
    "synthetic set, 16 px, 2 steps, depth 20",
    presets_lib.SMOKE_SEEDS,
    presets_lib.SMOKE,
    split_alias=presets_lib.SMOKE_ALIAS,
  ),
  "cpu": sweep.Preset(
    "cpu",
    "abstract_icons, 32 px, batch norm, flip + 4 px shift, SGD 0.1 cosine, 25 epochs",
    (0,),
    presets_lib.merged(presets_lib.CPU, RECIPE["cpu"]["overrides"]),
  ),
  "gpu": sweep.Preset(
    "gpu",
    "abstract_icons, 32 px, batch norm, flip + 4 px shift, SGD 0.1 cosine, 160 epochs",
    (0,),
    presets_lib.merged(presets_lib.CPU, RECIPE["gpu"]["overrides"]),
  ),
}


# The compute estimate's assumptions: ResNet-20's training throughput at 32 px on the 2-core
# CPU, a step's cost proportional to depth (plain and residual alike), the training split size.
RESNET20_IMAGES_PER_S = 200.0
TRAIN_IMAGES = 4159


def estimated_hours(preset: sweep.Preset) -> float:
  """Training compute of the whole preset (every planned run; per-epoch evaluation not
  counted), from the throughput assumptions above."""
  epochs = float(preset.overrides.get("train.num_epochs", 1.0))
  seconds = 0.0
  for variant, _ in plan(preset):
    images_per_s = RESNET20_IMAGES_PER_S * 20 / variant.labels["depth"]
    seconds += epochs * TRAIN_IMAGES / images_per_s
  return seconds / 3600


def _variant(arch: str, depth: int, seeds, image_size: int) -> sweep.Variant:
  options = {"norm": "batch", "input_size": image_size, "dtype": "float32"}
  return sweep.Variant(
    f"{arch}{depth}",
    {"model.name": f"{arch}{depth}", "model.options": options},
    labels=dict(arch=arch, depth=depth),
    seeds=tuple(seeds),
  )


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  return list({v.name: v for v, _ in plan(preset)}.values())


def plan(preset: sweep.Preset) -> list[tuple[sweep.Variant, int]]:
  """Most informative first: depths 20 and 56, plain and residual, seed 0; then their other
  seeds; then the middle depths and ResNet-110, one seed each."""
  recipe = RECIPE[preset.name]
  key, seeds = recipe["key_depths"], recipe["key_seeds"]
  size = preset.overrides["data.image_size"]
  out = []
  for seed in seeds:
    for depth in key:
      for arch in ARCHS:
        if depth in recipe["depths"][arch]:
          out.append((_variant(arch, depth, seeds, size), seed))
  for depth in sorted({d for ds in recipe["depths"].values() for d in ds} - set(key)):
    for arch in ARCHS:
      if depth in recipe["depths"][arch]:
        out.append((_variant(arch, depth, (seeds[0],), size), seeds[0]))
  return out


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  return [sweep.EvalSpec("validation", ("validation",)), sweep.EvalSpec("test", ("test",))]


def _error_curves(runs, split: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(epochs, mean error, std error) over seeds: training error per epoch (split None) or
  the validation error of each per-epoch evaluation."""
  per_run = []
  for r in runs:
    if split is None:
      epochs, acc = convergence.epoch_accuracy(r["curves"]["train"])
    else:
      rows = [e for e in r["curves"]["eval"] if e["split"] == split]
      epochs, acc = np.array([e["epoch"] for e in rows]), np.array([e["accuracy"] for e in rows])
    per_run.append((epochs, 1.0 - acc))
  n = min((len(e) for e, _ in per_run), default=0)
  if n == 0:
    return np.array([]), np.array([]), np.array([])
  errors = np.array([err[:n] for _, err in per_run])
  std = errors.std(axis=0, ddof=1) if len(errors) > 1 else np.zeros(n)
  return per_run[0][0][:n], errors.mean(axis=0), std


def _plot_figure6(groups, out_dir) -> str:
  fig, axes = tables.new_figure(ncols=2, width=5.0, height=3.8)
  for ax, arch in zip(axes[0], ARCHS):
    names = sorted((n for n in groups if _arch(groups, n) == arch), key=lambda n: _depth(groups, n))
    for color, name in zip(tables.COLORS, names):
      runs = groups[name]
      for split, width in ((None, 0.8), ("validation", 2.2)):
        epochs, mean, std = _error_curves(runs, split)
        label = f"{name} (n={len(runs)})" if split else None
        ax.plot(epochs, 100 * mean, color=color, linewidth=width, label=label)
        ax.fill_between(epochs, 100 * (mean - std), 100 * (mean + std), color=color, alpha=0.15)
    ax.set_title(f"{arch}: training error (thin), validation error (bold)", fontsize=9)
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    if ax.lines:
      ax.legend(fontsize=7)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "figure6_error_vs_epoch.png")


def _arch(groups, name: str) -> str:
  return groups[name][0]["labels"]["arch"]


def _depth(groups, name: str) -> int:
  return groups[name][0]["labels"]["depth"]


def _plot_grad_norms(groups, out_dir) -> str:
  """Gradient norm per weight layer at a few training steps: the deepest plain and ResNet."""
  fig, axes = tables.new_figure(ncols=2, width=4.8, height=3.3)
  for ax, arch in zip(axes[0], ARCHS):
    names = [n for n in groups if _arch(groups, n) == arch]
    if not names:
      continue
    name = max(names, key=lambda n: _depth(groups, n))
    for entry in groups[name][0].get("grad_norms", []):
      norms = [n for _, n in entry["layers"]]
      ax.semilogy(range(1, len(norms) + 1), norms, label=f"step {entry['step']}")
    ax.set_title(f"{name}, seed {groups[name][0]['seed']}", fontsize=9)
    ax.set_xlabel("weight layer (input -> output)")
    ax.set_ylabel("gradient L2 norm")
    if ax.lines:
      ax.legend(fontsize=7)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "grad_norm_vs_layer.png")


def _test_error(r) -> float:
  return 1.0 - r["evals"]["test"]["accuracy"]


def _final_val_error(r) -> float:
  rows = [e for e in r["curves"]["eval"] if e["split"] == "validation"]
  return 1.0 - rows[-1]["accuracy"] if rows else float("nan")


def report(runs, meta, out_dir) -> str:
  preset = PRESETS.get(meta.get("preset"))
  planned = (
    f"Planned training compute of the preset: about {estimated_hours(preset):.1f} h at "
    f"{RESNET20_IMAGES_PER_S:.0f} images/s for ResNet-20, scaled by depth (an estimate; the "
    "table gives each run's measured minutes).\n\n"
    if preset is not None and preset.name != "smoke"
    else ""
  )
  groups = tables.by_variant(runs)
  rows = []
  for name in sorted(groups, key=lambda n: (_arch(groups, n), _depth(groups, n))):
    rs = groups[name]
    depth = rs[0]["labels"]["depth"]
    rows.append(
      [
        name,
        f"{sum(r['converged'] for r in rs)}/{len(rs)}",
        tables.fmt(tables.column(rs, lambda r: r["final_train_error"])),
        tables.fmt(tables.column(rs, _final_val_error)),
        tables.fmt(tables.column(rs, _test_error)),
        tables.fmt(tables.column(rs, lambda r: r["evals"]["test"]["macro_f1"])),
        f"{HE_2016_TEST_ERROR[depth]:.2f}" if name.startswith("resnet") else "—",
        tables.minutes(rs),
      ]
    )
  text = planned + tables.markdown_table(
    [
      "net",
      "converged",
      "final training error %",
      "final validation error %",
      "test error % (selected checkpoint)",
      "test macro-F1 %",
      "He et al. 2016 CIFAR-10 test error %",
      "minutes per run",
    ],
    rows,
  )
  text += (
    "\nTraining error: the last epoch's logged windows of augmented training batches (as in "
    "He et al.'s curves). Validation error: the last per-epoch evaluation. Test: the "
    "checkpoint with the best validation macro-F1. Every run is listed, converged or not; "
    "the findings use converged runs only. Minutes: command to result of the runs trained in "
    "one go (a resumed run is left out: its time covers only its last part); runs pinned to "
    "one core beside another study take ~1.6x longer than runs on both cores.\n\n"
  )
  plots = [_plot_figure6(groups, out_dir), _plot_grad_norms(groups, out_dir)]
  return text + "\n".join(f"![{p}]({p})" for p in plots) + "\n"


def bar(runs) -> tuple[bool | None, str]:
  shallow = [r for r in runs if r["labels"]["arch"] == "resnet" and r["labels"]["depth"] == 20]
  text = f"ResNet-20's final training error below {100 * BAR_TRAIN_ERROR:.0f}%"
  if not shallow:
    return None, text + " (no converged ResNet-20 run yet)"
  m = tables.mean_std([r["final_train_error"] for r in shallow])[0]
  return bool(m < BAR_TRAIN_ERROR), text + f" (it is {100 * m:.1f}%, n={len(shallow)})"


def _stat(groups, name, getter) -> tuple[float, str]:
  runs = groups.get(name, [])
  values = tables.column(runs, getter)
  return tables.mean_std(values)[0], tables.fmt(values, unit="%") if runs else "not run"


_SPREAD_RULE = "a difference counts when it exceeds the two seed spreads"


def _above(groups, a: str, b: str, getter) -> bool:
  """Whether variant a's runs score above variant b's by more than their seed spreads."""
  return tables.compare(groups.get(a, []), groups.get(b, []), getter) > 0


def findings(runs, out_dir) -> list[findings_lib.Finding]:
  del out_dir
  groups = tables.by_variant(runs)
  train = lambda r: r["final_train_error"]
  out = []
  p20, p20s = _stat(groups, "plain20", train)
  p56, p56s = _stat(groups, "plain56", train)
  out.append(
    findings_lib.Finding(
      "He et al. 2016, Fig. 6 (left): deeper plain nets reach a higher training error "
      "(degradation): plain-56 above plain-20",
      findings_lib.check(_above(groups, "plain56", "plain20", train), p20, p56),
      f"final training error plain-56 {p56s} vs plain-20 {p20s} ({_SPREAD_RULE}).",
    )
  )
  r20, r20s = _stat(groups, "resnet20", train)
  r56, r56s = _stat(groups, "resnet56", train)
  _, r110s = _stat(groups, "resnet110", train)
  deeper = [f"resnet{d}" for d in (56, 110) if groups.get(f"resnet{d}")]
  above = [name for name in deeper if _above(groups, name, "resnet20", train)]
  out.append(
    findings_lib.Finding(
      "He et al. 2016, Fig. 6 (middle): deeper ResNets reach a lower or equal training error: "
      "ResNet-56 and ResNet-110 not above ResNet-20",
      findings_lib.check(not above, r20) if deeper else None,
      f"final training error ResNet-20 {r20s}, ResNet-56 {r56s}, ResNet-110 {r110s} "
      f"({_SPREAD_RULE}).",
    )
  )
  out.append(
    findings_lib.Finding(
      "He et al. 2016, Fig. 6: at depth 56 the residual net trains to a lower error than the "
      "plain net",
      findings_lib.check(_above(groups, "plain56", "resnet56", train), p56, r56),
      f"final training error plain-56 {p56s} vs ResNet-56 {r56s} ({_SPREAD_RULE}).",
    )
  )
  test = {d: _stat(groups, f"resnet{d}", _test_error) for d in HE_2016_TEST_ERROR}
  ran = [d for d in HE_2016_TEST_ERROR if np.isfinite(test[d][0])]
  steps = [tables.compare(groups[f"resnet{b}"], groups[f"resnet{a}"], _test_error)
           for a, b in zip(ran, ran[1:])]  # fmt: skip
  falls = None
  if any(c > 0 for c in steps):
    falls = False
  elif steps and all(c < 0 for c in steps):
    falls = True
  out.append(
    findings_lib.Finding(
      "He et al. 2016, Table 6: ResNet test error falls with depth up to 110 layers on "
      "CIFAR-10 (8.75% at 20, 6.97% at 56, 6.43% at 110)",
      falls,
      "test error here: "
      + ", ".join(f"ResNet-{d} {test[d][1]}" for d in ran)
      + f" ({_SPREAD_RULE}: holds when each deeper ResNet is below the next shallower one, "
      "does not hold when one is above it, else undecided).",
      undecided=falls is None and bool(steps),
    )
  )
  return out


def key_figure(runs, out_dir) -> str:
  del out_dir
  groups = tables.by_variant(runs)
  parts = [
    f"{name} {_stat(groups, name, lambda r: r['final_train_error'])[1]}"
    for name in ("plain20", "plain56", "resnet20", "resnet56", "resnet110")
    if name in groups
  ]
  f1 = [
    f"{name} {_stat(groups, name, lambda r: r['evals']['test']['macro_f1'])[1]}"
    for name in ("resnet20", "resnet56")
    if name in groups
  ]
  return f"final training error: {', '.join(parts)}; test macro-F1: {', '.join(f1)}."


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
