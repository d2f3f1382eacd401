"""Findings of the gradients-at-initialisation study: each measured probe or training run
checked against the literature claim it tests."""

from __future__ import annotations

import math

import numpy as np

from experiments import findings as findings_lib
from experiments import gradients_at_init_report as report

# A net without norm 'trains' when it reaches this share of the batch-norm net's test
# macro-F1 in the same budget.
LEARNED_SHARE = 0.5


def _level(probes, arch, norm, scheme, depth) -> float:
  entry = report.scheme_entries(probes, arch, norm, scheme).get(depth)
  return report.mean_of(report.level(entry)) if entry else float("nan")


def _profile(probes, arch, norm, scheme, depth) -> float:
  entry = report.scheme_entries(probes, arch, norm, scheme).get(depth)
  return report.mean_of(report.profile(entry)) if entry else float("nan")


def _corr(probes, arch, norm, depth) -> float:
  entry = probes["correlation"].get(f"{arch}{depth}_{norm}")
  return report.mean_of([c[0] for c in entry["per_seed"]]) if entry else float("nan")


def findings(probes, runs) -> list[findings_lib.Finding]:
  """Every claim of the study checked against the probes and training runs measured so far."""
  depths = report.complete_depths(probes)
  if len(depths) < 2:
    return []
  lo, hi = depths[0], depths[-1]
  out = [
    _vanishing_finding(probes, lo),
    _he_init_finding(probes, depths),
    _batch_norm_finding(probes, depths),
  ]
  out += [_shattering_finding(probes, norm, lo, hi) for norm in report.NORMS]
  out.append(_explosion_finding(probes, lo, hi))
  out.append(_training_finding(runs))
  return out


def _vanishing_finding(probes, lo) -> findings_lib.Finding:
  """A small fixed-scale init against He init, at the shallowest and the deepest plain net."""
  from experiments import gradients_at_init  # pylint: disable=g-import-not-at-top

  he_lo = _level(probes, "plain", "none", "he", lo)
  naive_lo = _level(probes, "plain", "none", "naive", lo)
  naive = report.scheme_entries(probes, "plain", "none", "naive")
  deep = max(naive) if naive else lo  # the deepest plain net without norm measured so far
  naive_zero = report.underflowed(naive[deep]) if naive else 0
  naive_deep = _level(probes, "plain", "none", "naive", deep)
  # Vanishing grows with depth: at the deepest net the gradients underflow float32 or sit
  # more than 3 decades below the shallowest net's.
  deeper = naive_zero > 0 or naive_deep < naive_lo - 3
  return findings_lib.Finding(
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


def _he_init_finding(probes, depths) -> findings_lib.Finding:
  """He init's gradient scale through depth, and Glorot's offset from it at the deepest net."""
  from experiments import gradients_at_init  # pylint: disable=g-import-not-at-top

  lo, hi = depths[0], depths[-1]
  he_lo, he_hi = (
    _level(probes, "plain", "none", "he", lo),
    _level(probes, "plain", "none", "he", hi),
  )
  gl_hi = _level(probes, "plain", "none", "glorot", hi)
  gl_pred = gradients_at_init.predicted_level_offset(hi, "glorot")
  prof = [_profile(probes, "plain", "none", "he", d) for d in depths]
  return findings_lib.Finding(
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


def _batch_norm_finding(probes, depths) -> findings_lib.Finding:
  """Batch norm's input-side gradient growth in plain nets against a residual net."""
  hi = depths[-1]
  pb = [_profile(probes, "plain", "batch", "he", d) for d in depths]
  rb_hi = _profile(probes, "resnet", "batch", "he", hi)
  rate = 10 ** (pb[-1] / max(hi - 2, 1)) if np.isfinite(pb[-1]) else float("nan")
  return findings_lib.Finding(
    "Yang et al. 2019: batch norm in deep plain nets makes the gradients explode towards "
    "the input at initialisation; residual nets avoid it",
    findings_lib.check(pb[-1] > pb[0] + 1.0 and rb_hi < pb[-1] - 1.0, pb[-1], pb[0], rb_hi),
    f"plain + batch norm (He init), first/last-conv gradient ratio 10^"
    f"({', '.join(f'{p:.2f}' for p in pb)}) at depths {depths}, a factor {rate:.3f} per "
    f"layer at depth {hi}; resnet-{hi} + batch norm 10^{rb_hi:.2f}.",
  )


def _shattering_finding(probes, norm, lo, hi) -> findings_lib.Finding:
  """Neighbouring inputs' gradient correlation with depth, plain against residual."""
  p_lo, p_hi = _corr(probes, "plain", norm, lo), _corr(probes, "plain", norm, hi)
  r_lo, r_hi = _corr(probes, "resnet", norm, lo), _corr(probes, "resnet", norm, hi)
  return findings_lib.Finding(
    f"Balduzzi et al. 2017 (norm={norm}): gradients of deep plain nets shatter (nearby "
    "inputs' gradients decorrelate with depth); residual nets keep them correlated",
    findings_lib.check(p_hi < r_hi and (p_lo - p_hi) > (r_lo - r_hi), p_lo, p_hi, r_lo, r_hi),
    f"correlation at adjacent inputs: plain {p_lo:.3f} (depth {lo}) -> {p_hi:.3f} "
    f"(depth {hi}); resnet {r_lo:.3f} -> {r_hi:.3f}.",
  )


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
    f"{report.final_loss(r):.3f}, test macro-F1 {100 * _test_f1(r):.1f}%"
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
  depths = report.complete_depths(probes)
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
