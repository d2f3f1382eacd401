"""A run's record: the curves and gradient norms result.json keeps from the trainer's logs.

The trainer writes metrics.jsonl (train rows every log_every steps, evaluation rows) and
layer_grad_norms.jsonl into the workdir; `curves` and `grad_norm_samples` copy what the
reports plot into result.json, so the logs and checkpoints stay out of the repository.
"""

from __future__ import annotations

import json
import pathlib

# Train-row fields kept per logged step.
TRAIN_FIELDS = ("step", "epoch", "loss", "accuracy", "lr")
# Per-layer gradient-norm rows kept: the first (initial weights) and this many more, spread.
GRAD_NORM_SAMPLES = 4


def read_jsonl(path) -> list[dict]:
  path = pathlib.Path(path)
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def train_rows(workdir) -> list[dict]:
  return [r for r in read_jsonl(pathlib.Path(workdir) / "metrics.jsonl") if "eval" not in r]


def eval_rows(workdir) -> list[dict]:
  return [r for r in read_jsonl(pathlib.Path(workdir) / "metrics.jsonl") if "eval" in r]


def curves(workdir) -> dict:
  """{'train': [{step, epoch, loss, accuracy, lr}], 'eval': [{step, epoch, split, accuracy,
  macro_f1, loss}]} from the workdir's metrics.jsonl (a resumed run's rows once each)."""
  train = {}
  for row in train_rows(workdir):
    train[row["step"]] = {k: row[k] for k in TRAIN_FIELDS if k in row}
  evals = {}
  for row in eval_rows(workdir):
    for split, m in row["eval"].items():
      evals[(row["step"], split)] = dict(
        step=row["step"],
        epoch=row["epoch"],
        split=split,
        accuracy=m.get("accuracy"),
        macro_f1=m.get("macro_f1"),
        loss=m.get("loss"),
      )
  return {"train": [train[s] for s in sorted(train)], "eval": [evals[k] for k in sorted(evals)]}


def grad_norm_samples(workdir) -> list[dict]:
  """A few rows of layer_grad_norms.jsonl (weight layers only): the first and evenly spread."""
  rows = read_jsonl(pathlib.Path(workdir) / "layer_grad_norms.jsonl")
  if not rows:
    return []
  picks = sorted(
    {0} | {round(i * (len(rows) - 1) / GRAD_NORM_SAMPLES) for i in range(1, GRAD_NORM_SAMPLES + 1)}
  )
  return [
    dict(
      step=rows[i]["step"],
      layers=[[name, norm] for name, norm in rows[i]["layers"] if name.endswith(("_conv", "_fc"))],
    )
    for i in picks
  ]
