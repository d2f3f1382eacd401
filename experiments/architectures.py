"""Architecture line: LeNet-5, AlexNet, VGG-11/16, ResNet-18/34 and the CIFAR ResNets.

Command: python -m experiments.architectures --preset=cpu
Same data, resolution, optimiser family (SGD Nesterov, cosine) and epochs for every model,
each trained to convergence; small-image stems (3x3, no early downsampling) so 32 px inputs
keep a feature map. Reports test macro-F1 against parameters and training FLOPs, and the
validation macro-F1 at a matched training compute read off each run's curve.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from experiments import checkpoint_eval, cli, convergence, sweep, tables
from experiments import findings as findings_lib
from experiments import presets as presets_lib

STUDY = "architectures"
TITLE = "Architecture line"
CONFIG_FILE = "configs/default.py"
CRITERION = convergence.Plateau()
# Backward ~ 2x forward: training FLOPs per image ~ 3x the forward pass.
TRAIN_FLOPS_PER_FORWARD = 3.0

# The cpu recipe per model (model options and learning rate); shared: presets_lib.CPU.
_SMALL = {"stem": "small", "width": 0.5}
RECIPE = {
  "lenet5": ({"in_channels": 3}, 0.05),
  "alexnet": (dict(_SMALL, dropout=0.5), 0.02),  # no batch norm: the lr of configs/alexnet.py
  "vgg11_bn": (_SMALL, 0.1),
  "vgg16_bn": (_SMALL, 0.1),
  "resnet18": (_SMALL, 0.1),
  "resnet34": (_SMALL, 0.1),
  "resnet20": ({}, 0.1),
  "resnet56": ({}, 0.1),
}
# The line's expected order (each step helps on ImageNet-scale training; He et al. 2016 for
# ResNet-34 over ResNet-18).
EXPECTED_ORDER = (
  ("alexnet", "lenet5"),
  ("vgg11_bn", "alexnet"),
  ("vgg16_bn", "vgg11_bn"),
  ("resnet18", "vgg16_bn"),
  ("resnet34", "resnet18"),
)

PRESETS = {
  "smoke": sweep.Preset(
    "smoke",
    "synthetic set, 16 px, 2 steps, lenet5 and resnet18 only",
    presets_lib.SMOKE_SEEDS,
    presets_lib.SMOKE,
    split_alias=presets_lib.SMOKE_ALIAS,
  ),
  # Two seeds: what the 2-core CPU budget allows for eight nets (benchmarks/RESULTS.md, 1g).
  "cpu": sweep.Preset(
    "cpu",
    "abstract_icons, 32 px, small stems at width 0.5, SGD cosine, 40 epochs",
    (0, 1),
    presets_lib.merged(presets_lib.CPU, {"train.num_epochs": 40.0}),
  ),
  "gpu": sweep.Preset(
    "gpu",
    "abstract_icons, 64 px, small stems at width 0.5, SGD cosine, 100 epochs",
    presets_lib.SEEDS,
    presets_lib.merged(presets_lib.GPU, {"train.num_epochs": 100.0}),
  ),
}


def models(preset: sweep.Preset) -> tuple[str, ...]:
  return ("lenet5", "resnet18") if preset.name == "smoke" else tuple(RECIPE)


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  out = []
  size = preset.overrides["data.image_size"]
  for name in models(preset):
    options, lr = RECIPE[name]
    options = dict(options, input_size=size, dtype="float32")
    out.append(
      sweep.Variant(
        name,
        {"model.name": name, "model.options": options, "optimizer.lr": lr},
        labels=dict(model=name),
      )
    )
  return out


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  return [sweep.EvalSpec("test", ("test",))]


def extra(config, workdir: str) -> dict:
  """Parameters, forward FLOPs per image (XLA cost analysis), images trained on, throughput."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from flax import nnx  # pylint: disable=g-import-not-at-top

  from abstract_cls import models as models_lib  # pylint: disable=g-import-not-at-top
  from experiments import run_record  # pylint: disable=g-import-not-at-top

  model, _, _ = checkpoint_eval.restore_best(workdir)
  graph, state = nnx.split(model)
  size = config.data.image_size
  forward = lambda s, x: nnx.merge(graph, s)(x)
  try:
    cost = jax.jit(forward).lower(state, jnp.zeros((1, size, size, 3), jnp.float32)).cost_analysis()
    if isinstance(cost, (list, tuple)):
      cost = cost[0]
    flops = float(cost.get("flops", float("nan")))
  except Exception:  # pylint: disable=broad-except  # a backend without cost analysis
    flops = float("nan")
  rows = run_record.train_rows(workdir)
  speeds = [r["images_per_s"] for r in rows[1:]] or [r["images_per_s"] for r in rows]
  return {
    "params": models_lib.count_params(model),
    "flops": flops,
    "train_images": int(rows[-1]["step"] * config.train.batch_size) if rows else 0,
    "train_images_per_s": float(np.median(speeds)) if speeds else float("nan"),
  }


def _f1(r) -> float:
  return r["evals"]["test"]["macro_f1"]


def _train_flops(r) -> float:
  return TRAIN_FLOPS_PER_FORWARD * r["flops"] * r["train_images"]


def _val_f1_at(r, budget: float) -> float:
  """Validation macro-F1 of the last evaluation within `budget` training FLOPs (nan if none)."""
  per_step = TRAIN_FLOPS_PER_FORWARD * r["flops"] * r["train_images"] / max(r["final_step"], 1)
  rows = [
    e
    for e in r["curves"]["eval"]
    if e["split"] == "validation" and e["step"] * per_step <= budget * (1 + 1e-9)
  ]
  return rows[-1]["macro_f1"] if rows else float("nan")


def matched_budget(groups) -> float:
  """The smallest total training compute among the models after LeNet-5: every other model
  has a validation point at or below it."""
  totals = [
    np.median([_train_flops(r) for r in runs]) for name, runs in groups.items() if name != "lenet5"
  ]
  return float(min(totals)) if totals else float("nan")


def report(runs, meta, out_dir) -> str:
  del meta
  groups = tables.by_variant(runs)
  budget = matched_budget(groups)
  rows = []
  for name, rs in groups.items():
    rows.append(
      [
        name,
        f"{sum(r['converged'] for r in rs)}/{len(rs)}",
        tables.fmt(tables.column(rs, _f1)),
        tables.fmt(tables.column(rs, lambda r: r["evals"]["test"]["accuracy"])),
        tables.fmt(tables.column(rs, lambda r: r["final_train_error"])),
        f"{rs[0]['params'] / 1e6:.3f}",
        f"{rs[0]['flops'] / 1e6:.1f}",
        f"{np.median([_train_flops(r) for r in rs]) / 1e15:.3f}",
        tables.fmt(tables.column(rs, lambda r, b=budget: _val_f1_at(r, b))),
        tables.minutes(rs, "train_wall_s"),
      ]
    )
  text = tables.markdown_table(
    [
      "model",
      "converged",
      "test macro-F1 %",
      "test accuracy %",
      "final training error %",
      "parameters (M)",
      "forward MFLOPs / image",
      "training PFLOPs",
      f"val macro-F1 % at {budget / 1e15:.3f} PFLOPs",
      "training minutes",
    ],
    rows,
  )
  text += (
    f"\nTraining FLOPs: {TRAIN_FLOPS_PER_FORWARD:g} x the forward pass (XLA's count) x images "
    "trained on. The matched-compute column reads each run's validation curve at the total "
    "training compute of the cheapest model after LeNet-5.\n\n"
  )
  plot = _plot(groups, out_dir)
  return text + f"![{plot}]({plot})\n"


def _plot(groups, out_dir) -> str:
  fig, axes = tables.new_figure(ncols=3, width=4.6)
  panels = [
    ("parameters (M)", lambda r: r["params"] / 1e6),
    ("training PFLOPs", lambda r: _train_flops(r) / 1e15),
  ]
  for ax, (xlabel, xget) in zip(axes[0], panels):
    for name, runs in groups.items():
      m, s = tables.mean_std(tables.column(runs, _f1))
      x = float(np.median([xget(r) for r in runs]))
      ax.errorbar([x], [100 * m], yerr=[100 * s], marker="o", capsize=3)
      ax.annotate(
        f"{name} (n={len(runs)})",
        (x, 100 * m),
        fontsize=7,
        xytext=(3, 3),
        textcoords="offset points",
      )
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test macro-F1 (%), mean ± std")
  ax = axes[0][2]
  for name, runs in groups.items():
    r = runs[0]
    per_step = _train_flops(r) / max(r["final_step"], 1) / 1e15
    rows = [e for e in r["curves"]["eval"] if e["split"] == "validation"]
    ax.plot([e["step"] * per_step for e in rows], [100 * e["macro_f1"] for e in rows], label=name)
  ax.set_xscale("log")
  ax.set_xlabel("training PFLOPs so far")
  ax.set_ylabel("validation macro-F1 (%), seed of first run")
  ax.legend(fontsize=6)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "f1_vs_size.png")


def findings(runs, out_dir) -> list[findings_lib.Finding]:
  del out_dir
  groups = tables.by_variant(runs)
  out = []
  for better, worse in EXPECTED_ORDER:
    a, b = groups.get(better, []), groups.get(worse, [])
    ma, mb = tables.mean_std(tables.column(a, _f1))[0], tables.mean_std(tables.column(b, _f1))[0]
    direction = tables.compare(a, b, _f1)
    out.append(
      findings_lib.Finding(
        f"The architecture line (LeCun 1998 -> Krizhevsky 2012 -> Simonyan 2015 -> He 2016): "
        f"{better} above {worse} in test macro-F1",
        findings_lib.check(direction > 0, ma, mb),
        f"{100 * ma:.1f}% vs {100 * mb:.1f}% (n={len(a)}, {len(b)}); "
        + (
          "above beyond the seed spreads"
          if direction > 0
          else "below beyond the seed spreads"
          if direction < 0
          else "within the seed spreads"
        ),
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
