"""When a run counts as trained: each study's stated criterion, checked from the run's curves.

`Plateau` (the trained studies): the run finished its planned schedule without diverging and
its training accuracy stopped rising: the mean training accuracy over the last `fraction` of
its epochs is less than `max_gain` above the mean over the epochs just before them (per-epoch
accuracy = the mean of the logged windows of augmented training batches in that epoch).
`Completed` (short demonstration runs, e.g. initialisation schemes trained for a few epochs):
the run finished its planned steps; divergence is itself the result there, so it is recorded
but does not exclude the run.
A run that misses its study's criterion is marked in the report and left out of every finding.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Verdict:
  converged: bool
  reason: str  # why not, or how it met the criterion
  final_train_error: float  # 1 - training accuracy of the last epoch (nan if none)


def epoch_accuracy(train_curve: list[dict]) -> tuple[np.ndarray, np.ndarray]:
  """(epochs 1..E, mean logged training accuracy within each epoch)."""
  buckets: dict[int, list[float]] = {}
  for row in train_curve:
    if row.get("accuracy") is None or not np.isfinite(row["accuracy"]):
      continue
    buckets.setdefault(max(1, math.ceil(row["epoch"] - 1e-9)), []).append(row["accuracy"])
  epochs = np.array(sorted(buckets), dtype=np.int64)
  return epochs, np.array([np.mean(buckets[e]) for e in epochs])


def final_train_error(run: dict) -> float:
  _, acc = epoch_accuracy(run.get("curves", {}).get("train", []))
  return float(1.0 - acc[-1]) if len(acc) else float("nan")


def _finished(run: dict) -> tuple[bool, str]:
  train = run.get("curves", {}).get("train", [])
  if not train:
    return False, "no training rows logged"
  last = train[-1]
  if run.get("planned_max_steps", 0) > 0 and last["step"] >= run["planned_max_steps"]:
    return True, ""
  if last["epoch"] >= run.get("planned_epochs", 0) - 1e-6:
    return True, ""
  return False, f"stopped at epoch {last['epoch']:.1f} of {run.get('planned_epochs')}"


@dataclasses.dataclass(frozen=True)
class Plateau:
  # Two points, as tools/family_recipes.py: under a cosine schedule the last epochs still
  # gain about a point while the learning rate anneals, and per-epoch accuracy of augmented
  # batches varies by about that much.
  fraction: float = 0.1
  max_gain: float = 0.02

  def describe(self) -> str:
    return (
      f"finished its schedule without diverging, and its mean training accuracy over the last "
      f"{100 * self.fraction:.0f}% of epochs is less than {100 * self.max_gain:.0f} point(s) "
      "above the mean over the same number of epochs just before"
    )

  def check(self, run: dict) -> Verdict:
    error = final_train_error(run)
    if run.get("diverged"):
      return Verdict(False, "diverged", error)
    done, why = _finished(run)
    if not done:
      return Verdict(False, why, error)
    epochs, acc = epoch_accuracy(run["curves"]["train"])
    k = max(1, round(self.fraction * len(epochs)))
    if len(acc) < 2 * k:
      return Verdict(False, f"only {len(acc)} epochs logged, the criterion needs {2 * k}", error)
    gain = float(np.mean(acc[-k:]) - np.mean(acc[-2 * k : -k]))
    if gain >= self.max_gain:
      return Verdict(
        False, f"still improving: +{100 * gain:.1f} points in the last {k} epochs", error
      )
    return Verdict(True, f"{100 * gain:+.1f} points in the last {k} epochs", error)


@dataclasses.dataclass(frozen=True)
class Completed:
  def describe(self) -> str:
    return (
      "ran its planned steps, or diverged (recorded as the outcome: these short runs test "
      "whether training starts, not where it ends)"
    )

  def check(self, run: dict) -> Verdict:
    error = final_train_error(run)
    if run.get("diverged"):
      return Verdict(True, "diverged (the outcome)", error)
    done, why = _finished(run)
    return Verdict(done, "ran its planned steps" if done else why, error)
