"""The official report text and the report files of an evaluation.

official_text follows sklearn's classification_report layout exactly (rows for the classes
present in labels or predictions, then accuracy, macro avg, weighted avg), with the recall
column headed "acc" as the organisers printed it.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping

import numpy as np

from abstract_cls import taxonomy

OFFICIAL_SEEDS = (0, 5, 10)
AGREEMENT_TOLERANCE = 0.1


def _present(metrics: Mapping) -> list[str]:
  cm = np.asarray(metrics["confusion"])
  present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
  return [code for code, p in zip(metrics["class_codes"], present) if p]


def official_text(metrics: Mapping, digits: int = 2) -> str:
  """sklearn classification_report layout, recall printed as "acc"."""
  codes = _present(metrics)
  rows = [(c, metrics["per_class"][c]) for c in codes]
  width = max([len(c) for c in codes] + [len("weighted avg"), digits])
  headers = ["precision", "acc", "f1-score", "support"]
  text = ("{:>{width}s} " + " {:>9}" * 4).format("", *headers, width=width) + "\n\n"
  row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
  for code, s in rows:
    text += row_fmt.format(
      code, s["precision"], s["recall"], s["f1"], s["support"], width=width, digits=digits
    )
  text += "\n"
  total = sum(s["support"] for _, s in rows)
  text += ("{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n").format(
    "accuracy", "", "", metrics["accuracy"], total, width=width, digits=digits
  )
  macro = [np.mean([s[k] for _, s in rows]) for k in ("precision", "recall", "f1")]
  weights = np.array([s["support"] for _, s in rows], np.float64)
  weighted = [
    float(np.average([s[k] for _, s in rows], weights=weights)) if total else 0.0
    for k in ("precision", "recall", "f1")
  ]
  text += row_fmt.format("macro avg", *macro, total, width=width, digits=digits)
  text += row_fmt.format("weighted avg", *weighted, total, width=width, digits=digits)
  return text


def _markdown(metrics: Mapping) -> str:
  names = {c.code: c.name for c in taxonomy.classes()}
  lines = [
    "# Evaluation report",
    "",
    f"- examples: {metrics['num_examples']}",
    f"- accuracy: {metrics['accuracy']:.4f}",
    f"- macro-F1: {metrics['macro_f1']:.4f}",
    "",
  ]
  if metrics.get("per_domain"):
    lines += ["| domain | accuracy | macro-F1 | support |", "|---|---|---|---|"]
    lines += [
      f"| {d} | {v['accuracy']:.4f} | {v['macro_f1']:.4f} | {v['support']} |"
      for d, v in metrics["per_domain"].items()
    ]
    lines.append("")
  lines += [
    "| class | name | precision | recall (acc) | F1 | support |",
    "|---|---|---|---|---|---|",
  ]
  for code, s in metrics["per_class"].items():
    lines.append(
      f"| {code} | {names.get(code, '')} | {s['precision']:.4f} | {s['recall']:.4f} "
      f"| {s['f1']:.4f} | {s['support']} |"
    )
  lines += [
    "",
    "Official report (sklearn classification_report layout):",
    "",
    "```",
    official_text(metrics).rstrip("\n"),
    "```",
    "",
    "![confusion](confusion.png)",
    "",
  ]
  return "\n".join(lines)


def plot_confusion(metrics: Mapping, path: str | pathlib.Path) -> None:
  """Row-normalised confusion matrix (recall on the diagonal) with counts in the cells."""
  import matplotlib

  matplotlib.use("Agg")
  from matplotlib import pyplot as plt

  cm = np.asarray(metrics["confusion"], np.float64)
  codes = metrics["class_codes"]
  names = {c.code: c.name for c in taxonomy.classes()}
  ticks = [f"{c} {names.get(c, '')}".strip() for c in codes]
  rows = cm.sum(axis=1, keepdims=True)
  frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
  n = len(codes)
  fig, ax = plt.subplots(figsize=(0.5 * n + 4, 0.5 * n + 3))
  im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
  for i in range(n):
    for j in range(n):
      if cm[i, j]:
        ax.text(
          j,
          i,
          int(cm[i, j]),
          ha="center",
          va="center",
          fontsize=7,
          color="white" if frac[i, j] > 0.5 else "black",
        )
  ax.set_xticks(range(n), ticks, rotation=90, fontsize=8)
  ax.set_yticks(range(n), ticks, fontsize=8)
  ax.set_xlabel("predicted")
  ax.set_ylabel("true")
  ax.set_title(
    f"accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f} (colour: row fraction)"
  )
  fig.colorbar(im, ax=ax, fraction=0.04)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def write(metrics: Mapping, out_dir: str | pathlib.Path) -> dict[str, pathlib.Path]:
  """Writes report.json, report.md and confusion.png into out_dir; returns their paths."""
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  paths = dict(json=out / "report.json", md=out / "report.md", png=out / "confusion.png")
  paths["json"].write_text(json.dumps(dict(metrics), indent=1) + "\n", encoding="utf-8")
  paths["md"].write_text(_markdown(metrics), encoding="utf-8")
  plot_confusion(metrics, paths["png"])
  return paths


def seed_agreement(
  metrics_by_seed: Mapping[int, Mapping],
  tolerance: float = AGREEMENT_TOLERANCE,
  required_seeds: tuple[int, ...] = OFFICIAL_SEEDS,
) -> dict:
  """The official check: accuracy and macro-F1 of runs with seeds 0, 5, 10 agree within 0.1.

  Returns dict(ok, missing_seeds, accuracy_spread, macro_f1_spread, per_seed).
  """
  missing = [s for s in required_seeds if s not in metrics_by_seed]
  per_seed = {
    int(s): dict(accuracy=float(m["accuracy"]), macro_f1=float(m["macro_f1"]))
    for s, m in metrics_by_seed.items()
  }
  spread = {}
  for key in ("accuracy", "macro_f1"):
    values = [v[key] for v in per_seed.values()]
    spread[key] = float(max(values) - min(values)) if values else 0.0
  ok = not missing and all(v <= tolerance for v in spread.values())
  return dict(
    ok=ok,
    missing_seeds=missing,
    accuracy_spread=spread["accuracy"],
    macro_f1_spread=spread["macro_f1"],
    tolerance=tolerance,
    per_seed=per_seed,
  )
