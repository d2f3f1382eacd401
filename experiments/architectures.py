"""Architecture line: LeNet-5, AlexNet, VGG-11/16, ResNet-18/34 at one fixed budget.

Command: python -m experiments.architectures --preset=quick --out=experiments/results/architectures
Same data, resolution, optimiser (AdamW), epochs and batch for every model; small-image stems
(3x3, no early downsampling) so 32 px inputs keep a feature map. Reports test macro-F1 and
accuracy, parameters, forward FLOPs per image (XLA's count for the compiled forward pass),
training time and throughput on the machine that ran it.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from experiments import cli, presets, sweep, tables

STUDY = "architectures"
CONFIG_FILE = "configs/default.py"
MODELS = ("lenet5", "alexnet", "vgg11", "vgg16", "resnet18", "resnet34")
_SMALL_STEM = ("alexnet", "vgg11", "vgg16", "resnet18", "resnet34")

_OPTIMISER = {
  "optimizer.name": "adamw",
  "optimizer.lr": 1e-3,
  "optimizer.weight_decay": 1e-4,
  "loss.label_smoothing": 0.0,
}

PRESETS = {
  "tiny": sweep.Preset(
    "tiny",
    "synthetic set, 16 px, 2 steps, lenet5 and resnet18 only",
    presets.TINY_SEEDS,
    presets.merged(presets.TINY_DATA, _OPTIMISER),
    split_alias=presets.TINY_ALIAS,
  ),
  "quick": sweep.Preset(
    "quick",
    "abstract_icons, 32 px, width 0.25 (LeNet-5 full width), 4 epochs, AdamW 1e-3",
    presets.SEEDS,
    presets.merged(
      presets.QUICK_DATA,
      _OPTIMISER,
      {"train.num_epochs": 4.0, "train.eval_every_epochs": 2.0, "train.log_every": 10},
    ),
  ),
  "full": sweep.Preset(
    "full",
    "abstract_icons, 64 px, full width, 60 epochs, AdamW 1e-3",
    presets.SEEDS,
    presets.merged(
      presets.FULL_DATA,
      _OPTIMISER,
      {"train.num_epochs": 60.0, "train.eval_every_epochs": 5.0, "train.log_every": 50},
    ),
  ),
}


def models(preset: sweep.Preset) -> tuple[str, ...]:
  return ("lenet5", "resnet18") if preset.name == "tiny" else MODELS


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  out = []
  size = preset.overrides["data.image_size"]
  for name in models(preset):
    options = {"in_channels": 3, "input_size": size, "dtype": "float32"}
    if name in _SMALL_STEM:
      options["stem"] = "small"
      if preset.name == "quick":
        options["width"] = 0.25
    out.append(
      sweep.Variant(name, {"model.name": name, "model.options": options}, labels=dict(model=name))
    )
  return out


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  return [sweep.EvalSpec("test", ("test",))]


def extra(config, workdir: str) -> dict:
  """Parameters, forward FLOPs per image (XLA cost analysis) and mean training throughput."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from flax import nnx  # pylint: disable=g-import-not-at-top

  from abstract_cls import models as models_lib  # pylint: disable=g-import-not-at-top

  model, _, _ = sweep.restore_best(workdir)
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
  rows = sweep.train_rows(workdir)
  speeds = [r["images_per_s"] for r in rows[1:]] or [r["images_per_s"] for r in rows]
  return {
    "params": models_lib.count_params(model),
    "flops": flops,
    "train_images_per_s": float(np.median(speeds)) if speeds else float("nan"),
  }


def write_report(results, meta, out_dir) -> str:
  out_dir = pathlib.Path(out_dir)
  groups = tables.by_variant(results)
  rows = []
  for name, runs in groups.items():
    rows.append(
      [
        name,
        tables.fmt(tables.column(runs, lambda r: r["evals"]["test"]["macro_f1"])),
        tables.fmt(tables.column(runs, lambda r: r["evals"]["test"]["accuracy"])),
        f"{runs[0]['params'] / 1e6:.3f}",
        f"{runs[0]['flops'] / 1e6:.1f}",
        tables.fmt(tables.column(runs, lambda r: r["train_wall_s"] / 60), 1, 1),
        tables.fmt(tables.column(runs, lambda r: r["train_images_per_s"]), 1, 0),
      ]
    )
  text = tables.markdown_table(
    [
      "model",
      "test macro-F1 %",
      "test accuracy %",
      "parameters (M)",
      "forward MFLOPs / image",
      "training minutes (incl. compile)",
      "training images/s",
    ],
    rows,
  )
  fig, axes = tables.new_figure(ncols=2, width=4.8)
  for ax, (xlabel, key) in zip(
    axes[0], [("parameters (M)", "params"), ("forward MFLOPs / image", "flops")]
  ):
    for name, runs in groups.items():
      m, s = tables.mean_std(tables.column(runs, lambda r: r["evals"]["test"]["macro_f1"]))
      x = runs[0][key] / 1e6
      ax.errorbar([x], [100 * m], yerr=[100 * s], marker="o", capsize=3, label=name)
      ax.annotate(name, (x, 100 * m), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test macro-F1 (%)")
  axes[0][0].legend(fontsize=7)
  plot = tables.save_figure(fig, out_dir / "f1_vs_size.png")
  text += f"\n![{plot}]({plot})\n\n**Findings:**\n\n"
  f1 = lambda r: r["evals"]["test"]["macro_f1"]
  ranked = sorted(groups, key=lambda n: -tables.mean_std(tables.column(groups[n], f1))[0])
  text += (
    "- Ranking by test macro-F1: "
    + " > ".join(
      f"{n} ({100 * tables.mean_std(tables.column(groups[n], f1))[0]:.1f})" for n in ranked
    )
    + ".\n"
  )
  text += "".join(f"- {line}\n" for line in _literature_checks(groups, f1))
  return text


# The course's line, each step expected to help on ImageNet-scale training:
# LeNet -> AlexNet -> VGG -> ResNet, and (He et al. 2016) ResNet-34 over ResNet-18.
_EXPECTED_ORDER = (
  ("alexnet", "lenet5"),
  ("vgg11", "alexnet"),
  ("vgg16", "vgg11"),
  ("resnet18", "vgg16"),
  ("resnet34", "resnet18"),
)


def _literature_checks(groups, f1) -> list[str]:
  lines = []
  for better, worse in _EXPECTED_ORDER:
    if better not in groups or worse not in groups:
      continue
    mb, mw = (tables.mean_std(tables.column(groups[n], f1))[0] for n in (better, worse))
    verdict = {
      1: "agrees with the literature",
      -1: "disagrees with the literature at this budget",
      0: "no difference beyond the seed spread",
    }[tables.compare(groups[better], groups[worse], f1)]
    lines.append(
      f"{better} vs {worse}: test macro-F1 {100 * mb:.1f}% vs {100 * mw:.1f}% "
      f"({100 * (mb - mw):+.1f} points): {verdict}."
    )
  return lines


def summary_line(results, meta) -> str:
  groups = tables.by_variant(results)
  f1 = lambda r: r["evals"]["test"]["macro_f1"]
  return (
    f"**Architectures** (preset `{meta['preset']}`, commit {tables.short_commit(meta)}): test "
    f"macro-F1 % "
    + ", ".join(f"{n} {tables.fmt(tables.column(runs, f1))}" for n, runs in groups.items())
    + "."
  )


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
