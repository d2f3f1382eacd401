"""Unseen-domain study: leave one domain out (DomainBed), and unseen art styles.

Command: python -m experiments.domains --preset=cpu
The shared strong baseline (presets.strong_baseline). Leave-one-domain-out: train on two of
SKETCH / ILLUSTRATION / PICTOGRAM (train and validation splits restricted to them through
data.cleaned_manifest), select the checkpoint on that training-domain validation split
(DomainBed's training-domain model selection), and test on every image of the third domain
(its train, validation and test splits). All seen styles: train on everything, test on the
test split and on test_unseen_style (source sets never seen in training).
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from experiments import cli, convergence, sweep, tables
from experiments import findings as findings_lib
from experiments import presets as presets_lib

STUDY = "domains"
TITLE = "Unseen domains"
CONFIG_FILE = "configs/default.py"
CRITERION = convergence.Plateau()
DOMAINS = ("SKETCH", "ILLUSTRATION", "PICTOGRAM")
MARGIN = 0.01  # a score counts as lower when it is more than 1 point lower

PRESETS = {
  "smoke": sweep.Preset(
    "smoke",
    "synthetic set, 16 px, 2 steps",
    presets_lib.SMOKE_SEEDS,
    presets_lib.merged(presets_lib.SMOKE, presets_lib.SMOKE_LENET),
    split_alias=presets_lib.SMOKE_ALIAS,
  ),
  "cpu": sweep.Preset(
    "cpu",
    "abstract_icons, resnet18 (ImageNet stem, width 0.5), 64 px, SGD cosine, 60 epochs",
    presets_lib.SEEDS,
    presets_lib.merged(presets_lib.CPU, presets_lib.strong_baseline(64, 60.0)),
  ),
  "gpu": sweep.Preset(
    "gpu",
    "abstract_icons, resnet18 (ImageNet stem, width 0.5), 128 px, SGD cosine, 100 epochs",
    presets_lib.SEEDS,
    presets_lib.merged(presets_lib.GPU, presets_lib.strong_baseline(128, 100.0)),
  ),
}


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  del preset
  out = []
  for held in DOMAINS:
    seen = tuple(d for d in DOMAINS if d != held)
    out.append(
      sweep.Variant(f"heldout_{held.lower()}", {}, labels=dict(held_out=held), train_domains=seen)
    )
  out.append(sweep.Variant("all_seen_styles", {}, labels=dict(held_out="")))
  return out


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  specs = [
    sweep.EvalSpec(f"domain_{d.lower()}", ("train", "validation", "test"), (d,)) for d in DOMAINS
  ]
  return specs + [
    sweep.EvalSpec("test", ("test",)),
    sweep.EvalSpec("test_unseen_style", ("test_unseen_style",)),
  ]


def headline(run) -> str:
  """A held-out-domain run is scored on its held-out domain; the others on the test split."""
  held = run["labels"].get("held_out")
  return f"domain_{held.lower()}" if held else "test"


def _f1(spec):
  return lambda r: r["evals"][spec]["macro_f1"]


def _acc(spec):
  return lambda r: r["evals"][spec]["accuracy"]


def _dom_acc(spec, domain):
  return lambda r: r["evals"][spec]["per_domain"][domain]["accuracy"]


def _in_domain(seen):
  return lambda r: np.mean([r["evals"]["test"]["per_domain"][d]["accuracy"] for d in seen])


def report(runs, meta, out_dir) -> str:
  del meta
  groups = tables.by_variant(runs)
  rows = []
  for held in DOMAINS:
    rs = groups.get(f"heldout_{held.lower()}")
    if not rs:
      rows.append([held, "not run"] + [""] * 5)
      continue
    spec = f"domain_{held.lower()}"
    seen = [d for d in DOMAINS if d != held]
    rows.append(
      [
        held,
        " + ".join(seen),
        f"{sum(r['converged'] for r in rs)}/{len(rs)}",
        tables.fmt(tables.column(rs, _in_domain(seen))),
        tables.fmt(tables.column(rs, _acc(spec))),
        tables.fmt(tables.column(rs, _f1(spec))),
        rs[0]["evals"][spec]["num_examples"],
      ]
    )
  text = "**Leave one domain out** (checkpoint selected on training-domain validation):\n\n"
  text += tables.markdown_table(
    [
      "held-out domain",
      "trained on",
      "converged",
      "test accuracy on training domains %",
      "held-out domain accuracy %",
      "held-out domain macro-F1 %",
      "held-out images",
    ],
    rows,
  )
  rs = groups.get("all_seen_styles", [])
  rows = []
  for spec, label in (("test", "test (seen styles)"), ("test_unseen_style", "test_unseen_style")):
    if rs:
      rows.append(
        [label, tables.fmt(tables.column(rs, _acc(spec))), tables.fmt(tables.column(rs, _f1(spec)))]
        + [tables.fmt(tables.column(rs, _dom_acc(spec, d))) for d in DOMAINS]
      )
  text += "\n**All seen styles → unseen styles** (trained on all three domains):\n\n"
  text += tables.markdown_table(
    ["split", "accuracy %", "macro-F1 %"] + [f"{d.lower()} accuracy %" for d in DOMAINS], rows
  )
  plot = _plot(groups, out_dir)
  return text + f"\n![{plot}]({plot})\n"


def _plot(groups, out_dir) -> str:
  fig, axes = tables.new_figure(width=6.5)
  ax = axes[0][0]
  labels, ms, ss = [], [], []
  for held in DOMAINS:
    rs = groups.get(f"heldout_{held.lower()}")
    if rs:
      m, s = tables.mean_std(tables.column(rs, _acc(f"domain_{held.lower()}")))
      (
        labels.append(f"held-out\n{held.lower()} (n={len(rs)})"),
        ms.append(100 * m),
        ss.append(100 * s),
      )
  rs = groups.get("all_seen_styles")
  if rs:
    for spec, label in (("test", "all seen:\ntest"), ("test_unseen_style", "all seen:\nunseen")):
      m, s = tables.mean_std(tables.column(rs, _acc(spec)))
      labels.append(f"{label} (n={len(rs)})"), ms.append(100 * m), ss.append(100 * s)
  ax.bar(range(len(ms)), ms, yerr=ss, capsize=3, color="tab:blue")
  ax.set_xticks(range(len(ms)))
  ax.set_xticklabels(labels, fontsize=7)
  ax.set_ylabel("accuracy (%), mean ± std over seeds")
  ax.set_title("accuracy on unseen domains / styles")
  return tables.save_figure(fig, pathlib.Path(out_dir) / "domain_accuracy.png")


def _lower_in_every_seed(runs, lower, higher) -> bool | None:
  """True when lower(run) is below higher(run) by more than MARGIN in every run (seed), False
  when in none, None when the seeds disagree or there is no run: two scores of the same runs
  compared seed by seed."""
  below = [bool(higher(r) - lower(r) > MARGIN) for r in runs]
  if not below or any(below) != all(below):
    return None
  return below[0]


def findings(runs, out_dir) -> list[findings_lib.Finding]:
  del out_dir
  groups = tables.by_variant(runs)
  stat = lambda rs, g: tables.mean_std(tables.column(rs, g))[0]
  out = []
  for held in DOMAINS:
    rs = groups.get(f"heldout_{held.lower()}", [])
    seen = [d for d in DOMAINS if d != held]
    verdict = _lower_in_every_seed(rs, _acc(f"domain_{held.lower()}"), _in_domain(seen))
    out_dom = stat(rs, _acc(f"domain_{held.lower()}")) if rs else float("nan")
    in_dom = stat(rs, _in_domain(seen)) if rs else float("nan")
    out.append(
      findings_lib.Finding(
        f"Gulrajani & Lopez-Paz 2021 (DomainBed): a model selected on its training domains "
        f"loses accuracy on an unseen domain ({held.lower()} held out)",
        verdict,
        "no converged run yet."
        if not rs
        else f"{100 * out_dom:.1f}% on the held-out domain vs {100 * in_dom:.1f}% on the training "
        f"domains' test images (mean of n={len(rs)}; the verdict needs a drop of more than "
        "1 point in every seed).",
        undecided=verdict is None and bool(rs),
      )
    )
  rs = groups.get("all_seen_styles", [])
  seen_f1 = stat(rs, _f1("test")) if rs else float("nan")
  unseen_f1 = stat(rs, _f1("test_unseen_style")) if rs else float("nan")
  verdict = _lower_in_every_seed(rs, _f1("test_unseen_style"), _f1("test"))
  out.append(
    findings_lib.Finding(
      "Unseen art styles are harder than seen ones (distribution shift within a domain)",
      verdict,
      "no converged run yet."
      if not rs
      else f"macro-F1 {100 * unseen_f1:.1f}% on test_unseen_style vs {100 * seen_f1:.1f}% on the "
      f"seen-style test split (mean of n={len(rs)}; the verdict needs a drop of more than 1 point "
      "in every seed); the two splits also differ in class mix, so "
      "this does not isolate style.",
      undecided=verdict is None and bool(rs),
    )
  )
  return out


def _f1_text(runs, spec) -> str:
  return tables.fmt(tables.column(runs, _f1(spec)), unit="%")


def key_figure(runs, out_dir) -> str:
  del out_dir
  groups = tables.by_variant(runs)
  parts = []
  for held in DOMAINS:
    rs = groups.get(f"heldout_{held.lower()}")
    if rs:
      parts.append(f"held-out {held.lower()} {_f1_text(rs, f'domain_{held.lower()}')}")
  rs = groups.get("all_seen_styles")
  if rs:
    parts.append(
      f"seen-style test {_f1_text(rs, 'test')}, "
      f"unseen-style test {_f1_text(rs, 'test_unseen_style')}"
    )
  return "macro-F1: " + "; ".join(parts) + "."


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
