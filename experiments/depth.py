"""Depth study: plain vs residual CIFAR-style nets with and without batch norm (He et al. 2016).

Command: python -m experiments.depth --preset=quick --out=experiments/results/depth
Records training error per epoch, validation/test macro-F1 and per-layer gradient norms at
the first step (gradients at initialisation) and during training.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from experiments import cli, presets, sweep, tables

STUDY = "depth"
CONFIG_FILE = "configs/resnet.py"
NORMS = ("batch", "none")
ARCHS = ("plain", "resnet")
# Without normalisation the deep nets diverge at the batch-norm learning rate, so each norm
# setting has its own (every depth and both architectures share it).
LR = {"batch": 0.1, "none": 0.01}

_COMMON = {
  # CIFAR-style nets on the default config's training setup (its model is an ImageNet ResNet).
  "model.options.stem": "small",
  "model.options.width": 1.0,
  "loss.label_smoothing": 0.0,
  "train.layer_norms_every": 1,
  "optimizer.weight_decay": 1e-4,
}

PRESETS = {
  "tiny": sweep.Preset(
    "tiny",
    "synthetic set, 16 px, 2 steps, depth 20 only",
    presets.TINY_SEEDS,
    presets.merged(presets.TINY_DATA, _COMMON),
    split_alias=presets.TINY_ALIAS,
  ),
  "quick": sweep.Preset(
    "quick",
    "abstract_icons, 16 px, width 0.5, 50% of train, 4 epochs (one evaluation, "
    "at the end), depths 20/32/44/56",
    presets.SEEDS,
    # Sized to the 30-minute budget on a 2-core CPU: 48 runs, most of each run is compile.
    presets.merged(
      presets.QUICK_DATA,
      _COMMON,
      {
        "data.image_size": 16,
        "model.options.input_size": 16,
        "model.options.width": 0.5,
        "train.num_epochs": 4.0,
        "train.eval_every_epochs": 4.0,
        "train.log_every": 4,
        "train.layer_norms_every": 4,
      },
    ),
    train_fraction=0.5,
  ),
  "full": sweep.Preset(
    "full",
    "abstract_icons, 32 px, 60 epochs, depths 20/32/44/56/110",
    presets.SEEDS,
    presets.merged(
      presets.QUICK_DATA,
      _COMMON,
      {"train.num_epochs": 60.0, "train.log_every": 10, "train.layer_norms_every": 10},
    ),
  ),
}


def depths(preset: sweep.Preset) -> tuple[int, ...]:
  return {"tiny": (20,), "quick": (20, 56, 32, 44), "full": (20, 56, 110, 32, 44)}[preset.name]


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  out = []
  ds = depths(preset)
  # The ends of the depth range first (both norms), then the middle depths: a sweep cut short
  # still compares plain and residual nets at the shallowest and the deepest setting.
  order = [(n, d) for n in NORMS for d in ds[:2]] + [(n, d) for n in NORMS for d in ds[2:]]
  for norm, depth in order:
    for arch in ARCHS:
      out.append(
        sweep.Variant(
          f"{arch}{depth}_{norm}",
          {
            "model.name": f"{arch if arch == 'plain' else 'resnet'}{depth}",
            "model.options.norm": norm,
            "optimizer.lr": LR[norm],
          },
          labels=dict(arch=arch, depth=depth, norm=norm),
        )
      )
  return out


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  return [sweep.EvalSpec("validation", ("validation",)), sweep.EvalSpec("test", ("test",))]


def _workdir(out_dir, run) -> pathlib.Path:
  return pathlib.Path(out_dir) / "runs" / run["study_variant"] / f"seed_{run['seed']}"


def _final_train_error(out_dir, run) -> float:
  rows = sweep.train_rows(_workdir(out_dir, run))
  return 1.0 - rows[-1]["accuracy"] if rows else float("nan")


def _curve(out_dir, runs) -> tuple[np.ndarray, np.ndarray]:
  """Mean training error over seeds per logged epoch (seeds share the logging steps)."""
  curves = [sweep.train_rows(_workdir(out_dir, r)) for r in runs]
  n = min(len(c) for c in curves)
  if n == 0:
    return np.array([]), np.array([])
  epochs = np.array([row["epoch"] for row in curves[0][:n]])
  errors = np.mean([[1 - row["accuracy"] for row in c[:n]] for c in curves], axis=0)
  return epochs, errors


def _weight_layers(entry) -> list[tuple[str, float]]:
  return [(name, norm) for name, norm in entry["layers"] if name.endswith(("_conv", "_fc"))]


def _plot_curves(groups, out_dir, ds) -> str:
  fig, axes = tables.new_figure(ncols=2, nrows=2, width=4.6, height=3.3)
  for i, norm in enumerate(NORMS):
    for j, arch in enumerate(ARCHS):
      ax = axes[i][j]
      for depth in ds:
        runs = groups.get(f"{arch}{depth}_{norm}")
        if not runs:
          continue
        epochs, errors = _curve(out_dir, runs)
        ax.plot(epochs, 100 * errors, label=f"{arch}-{depth}")
      ax.set_title(f"{arch}, norm={norm}")
      ax.set_xlabel("epoch")
      ax.set_ylabel("training error (%)")
      if ax.lines:
        ax.legend(fontsize=7)
      else:
        ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "train_error_vs_epoch.png")


def _plot_error_vs_depth(groups, out_dir, ds) -> str:
  fig, axes = tables.new_figure(ncols=2, width=4.6)
  for ax, (title, getter) in zip(
    axes[0],
    [
      ("final training error", lambda r: _final_train_error(out_dir, r)),
      ("test error (selected checkpoint)", lambda r: 1 - r["evals"]["test"]["accuracy"]),
    ],
  ):
    for norm in NORMS:
      for arch in ARCHS:
        xs, ms, ss = [], [], []
        for depth in ds:
          runs = groups.get(f"{arch}{depth}_{norm}")
          if runs:
            m, s = tables.mean_std(tables.column(runs, getter))
            xs.append(depth), ms.append(100 * m), ss.append(100 * s)
        if xs:
          ax.errorbar(
            xs,
            ms,
            yerr=ss,
            marker="o",
            capsize=3,
            linestyle="-" if norm == "batch" else "--",
            label=f"{arch}, {norm}",
          )
    ax.set_title(title)
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("error (%)")
    ax.legend(fontsize=7)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "error_vs_depth.png")


def _plot_grad_norms(groups, out_dir, deepest) -> str:
  """Gradient norm per weight layer at several steps, seed 0, deepest plain and residual nets."""
  panels = [(arch, norm) for norm in NORMS for arch in ARCHS]
  fig, axes = tables.new_figure(ncols=2, nrows=2, width=4.6, height=3.3)
  for ax, (arch, norm) in zip(axes.flat, panels):
    runs = groups.get(f"{arch}{deepest}_{norm}")
    if not runs:
      ax.set_title(f"{arch}-{deepest}, norm={norm}")
      ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
      continue
    entries = sweep.layer_grad_norms(_workdir(out_dir, runs[0]))
    if not entries:
      continue
    picks = sorted({0, len(entries) // 4, len(entries) // 2, len(entries) - 1})
    for k in picks:
      norms = [n for _, n in _weight_layers(entries[k])]
      label = "init (step 1)" if entries[k]["step"] == 1 else f"step {entries[k]['step']}"
      ax.semilogy(range(1, len(norms) + 1), norms, label=label)
    ax.set_title(f"{arch}-{deepest}, norm={norm}")
    ax.set_xlabel("weight layer (input -> output)")
    ax.set_ylabel("gradient L2 norm")
    ax.legend(fontsize=7)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "grad_norm_vs_layer.png")


def _first_last_ratio(out_dir, run, which: str) -> float:
  """Gradient norm of the first weight layer / the last, at init or averaged over training."""
  entries = sweep.layer_grad_norms(_workdir(out_dir, run))
  if not entries:
    return float("nan")
  chosen = entries[:1] if which == "init" else entries[1:] or entries
  ratios = []
  for e in chosen:
    layers = _weight_layers(e)
    # A diverging run logs NaN / Inf / zero norms before it stops: those steps say nothing
    # about the gradient's depth profile.
    if (
      len(layers) >= 2
      and np.isfinite(layers[0][1])
      and np.isfinite(layers[-1][1])
      and layers[0][1] > 0
      and layers[-1][1] > 0
    ):
      ratios.append(layers[0][1] / layers[-1][1])
  return float(np.exp(np.mean(np.log(ratios)))) if ratios else float("nan")


def _cell(groups, name, getter, scale=100.0, digits=1):
  runs = groups.get(name)
  return tables.fmt(tables.column(runs, getter), scale, digits) if runs else "not run"


def write_report(results, meta, out_dir) -> str:
  out_dir = pathlib.Path(out_dir)
  groups = tables.by_variant(results)
  ds = sorted({r["labels"]["depth"] for r in results})
  plots = [
    _plot_curves(groups, out_dir, ds),
    _plot_error_vs_depth(groups, out_dir, ds),
    _plot_grad_norms(groups, out_dir, max(ds)),
  ]
  rows = []
  for norm in NORMS:
    for arch in ARCHS:
      for depth in ds:
        name = f"{arch}{depth}_{norm}"
        if name not in groups:
          continue
        rows.append(
          [
            arch,
            depth,
            norm,
            LR[norm],
            _cell(groups, name, lambda r: _final_train_error(out_dir, r)),
            _cell(groups, name, lambda r: r["evals"]["validation"]["macro_f1"]),
            _cell(groups, name, lambda r: r["evals"]["test"]["macro_f1"]),
            _cell(groups, name, lambda r: _first_last_ratio(out_dir, r, "init"), 1, 3),
            _cell(groups, name, lambda r: _first_last_ratio(out_dir, r, "train"), 1, 3),
            _cell(groups, name, lambda r: r["wall_s"] / 60, 1, 1),
          ]
        )
  text = tables.markdown_table(
    [
      "net",
      "depth",
      "norm",
      "lr",
      "final train error %",
      "val macro-F1 %",
      "test macro-F1 %",
      "grad first/last layer at init",
      "grad first/last during training",
      "minutes per run",
    ],
    rows,
  )
  text += (
    "\nFinal training error: the last logged window of augmented training batches. "
    "Macro-F1 of the checkpoint with the best validation macro-F1. Gradient ratio: "
    "L2 norm of the first conv layer's gradient over the last (fc) layer's, geometric "
    "mean over logged steps (init = step 1, the gradient of the initial weights); "
    "far below 1 means the gradient vanishes towards the input.\n\n"
  )
  text += "\n".join(f"![{p}]({p})" for p in plots) + "\n\n"
  text += "**Findings, checked against He et al. 2016 on this data (numbers above):**\n\n"
  text += "".join(f"- {line}\n" for line in findings(groups, out_dir, ds))
  return text


def _mean(groups, name, getter) -> float:
  runs = groups.get(name)
  return tables.mean_std(tables.column(runs, getter))[0] if runs else float("nan")


def _verdict(condition: bool, *values: float) -> str:
  if not all(np.isfinite(v) for v in values):
    return "not checked: a run it needs did not finish"
  return "holds" if condition else "does not hold"


def findings(groups, out_dir, ds) -> list[str]:
  lo, hi = min(ds), max(ds)
  err = lambda r: _final_train_error(out_dir, r)
  lines = []
  if lo == hi:
    return ["only one depth ran; no depth trend to check"]
  for norm in NORMS:
    p_lo, p_hi = _mean(groups, f"plain{lo}_{norm}", err), _mean(groups, f"plain{hi}_{norm}", err)
    r_lo, r_hi = _mean(groups, f"resnet{lo}_{norm}", err), _mean(groups, f"resnet{hi}_{norm}", err)
    lines.append(
      f"norm={norm}: deeper plain nets train worse — plain-{hi} final training error "
      f"{100 * p_hi:.1f}% vs plain-{lo} {100 * p_lo:.1f}%: "
      f"**{_verdict(p_hi > p_lo, p_hi, p_lo)}**."
    )
    verdict = _verdict(r_hi <= r_lo + 0.01, r_hi, r_lo)
    if _all_diverged(groups, f"resnet{hi}_{norm}"):
      verdict = f"does not hold: every resnet-{hi} run diverged (see below)"
    lines.append(
      f"norm={norm}: residual nets improve or hold with depth — resnet-{hi} "
      f"{_pct(r_hi)} vs resnet-{lo} {_pct(r_lo)} (1-point tolerance): "
      f"**{verdict}**; at depth {hi} residual {_pct(r_hi)} vs plain {_pct(p_hi)}."
    )
  ratio = lambda which: lambda r: _first_last_ratio(out_dir, r, which)
  bn = _mean(groups, f"plain{hi}_batch", ratio("train"))
  none = _mean(groups, f"plain{hi}_none", ratio("train"))
  bn0 = _mean(groups, f"plain{hi}_batch", ratio("init"))
  none0 = _mean(groups, f"plain{hi}_none", ratio("init"))
  lines.append(
    f"plain-{hi} first/last-layer gradient ratio with batch norm: {bn0:.3g} at init, "
    f"{bn:.3g} during training; without normalisation: {none0:.3g} at init, "
    f"{none:.3g} during training. With batch norm the gradients do not vanish "
    f"(ratio >= 0.1): **{_verdict(bn >= 0.1, bn)}**; without "
    f"normalisation they vanish (ratio < 0.1 and below the batch-norm one): "
    f"**{_verdict(none < 0.1 and none < bn, none, bn)}**."
  )
  for name, runs in groups.items():
    failed = [r for r in runs if r.get("diverged")]
    if failed:
      lines.append(
        f"{name} diverged in {len(failed)} of {len(runs)} seeds ({failed[0]['diverged']}"
        f"). Without normalisation each residual block adds its branch's variance to "
        f"the sum, so the activations grow with depth; the learning rate that trains "
        f"the shallow nets is too large for the deep one (the reason for Fixup / "
        f"zero-initialised residual branches)."
      )
  return lines


def _pct(value: float) -> str:
  return f"{100 * value:.1f}%" if np.isfinite(value) else "n/a (no finished run)"


def _all_diverged(groups, name) -> bool:
  runs = groups.get(name, [])
  return bool(runs) and all(r.get("diverged") for r in runs)


def summary_line(results, meta) -> str:
  groups = tables.by_variant(results)
  ds = sorted({r["labels"]["depth"] for r in results})
  lo, hi = min(ds), max(ds)
  f1 = lambda r: r["evals"]["test"]["macro_f1"]
  parts = [f"{a}-{d} {_cell(groups, f'{a}{d}_batch', f1)}" for a in ARCHS for d in sorted({lo, hi})]
  return (
    f"**Depth** (preset `{meta['preset']}`, commit {tables.short_commit(meta)}): test macro-F1 % with "
    f"batch norm: " + ", ".join(parts) + "."
  )


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
