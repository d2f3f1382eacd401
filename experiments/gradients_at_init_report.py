"""Figures, tables and findings of the gradients-at-initialisation study (from probes.json and
the short training runs' result.json)."""

from __future__ import annotations

import math
import pathlib
import re

import numpy as np

from experiments import findings as findings_lib
from experiments import tables

ARCHS = ("plain", "resnet")
NORMS = ("batch", "none")
SCHEMES = ("he", "glorot", "naive")
# A float32 gradient below this is zero: it underflowed (smallest float32 ~1.4e-45).
UNDERFLOW = 1e-40
LN_CLASSES = math.log(20)
# A net without norm 'trains' when it reaches this share of the batch-norm net's test
# macro-F1 in the same budget.
LEARNED_SHARE = 0.5


_NET_KEY = re.compile(r"^(plain|resnet)(\d+)_(batch|none)$")


def parse_net_key(key: str) -> tuple[str, int, str]:
  """'plain56_batch' -> ('plain', 56, 'batch')."""
  match = _NET_KEY.match(key)
  if not match:
    raise ValueError(f"probes.json: unexpected net key {key!r}")
  return match.group(1), int(match.group(2)), match.group(3)


def _entries(probes, arch, norm, scheme) -> dict[int, dict]:
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


def _mean(values) -> float:
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


def _complete_depths(probes) -> list[int]:
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
          entries = _entries(probes, arch, norm, scheme)
          rows.append([arch, norm, scheme] + [_cell(entries.get(d), stat) for d in depths])
    text += f"**{title}** (mean ± std over {n_seeds} seeds, each the geometric mean of its "
    text += "batches):\n\n"
    text += tables.markdown_table(["net", "norm", "init"] + [f"depth {d}" for d in depths], rows)
    text += "\n"
  return text


def prediction_table(probes, predict) -> str:
  """Measured level offset of Glorot / naive vs He (plain, no norm) beside He et al.'s rule."""
  depths = _depths(probes)
  he = _entries(probes, "plain", "none", "he")
  rows = []
  for scheme in ("glorot", "naive"):
    entries = _entries(probes, "plain", "none", scheme)
    cells = []
    for d in depths:
      if d not in entries or d not in he:
        cells.append("not run")
        continue
      measured = _mean(level(entries[d])) - _mean(level(he[d]))
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


def _final_loss(run) -> float:
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
        f"{_final_loss(r):.3f}" if np.isfinite(_final_loss(r)) else "n/a",
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
      for d, entry in _entries(probes, arch, norm, scheme).items():
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


def _level(probes, arch, norm, scheme, depth) -> float:
  entry = _entries(probes, arch, norm, scheme).get(depth)
  return _mean(level(entry)) if entry else float("nan")


def _profile(probes, arch, norm, scheme, depth) -> float:
  entry = _entries(probes, arch, norm, scheme).get(depth)
  return _mean(profile(entry)) if entry else float("nan")


def _corr(probes, arch, norm, depth) -> float:
  entry = probes["correlation"].get(f"{arch}{depth}_{norm}")
  return _mean([c[0] for c in entry["per_seed"]]) if entry else float("nan")


def findings(probes, runs) -> list[findings_lib.Finding]:
  from experiments import gradients_at_init  # pylint: disable=g-import-not-at-top

  depths = _complete_depths(probes)
  if len(depths) < 2:
    return []
  lo, hi = depths[0], depths[-1]
  out = []
  he_lo, he_hi = (
    _level(probes, "plain", "none", "he", lo),
    _level(probes, "plain", "none", "he", hi),
  )
  naive_lo = _level(probes, "plain", "none", "naive", lo)
  naive = _entries(probes, "plain", "none", "naive")
  deep = max(naive) if naive else lo  # the deepest plain net without norm measured so far
  naive_zero = underflowed(naive[deep]) if naive else 0
  naive_deep = _level(probes, "plain", "none", "naive", deep)
  # Vanishing grows with depth: at the deepest net the gradients underflow float32 or sit
  # more than 3 decades below the shallowest net's.
  deeper = naive_zero > 0 or naive_deep < naive_lo - 3
  out.append(
    findings_lib.Finding(
      "Glorot & Bengio 2010, He et al. 2015: with a small fixed-scale init (N(0, 0.01)) the "
      "gradients of a deep plain ReLU net without normalisation vanish",
      findings_lib.check(
        naive_lo < he_lo - 3 and deeper and deep > lo,
        naive_lo,
        he_lo,
        naive_deep if not naive_zero else 0.0,
      ),
      f"plain-{lo}: median gradient 10^{naive_lo:.1f} vs 10^{he_lo:.1f} with He init "
      f"(predicted offset {gradients_at_init.predicted_level_offset(lo, 'naive'):.1f} decades); "
      f"plain-{deep}: "
      + (
        f"{naive_zero} weight layers' gradients underflow float32 to 0"
        if naive_zero
        else f"median gradient 10^{naive_deep:.1f}"
      )
      + f" (predicted offset {gradients_at_init.predicted_level_offset(deep, 'naive'):.0f} "
      "decades).",
    )
  )
  gl_hi = _level(probes, "plain", "none", "glorot", hi)
  gl_pred = gradients_at_init.predicted_level_offset(hi, "glorot")
  prof = [_profile(probes, "plain", "none", "he", d) for d in depths]
  out.append(
    findings_lib.Finding(
      "He et al. 2015: He init keeps a plain ReLU net's gradient scale with depth; Glorot's "
      "shrinks it by ~sqrt(2) per layer",
      findings_lib.check(
        abs(he_hi - he_lo) < 1.0
        and max(abs(p) for p in prof) < 1.0
        and abs((gl_hi - he_hi) - gl_pred) < max(1.0, 0.25 * abs(gl_pred)),
        he_hi,
        he_lo,
        gl_hi,
        *prof,
      ),
      f"He: median gradient 10^{he_lo:.2f} at depth {lo}, 10^{he_hi:.2f} at depth {hi}; "
      f"first/last-conv ratio 10^({', '.join(f'{p:.2f}' for p in prof)}) at depths "
      f"{depths}. Glorot at depth {hi}: {gl_hi - he_hi:.1f} decades below He "
      f"(predicted {gl_pred:.1f}).",
    )
  )
  pb = [_profile(probes, "plain", "batch", "he", d) for d in depths]
  rb_hi = _profile(probes, "resnet", "batch", "he", hi)
  rate = 10 ** (pb[-1] / max(hi - 2, 1)) if np.isfinite(pb[-1]) else float("nan")
  out.append(
    findings_lib.Finding(
      "Yang et al. 2019: batch norm in deep plain nets makes the gradients explode towards "
      "the input at initialisation; residual nets avoid it",
      findings_lib.check(pb[-1] > pb[0] + 1.0 and rb_hi < pb[-1] - 1.0, pb[-1], pb[0], rb_hi),
      f"plain + batch norm (He init), first/last-conv gradient ratio 10^"
      f"({', '.join(f'{p:.2f}' for p in pb)}) at depths {depths}, a factor {rate:.3f} per "
      f"layer at depth {hi}; resnet-{hi} + batch norm 10^{rb_hi:.2f}.",
    )
  )
  for norm in NORMS:
    p_lo, p_hi = _corr(probes, "plain", norm, lo), _corr(probes, "plain", norm, hi)
    r_lo, r_hi = _corr(probes, "resnet", norm, lo), _corr(probes, "resnet", norm, hi)
    out.append(
      findings_lib.Finding(
        f"Balduzzi et al. 2017 (norm={norm}): gradients of deep plain nets shatter (nearby "
        "inputs' gradients decorrelate with depth); residual nets keep them correlated",
        findings_lib.check(p_hi < r_hi and (p_lo - p_hi) > (r_lo - r_hi), p_lo, p_hi, r_lo, r_hi),
        f"correlation at adjacent inputs: plain {p_lo:.3f} (depth {lo}) -> {p_hi:.3f} "
        f"(depth {hi}); resnet {r_lo:.3f} -> {r_hi:.3f}.",
      )
    )
  out.append(_explosion_finding(probes, lo, hi))
  out.append(_training_finding(runs))
  return out


def _explosion_finding(probes, lo, hi) -> findings_lib.Finding:
  r_lo, r_hi = (
    _level(probes, "resnet", "none", "he", lo),
    _level(probes, "resnet", "none", "he", hi),
  )
  blocks = (hi - lo) // 2
  # Each block doubles the variance of the identity path: the forward signal below a layer
  # and the backward signal above it together grow by sqrt(2) per block of the net.
  predicted = blocks * math.log10(2) / 2
  return findings_lib.Finding(
    "Zhang et al. 2019: without normalisation a He-initialised ResNet's gradients explode "
    "with depth (each block adds its branch's variance to the identity path)",
    findings_lib.check(r_hi > r_lo + 1.0, r_lo, r_hi),
    f"resnet without norm, median gradient 10^{r_lo:.1f} at depth {lo}, 10^{r_hi:.1f} at "
    f"depth {hi}: {r_hi - r_lo:.1f} decades for {blocks} more blocks (doubling the variance "
    f"per block predicts {predicted:.1f}).",
  )


def _test_f1(run) -> float:
  return run.get("evals", {}).get("test", {}).get("macro_f1", float("nan"))


def _training_finding(runs) -> findings_lib.Finding:
  """A net counts as trained when it did not diverge and reached at least LEARNED_SHARE of
  the batch-norm net's test macro-F1 in the same budget: a net that only learns the class
  prior also ends below ln 20, so the loss alone does not tell."""
  by_init = {(r["labels"].get("norm"), r.get("init")): r for r in runs}
  default, batch = by_init.get(("none", "default")), by_init.get(("batch", "default"))
  fixes = [by_init.get(("none", s)) for s in ("zero_branch", "fixup")]
  claim = (
    "Zhang et al. 2019 (Fixup), zero-initialised residual branches: a deep ResNet without "
    "normalisation trains at the batch-norm learning rate when each branch starts at zero, "
    "and fails from the standard init"
  )
  if default is None or batch is None or any(f is None for f in fixes):
    return findings_lib.Finding(claim, None, "a run it needs has not finished")
  bar = LEARNED_SHARE * _test_f1(batch)

  def trained(r) -> bool:
    return not r.get("diverged") and _test_f1(r) >= bar

  parts = [
    f"{r['study_variant']}: {'diverged' if r.get('diverged') else 'finished'}, last loss "
    f"{_final_loss(r):.3f}, test macro-F1 {100 * _test_f1(r):.1f}%"
    for r in [default, *fixes, batch]
  ]
  evidence = "; ".join(parts) + (
    f". Trained = no divergence and test macro-F1 at least {100 * bar:.1f}% "
    f"({LEARNED_SHARE:.0%} of the batch-norm net's)."
  )
  holds = (not trained(default)) and all(trained(f) for f in fixes)
  return findings_lib.Finding(
    claim, holds if _test_f1(batch) == _test_f1(batch) else None, evidence
  )


def key_figure(probes, runs) -> str:
  depths = _complete_depths(probes)
  if not depths:
    return "probes not run yet."
  hi = depths[-1]
  pb, rb = (
    _profile(probes, "plain", "batch", "he", hi),
    _profile(probes, "resnet", "batch", "he", hi),
  )
  text = (
    f"at init, plain-{hi} with batch norm has input-side gradients 10^{pb:.1f} x the output "
    f"side (resnet-{hi}: 10^{rb:.1f}); neighbouring-input gradient correlation plain-{hi} "
    f"{_corr(probes, 'plain', 'batch', hi):.2f} vs resnet-{hi} "
    f"{_corr(probes, 'resnet', 'batch', hi):.2f}."
  )
  trained = {r.get("init"): r for r in runs if r["labels"].get("norm") == "none"}
  batch = [r for r in runs if r["labels"].get("norm") == "batch"]
  if trained:
    text += (
      " Without norm at lr 0.1: "
      + ", ".join(
        f"{init} init "
        + ("diverged" if r.get("diverged") else f"test macro-F1 {100 * _test_f1(r):.1f}%")
        for init, r in trained.items()
      )
      + (f" (batch norm: {100 * _test_f1(batch[0]):.1f}%)" if batch else "")
      + "."
    )
  return text
