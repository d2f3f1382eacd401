"""Figures and tables of the gradients-at-initialisation study (from probes.json and the short
training runs' result.json); its findings are in gradients_at_init_findings."""

from __future__ import annotations

import math
import pathlib
import re

import numpy as np

from experiments import tables

ARCHS = ("plain", "resnet")
NORMS = ("batch", "none")
SCHEMES = ("he", "glorot", "naive")
# A float32 gradient below this is zero: it underflowed (smallest float32 ~1.4e-45).
UNDERFLOW = 1e-40
LN_CLASSES = math.log(20)


_NET_KEY = re.compile(r"^(plain|resnet)(\d+)_(batch|none)$")


def parse_net_key(key: str) -> tuple[str, int, str]:
  """'plain56_batch' -> ('plain', 56, 'batch')."""
  match = _NET_KEY.match(key)
  if not match:
    raise ValueError(f"probes.json: unexpected net key {key!r}")
  return match.group(1), int(match.group(2)), match.group(3)


def scheme_entries(probes, arch, norm, scheme) -> dict[int, dict]:
  """{depth: layer_rms entry} of one (arch, norm, scheme)."""
  out = {}
  for key, entry in probes["layer_rms"].items():
    net, s = key.split("/")
    a, depth, n = parse_net_key(net)
    if (a, n, s) == (arch, norm, scheme):
      out[depth] = entry
  return dict(sorted(out.items()))


def level(entry) -> list[float]:
  """Per seed: median over weight layers of log10 gradient RMS (nan if all underflowed)."""
  out = []
  for rms in entry["per_seed"]:
    rms = np.asarray(rms)
    ok = rms > UNDERFLOW
    out.append(float(np.median(np.log10(rms[ok]))) if ok.all() else float("nan"))
  return out


def profile(entry) -> list[float]:
  """Per seed: log10 (RMS of the first conv / the last conv): > 0 larger towards the input."""
  out = []
  for rms in entry["per_seed"]:
    first, last = rms[0], rms[-2]
    ok = first > UNDERFLOW and last > UNDERFLOW
    out.append(float(np.log10(first / last)) if ok else float("nan"))
  return out


def underflowed(entry) -> int:
  """Weight layers whose gradient underflowed to 0 in float32, in the worst seed."""
  return max(int(np.sum(np.asarray(r) <= UNDERFLOW)) for r in entry["per_seed"])


def mean_of(values) -> float:
  return tables.mean_std(values)[0]


def _cell(entry, stat) -> str:
  if entry is None:
    return "not run"
  zeros = underflowed(entry)
  if zeros == len(entry["layers"]) and stat is level:
    return "0 (every layer underflows)"
  text = tables.fmt(stat(entry), 1, 2)
  return text + (f"; {zeros} layers underflow" if zeros else "")


def _depths(probes) -> list[int]:
  return sorted({parse_net_key(k.split("/")[0])[1] for k in probes["layer_rms"]})


def complete_depths(probes) -> list[int]:
  """Depths at which every net (plain and residual, with and without norm) was measured: the
  findings compare only those, so a measurement cut short leaves them at the shallower depths."""
  measured = {parse_net_key(k) for k in probes["timing"]}
  norms = {norm for _, _, norm in measured}  # a run may probe only some norms
  return [
    d
    for d in _depths(probes)
    if all((arch, d, norm) in measured for arch in ("plain", "resnet") for norm in norms)
  ]


def gradient_tables(probes) -> str:
  depths = _depths(probes)
  n_seeds = len(probes["settings"].get("seeds", []))
  text = ""
  for title, stat in (
    ("Gradient level: median over weight layers of log10 RMS(dL/dW)", level),
    (
      "Depth profile: log10 RMS(dL/dW) of the first conv over the last conv (> 0: larger "
      "towards the input)",
      profile,
    ),
  ):
    rows = []
    for arch in ARCHS:
      for norm in NORMS:
        for scheme in SCHEMES:
          entries = scheme_entries(probes, arch, norm, scheme)
          rows.append([arch, norm, scheme] + [_cell(entries.get(d), stat) for d in depths])
    text += f"**{title}** (mean ± std over {n_seeds} seeds, each the geometric mean of its "
    text += "batches):\n\n"
    text += tables.markdown_table(["net", "norm", "init"] + [f"depth {d}" for d in depths], rows)
    text += "\n"
  return text


def prediction_table(probes, predict) -> str:
  """Measured level offset of Glorot / naive vs He (plain, no norm) beside He et al.'s rule."""
  depths = _depths(probes)
  he = scheme_entries(probes, "plain", "none", "he")
  rows = []
  for scheme in ("glorot", "naive"):
    entries = scheme_entries(probes, "plain", "none", scheme)
    cells = []
    for d in depths:
      if d not in entries or d not in he:
        cells.append("not run")
        continue
      measured = mean_of(level(entries[d])) - mean_of(level(he[d]))
      shown = f"{measured:.1f}" if np.isfinite(measured) else "underflow"
      cells.append(f"{shown} (predicted {predict(d, scheme):.1f})")
    rows.append([scheme] + cells)
  return (
    "**Plain nets without normalisation: gradient level relative to He init**, measured "
    "(decades) and predicted from the layers' std ratios (He et al. 2015, Eq. 10/14: every "
    "layer scales the signal by std / sqrt(2 / fan_in)):\n\n"
    + tables.markdown_table(["init"] + [f"depth {d}" for d in depths], rows)
    + "\n"
  )


def correlation_table(probes) -> str:
  depths = _depths(probes)
  rows = []
  for arch in ARCHS:
    for norm in NORMS:
      cells = []
      for d in depths:
        entry = probes["correlation"].get(f"{arch}{d}_{norm}")
        cells.append(tables.fmt([c[0] for c in entry["per_seed"]], 1, 3) if entry else "not run")
      rows.append([arch, norm] + cells)
  s = probes["settings"]
  return (
    f"**Input-gradient correlation between neighbouring inputs** (He init; lines of "
    f"{s.get('line_points')} inputs between two real images, {s.get('lines')} lines per seed; "
    "Pearson correlation of d logit / d input at adjacent points, mean ± std over seeds; "
    "batch norm with the statistics of a real batch):\n\n"
    + tables.markdown_table(["net", "norm"] + [f"depth {d}" for d in depths], rows)
    + "\n"
  )


def final_loss(run) -> float:
  rows = run.get("curves", {}).get("train", [])
  return rows[-1]["loss"] if rows else float("nan")


def training_table(runs) -> str:
  rows = []
  for r in sorted(runs, key=lambda r: r["study_variant"]):
    test = r["evals"].get("test", {})
    status = "trained"
    if r.get("diverged"):
      step = re.search(r"at step (\d+)", r["diverged"])
      status = f"diverged (NaN/Inf at step {step.group(1)})" if step else "diverged"
    rows.append(
      [
        r["study_variant"],
        r["labels"].get("norm"),
        r.get("init"),
        r["seed"],
        status,
        f"{final_loss(r):.3f}" if np.isfinite(final_loss(r)) else "n/a",
        f"{100 * test['accuracy']:.1f}" if test else "n/a",
        f"{100 * test['macro_f1']:.1f}" if test else "n/a",
      ]
    )
  return (
    "**Short training runs at the batch-norm learning rate (0.1)**:\n\n"
    + tables.markdown_table(
      [
        "run",
        "norm",
        "init",
        "seed",
        "outcome",
        "last training loss",
        "test accuracy %",
        "test macro-F1 %",
      ],
      rows,
    )
    + f"\nA net that predicts the uniform distribution has loss ln 20 = {LN_CLASSES:.3f}.\n"
  )


def timing_table(probes) -> str:
  rows = [
    [key, f"{t['build_s']:.0f}", f"{t['total_s']:.0f}", t.get("commit", "the stamp's")]
    for key, t in probes["timing"].items()
  ]
  text = (
    "**Probe cost per net** (all inits and seeds; mostly compilation; wall-clock seconds on "
    "the machine in the stamp, shared with other jobs) and the commit each net was measured "
    "at:\n\n" + tables.markdown_table(["net", "build", "build + probes", "commit"], rows)
  )
  depths = [parse_net_key(k)[1] for k in probes["timing"]]
  if max(depths, default=0) < 1202 and len(set(depths)) >= 2:
    seconds = [t["total_s"] for t in probes["timing"].values()]
    slope, intercept = np.polyfit(depths, seconds, 1)
    text += (
      f"\nResNet-1202 is in the gpu preset only: the cost grows about linearly with depth "
      f"(fit: {slope:.1f} s per layer), so the four 1202-layer nets would take "
      f"~{4 * (slope * 1202 + intercept) / 3600:.1f} h here, each compiled as one unrolled "
      "program.\n"
    )
  return text


def plot_layers(probes, out_dir) -> str:
  rows = [(a, n) for a in ARCHS for n in NORMS]
  fig, axes = tables.new_figure(ncols=len(SCHEMES), nrows=len(rows), width=4.2, height=2.8)
  n_seeds = len(probes["settings"].get("seeds", []))
  for i, (arch, norm) in enumerate(rows):
    for j, scheme in enumerate(SCHEMES):
      ax = axes[i][j]
      for d, entry in scheme_entries(probes, arch, norm, scheme).items():
        logs = np.log10(np.maximum(np.asarray(entry["per_seed"]), UNDERFLOW))
        m = logs.mean(axis=0)
        s = logs.std(axis=0, ddof=1) if len(logs) > 1 else np.zeros_like(m)
        x = np.arange(1, len(m) + 1)
        ax.plot(x, m, label=f"depth {d}")
        ax.fill_between(x, m - s, m + s, alpha=0.25)
      ax.set_title(f"{arch}, norm={norm}, init={scheme}", fontsize=9)
      ax.set_xlabel("weight layer (input -> output)", fontsize=8)
      ax.set_ylabel("log10 RMS dL/dW", fontsize=8)
      if i == 0 and j == 0:
        ax.legend(fontsize=7, title=f"mean ± std, n={n_seeds} seeds", title_fontsize=7)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "grad_rms_vs_layer.png")


def plot_correlation(probes, out_dir) -> str:
  depths = _depths(probes)
  n_seeds = len(probes["settings"].get("seeds", []))
  fig, axes = tables.new_figure(ncols=2, nrows=1, width=4.6, height=3.3)
  for ax, norm in zip(axes[0], NORMS):
    for arch in ARCHS:
      xs, ms, ss = [], [], []
      for d in depths:
        entry = probes["correlation"].get(f"{arch}{d}_{norm}")
        if entry:
          m, s = tables.mean_std([c[0] for c in entry["per_seed"]])
          xs.append(d), ms.append(m), ss.append(s)
      ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, label=arch)
    ax.set_xscale("log")
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("correlation of neighbouring input gradients")
    ax.set_title(f"norm={norm} (He init; mean ± std, n={n_seeds})", fontsize=9)
    ax.legend(fontsize=8)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "gradient_correlation.png")


def plot_training(runs, out_dir) -> str:
  fig, axes = tables.new_figure(width=6.0, height=3.6)
  ax = axes[0][0]
  for r in sorted(runs, key=lambda r: r["study_variant"]):
    rows = r.get("curves", {}).get("train", [])
    if not rows:
      if r.get("diverged"):
        step = re.search(r"at step (\d+)", r["diverged"])
        when = f"at step {step.group(1)}" if step else ""
        ax.plot([], [], "x", label=f"{r['study_variant']}: NaN/Inf {when}, before its first log")
      continue
    steps = [row["step"] for row in rows]
    loss = [row["loss"] for row in rows]
    (line,) = ax.plot(steps, loss, label=f"{r['study_variant']} (seed {r['seed']})")
    if r.get("diverged"):
      ax.plot(steps[-1:], loss[-1:], "x", color=line.get_color(), markersize=9)
  ax.axhline(LN_CLASSES, color="grey", linestyle=":", label="ln 20 (uniform guess)")
  ax.set_yscale("log")
  ax.set_xlabel("step (batch 128)")
  ax.set_ylabel("training loss (logged windows)")
  ax.set_title("x: last logged step before the loss became NaN/Inf", fontsize=9)
  ax.legend(fontsize=7)
  return tables.save_figure(fig, pathlib.Path(out_dir) / "training_loss.png")


LITERATURE = """**The literature this checks** (CIFAR / ImageNet-scale nets there; 20 classes of
abstract drawings here):

- Glorot & Bengio 2010: with the standard init the back-propagated gradients shrink towards
  the input of deep nets; their normalised init keeps the variance across layers.
- He et al. 2015 ("Delving deep into rectifiers"): a fixed std of 0.01 leaves nets deeper than
  ~8 conv layers hard to train; std sqrt(2 / fan_in) keeps the variance of a ReLU net's
  signals and gradients with depth (Xavier/Glorot's halves it per layer: their 30-layer net
  trains with theirs and stalls with Xavier's).
- Yang et al. 2019 ("A mean field theory of batch normalization"): in plain nets with batch
  norm the gradients grow exponentially with depth at initialisation, whatever the init; skip
  connections avoid it.
- Balduzzi et al. 2017 ("The shattered gradients problem"): the correlation between the
  gradients at nearby inputs decays exponentially with depth in feedforward nets (white
  noise) and sublinearly in nets with skip connections.
- Zhang et al. 2019 (Fixup): without normalisation a standard-initialised ResNet's signals
  and gradients explode with depth; zero-initialising the last layer of each residual branch
  and rescaling the others (L^(-1/(2m-2))) trains deep ResNets without normalisation at the
  usual learning rate.
"""


def body(probes, runs, meta, out_dir) -> str:
  from experiments import gradients_at_init  # pylint: disable=g-import-not-at-top

  del meta
  text = LITERATURE + "\n"
  if probes["layer_rms"]:
    text += gradient_tables(probes)
    text += prediction_table(probes, gradients_at_init.predicted_level_offset) + "\n"
    text += correlation_table(probes) + "\n"
    plots = [plot_layers(probes, out_dir), plot_correlation(probes, out_dir)]
    text += "\n".join(f"![{p}]({p})" for p in plots) + "\n\n"
  else:
    text += "_The probes have not run yet._\n\n"
  text += training_table(runs) + "\n"
  plot = plot_training(runs, out_dir)
  text += f"![{plot}]({plot})\n\n"
  if probes["timing"]:
    text += timing_table(probes)
  return text
