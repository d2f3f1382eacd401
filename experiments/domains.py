"""Unseen-domain study: leave one domain out (DomainBed), and unseen art styles.

Command: python -m experiments.domains --preset=quick --out=experiments/results/domains
Leave-one-domain-out: train on two of SKETCH / ILLUSTRATION / PICTOGRAM (train split and
validation split restricted to them through data.cleaned_manifest), select the checkpoint on
that training-domain validation split (DomainBed's training-domain validation), and test on
every image of the third domain (its train, validation and test splits). All seen styles:
train on everything, test on the test split and on test_unseen_style (source sets never
seen in training).
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from experiments import cli, presets, sweep, tables

STUDY = "domains"
CONFIG_FILE = "configs/lenet.py"
DOMAINS = ("SKETCH", "ILLUSTRATION", "PICTOGRAM")

PRESETS = {
  "tiny": sweep.Preset(
    "tiny",
    "synthetic set, 16 px, 2 steps",
    presets.TINY_SEEDS,
    presets.TINY_DATA,
    split_alias=presets.TINY_ALIAS,
  ),
  "quick": sweep.Preset(
    "quick",
    "abstract_icons, lenet5, 32 px, 6 epochs, 3 evaluations",
    presets.SEEDS,
    presets.merged(
      presets.QUICK_DATA,
      {"train.num_epochs": 6.0, "train.eval_every_epochs": 2.0, "train.log_every": 25},
    ),
  ),
  "full": sweep.Preset(
    "full",
    "abstract_icons, resnet20, 64 px, 60 epochs",
    presets.SEEDS,
    presets.merged(
      presets.FULL_DATA,
      {
        "model.name": "resnet20",
        "optimizer.name": "sgd",
        "optimizer.lr": 0.1,
        "optimizer.weight_decay": 5e-4,
        "train.num_epochs": 60.0,
        "train.eval_every_epochs": 5.0,
        "train.log_every": 50,
      },
    ),
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


def _f1(spec):
  return lambda r: r["evals"][spec]["macro_f1"]


def _acc(spec):
  return lambda r: r["evals"][spec]["accuracy"]


def _dom_acc(spec, domain):
  return lambda r: r["evals"][spec]["per_domain"][domain]["accuracy"]


def write_report(results, meta, out_dir) -> str:
  out_dir = pathlib.Path(out_dir)
  groups = tables.by_variant(results)
  rows = []
  gaps = []
  for held in DOMAINS:
    runs = groups.get(f"heldout_{held.lower()}")
    if not runs:
      rows.append([held, "not run"] + [""] * 4)
      continue
    spec = f"domain_{held.lower()}"
    seen = [d for d in DOMAINS if d != held]
    in_dom = lambda r, seen=seen: np.mean(
      [r["evals"]["test"]["per_domain"][d]["accuracy"] for d in seen]
    )
    rows.append(
      [
        held,
        " + ".join(seen),
        tables.fmt(tables.column(runs, in_dom)),
        tables.fmt(tables.column(runs, _acc(spec))),
        tables.fmt(tables.column(runs, _f1(spec))),
        runs[0]["evals"][spec]["num_examples"],
      ]
    )
    gaps.append(
      (
        held,
        tables.mean_std(tables.column(runs, in_dom))[0],
        tables.mean_std(tables.column(runs, _acc(spec)))[0],
      )
    )
  text = "**Leave one domain out** (checkpoint selected on training-domain validation):\n\n"
  text += tables.markdown_table(
    [
      "held-out domain",
      "trained on",
      "test accuracy on training domains %",
      "held-out domain accuracy %",
      "held-out domain macro-F1 %",
      "held-out images",
    ],
    rows,
  )
  runs = groups.get("all_seen_styles", [])
  rows = []
  if runs:
    for spec, label in (("test", "test (seen styles)"), ("test_unseen_style", "test_unseen_style")):
      rows.append(
        [
          label,
          tables.fmt(tables.column(runs, _acc(spec))),
          tables.fmt(tables.column(runs, _f1(spec))),
        ]
        + [tables.fmt(tables.column(runs, _dom_acc(spec, d))) for d in DOMAINS]
      )
  text += "\n**All seen styles → unseen styles** (trained on all three domains):\n\n"
  text += tables.markdown_table(
    ["split", "accuracy %", "macro-F1 %"] + [f"{d.lower()} accuracy %" for d in DOMAINS], rows
  )
  plot = _plot(groups, out_dir)
  text += f"\n![{plot}]({plot})\n\n**Findings:**\n\n"
  for held, in_dom, out_dom in gaps:
    verdict = (
      "agrees with the literature: an unseen domain is harder"
      if out_dom < in_dom
      else "disagrees with the literature: the unseen domain is not harder here"
    )
    text += (
      f"- Held-out {held.lower()}: {100 * out_dom:.1f}% accuracy vs {100 * in_dom:.1f}% on "
      f"the training domains' test images ({100 * (out_dom - in_dom):+.1f} points); "
      f"{verdict}.\n"
    )
  if runs:
    seen_m = tables.mean_std(tables.column(runs, _f1("test")))[0]
    unseen_m = tables.mean_std(tables.column(runs, _f1("test_unseen_style")))[0]
    verdict = (
      "agrees with the literature: unseen styles are harder"
      if unseen_m < seen_m
      else "disagrees with the literature: unseen styles are not harder here. The two "
      "test splits differ in class mix as well as in style (test_unseen_style is six "
      "whole held-out icon sets), so this comparison does not isolate style"
    )
    text += (
      f"- Unseen art styles: macro-F1 {100 * unseen_m:.1f}% vs {100 * seen_m:.1f}% on "
      f"seen styles ({100 * (unseen_m - seen_m):+.1f} points); {verdict}.\n"
    )
  return text


def _plot(groups, out_dir) -> str:
  fig, axes = tables.new_figure(width=6.5)
  ax = axes[0][0]
  labels, ms, ss = [], [], []
  for held in DOMAINS:
    runs = groups.get(f"heldout_{held.lower()}")
    if runs:
      m, s = tables.mean_std(tables.column(runs, _acc(f"domain_{held.lower()}")))
      labels.append(f"held-out\n{held.lower()}"), ms.append(100 * m), ss.append(100 * s)
  runs = groups.get("all_seen_styles")
  if runs:
    for spec, label in (
      ("test", "all seen:\ntest"),
      ("test_unseen_style", "all seen:\nunseen style"),
    ):
      m, s = tables.mean_std(tables.column(runs, _acc(spec)))
      labels.append(label), ms.append(100 * m), ss.append(100 * s)
  ax.bar(range(len(ms)), ms, yerr=ss, capsize=3, color="tab:blue")
  ax.set_xticks(range(len(ms)))
  ax.set_xticklabels(labels, fontsize=8)
  ax.set_ylabel("accuracy (%)")
  ax.set_title("accuracy on unseen domains / styles (mean ± std over seeds)")
  return tables.save_figure(fig, out_dir / "domain_accuracy.png")


def summary_line(results, meta) -> str:
  groups = tables.by_variant(results)
  parts = []
  for held in DOMAINS:
    runs = groups.get(f"heldout_{held.lower()}")
    if runs:
      parts.append(
        f"held-out {held.lower()} {tables.fmt(tables.column(runs, _f1(f'domain_{held.lower()}')))}"
      )
  runs = groups.get("all_seen_styles")
  if runs:
    parts.append(
      f"seen-style test {tables.fmt(tables.column(runs, _f1('test')))}, "
      f"unseen-style test {tables.fmt(tables.column(runs, _f1('test_unseen_style')))}"
    )
  return (
    f"**Unseen domains** (preset `{meta['preset']}`, commit {tables.short_commit(meta)}): macro-F1 % "
    + "; ".join(parts)
    + "."
  )


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
