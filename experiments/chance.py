"""Chance levels of a split: what a classifier that ignores the image scores on it.

Two guesses, from the split's labels alone:
- majority: always the most frequent class of the training split (what a constant
  classifier fitted to the training labels predicts); accuracy and macro-F1 exact.
- uniform: a class drawn uniformly at random for every image; the expected accuracy is
  1/K and the expected F1 of each class is summed exactly over the binomial numbers of true
  and false positives. Macro-F1 averages over the classes present in the labels or the
  predictions (the metric's convention), with the expected count of predicted classes that
  have no label in the split.
"""

from __future__ import annotations

import math

import numpy as np


def _binomial_pmf(n: int, p: float) -> np.ndarray:
  k = np.arange(n + 1)
  log_pmf = (
    np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in k])
    + k * math.log(p)
    + (n - k) * math.log1p(-p)
  )
  return np.exp(log_pmf)


def uniform_guess(labels: np.ndarray, num_classes: int) -> dict:
  """Expected accuracy and macro-F1 of uniform random predictions on `labels`."""
  labels = np.asarray(labels, np.int64)
  n, p = len(labels), 1.0 / num_classes
  support = np.bincount(labels, minlength=num_classes)
  f1_sum = 0.0
  for count in support:
    if count == 0:
      continue  # no true positive possible: F1 is 0 whenever the class is present
    tp, fp = np.arange(count + 1), np.arange(n - count + 1)
    f1 = 2.0 * tp[:, None] / (count + tp[:, None] + fp[None, :])
    f1_sum += float(_binomial_pmf(count, p) @ f1 @ _binomial_pmf(n - count, p))
  absent = int(np.sum(support == 0))
  present = int(np.sum(support > 0)) + absent * (1.0 - (1.0 - p) ** n)
  return {"accuracy": p, "macro_f1": f1_sum / present if present else 0.0}


def majority_guess(labels: np.ndarray, train_labels: np.ndarray, num_classes: int) -> dict:
  """Accuracy and macro-F1 of always predicting the training split's most frequent class."""
  from abstract_cls.evaluation import metrics  # pylint: disable=g-import-not-at-top

  majority = int(np.argmax(np.bincount(train_labels, minlength=num_classes)))
  labels = np.asarray(labels, np.int64)
  codes = [str(i) for i in range(num_classes)]
  scores = metrics.compute(labels, np.full(len(labels), majority), class_codes=codes)
  return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"], "class": majority}


def levels(labels: np.ndarray, train_labels: np.ndarray, num_classes: int = 20) -> dict:
  """{'majority': {...}, 'uniform': {...}, 'best': the higher of the two per metric, 'n'}."""
  majority = majority_guess(labels, train_labels, num_classes)
  uniform = uniform_guess(labels, num_classes)
  best = {k: max(majority[k], uniform[k]) for k in ("accuracy", "macro_f1")}
  return {"majority": majority, "uniform": uniform, "best": best, "n": int(len(labels))}
