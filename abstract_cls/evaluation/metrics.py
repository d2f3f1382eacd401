"""Classification metrics in numpy, equal to sklearn's (zero_division=0) by construction.

Classes are the 20 competition classes in index order. Macro averages run over the classes
that occur in labels or predictions, as sklearn's classification_report / f1_score do by
default (the official evaluators called them without `labels=`); per_class lists all 20,
a class never seen nor predicted with zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from abstract_cls import taxonomy


def confusion(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
  """int64 [true, predicted] counts."""
  out = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(out, (labels, preds), 1)
  return out


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
  num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
  return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """(precision, recall, f1, support) per class from a confusion matrix."""
  tp = np.diag(cm).astype(np.float64)
  support = cm.sum(axis=1)
  predicted = cm.sum(axis=0)
  precision = _safe_div(tp, predicted)
  recall = _safe_div(tp, support)
  f1 = _safe_div(2 * tp, support + predicted)  # = 2PR/(P+R), 0 where undefined.
  return precision, recall, f1, support


def macro(values: np.ndarray, cm: np.ndarray) -> float:
  """Mean over the classes present in labels or predictions (sklearn's default label set)."""
  present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
  return float(values[present].mean()) if present.any() else 0.0


def _check(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> None:
  if labels.shape != preds.shape or labels.ndim != 1:
    raise ValueError(f"labels {labels.shape} and preds {preds.shape} must be equal 1-d shapes")
  for name, a in (("labels", labels), ("preds", preds)):
    if a.size and (a.min() < 0 or a.max() >= num_classes):
      raise ValueError(
        f"{name} must be class indices in [0, {num_classes}), got range [{a.min()}, {a.max()}]"
      )


def compute(
  labels: Sequence[int],
  preds: Sequence[int],
  domains: Sequence[int] | None = None,
  class_codes: Sequence[str] | None = None,
  domain_names: Sequence[str] = taxonomy.DOMAINS,
) -> dict:
  """The evaluation metrics: accuracy, macro_f1, per_class, per_domain, confusion.

  per_class maps each class code to precision/recall/f1/support; per_domain maps each domain
  name present in `domains` to its accuracy, macro_f1 and support.
  """
  codes = tuple(class_codes or taxonomy.class_codes())
  k = len(codes)
  labels = np.asarray(labels, np.int64).reshape(-1)
  preds = np.asarray(preds, np.int64).reshape(-1)
  _check(labels, preds, k)
  cm = confusion(labels, preds, k)
  precision, recall, f1, support = per_class_scores(cm)
  out = dict(
    num_examples=int(labels.size),
    accuracy=float(np.mean(labels == preds)) if labels.size else 0.0,
    macro_f1=macro(f1, cm),
    macro_precision=macro(precision, cm),
    macro_recall=macro(recall, cm),
    per_class={
      code: dict(
        precision=float(precision[i]),
        recall=float(recall[i]),
        f1=float(f1[i]),
        support=int(support[i]),
      )
      for i, code in enumerate(codes)
    },
    confusion=cm.tolist(),
    class_codes=list(codes),
  )
  per_domain = {}
  if domains is not None:
    domains = np.asarray(domains, np.int64).reshape(-1)
    if domains.shape != labels.shape:
      raise ValueError(f"domains {domains.shape} must match labels {labels.shape}")
    for d in np.unique(domains):
      sel = domains == d
      dom_cm = confusion(labels[sel], preds[sel], k)
      name = domain_names[d] if 0 <= d < len(domain_names) else str(int(d))
      per_domain[name] = dict(
        accuracy=float(np.mean(labels[sel] == preds[sel])),
        macro_f1=macro(per_class_scores(dom_cm)[2], dom_cm),
        support=int(sel.sum()),
      )
  out["per_domain"] = per_domain
  return out
