"""Evaluation metrics equal sklearn's; official report text; report files; seed agreement."""

import json

import numpy as np
import pytest
from sklearn import metrics as sk

from abstract_cls import taxonomy
from abstract_cls.evaluation import metrics, report

CODES = taxonomy.class_codes()


def _predictions(seed, n=400, classes=20, correct=0.6):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, classes, n)
  preds = np.where(rng.random(n) < correct, labels, rng.integers(0, 20, n))
  return labels, preds, rng.integers(0, 3, n)


@pytest.mark.parametrize("seed,classes", [(0, 20), (1, 17), (2, 5)])
def test_metrics_equal_sklearn(seed, classes):
  labels, preds, domains = _predictions(seed, classes=classes)
  m = metrics.compute(labels, preds, domains)
  assert m["accuracy"] == pytest.approx(sk.accuracy_score(labels, preds))
  assert m["macro_f1"] == pytest.approx(
    sk.f1_score(labels, preds, average="macro", zero_division=0)
  )
  p, r, f, s = sk.precision_recall_fscore_support(labels, preds, labels=range(20), zero_division=0)
  for i, code in enumerate(CODES):
    got = m["per_class"][code]
    assert (got["precision"], got["recall"], got["f1"], got["support"]) == pytest.approx(
      (p[i], r[i], f[i], s[i])
    )
  np.testing.assert_array_equal(
    m["confusion"], sk.confusion_matrix(labels, preds, labels=range(20))
  )
  for d, name in enumerate(taxonomy.DOMAINS[:3]):
    sel = domains == d
    assert m["per_domain"][name]["accuracy"] == pytest.approx(
      sk.accuracy_score(labels[sel], preds[sel])
    )
    assert m["per_domain"][name]["macro_f1"] == pytest.approx(
      sk.f1_score(labels[sel], preds[sel], average="macro", zero_division=0)
    )
    assert m["per_domain"][name]["support"] == sel.sum()


def test_bad_inputs_are_clear_errors():
  with pytest.raises(ValueError, match="class indices"):
    metrics.compute([0, 20], [0, 1])
  with pytest.raises(ValueError, match="equal 1-d shapes"):
    metrics.compute([0, 1], [0])


@pytest.mark.parametrize("seed,classes,digits", [(0, 20, 2), (3, 12, 4)])
def test_official_text_is_sklearn_report_with_acc(seed, classes, digits):
  labels, preds, _ = _predictions(seed, classes=classes)
  present = sorted(set(labels) | set(preds))
  expected = sk.classification_report(
    labels, preds, target_names=[CODES[i] for i in present], zero_division=0, digits=digits
  )
  assert report.official_text(metrics.compute(labels, preds), digits) == expected.replace(
    "   recall", "      acc", 1
  )


def test_write_produces_json_markdown_and_png(tmp_path):
  labels, preds, domains = _predictions(0)
  m = metrics.compute(labels, preds, domains)
  paths = report.write(m, tmp_path / "eval")
  assert json.loads(paths["json"].read_text())["macro_f1"] == pytest.approx(m["macro_f1"])
  md = paths["md"].read_text()
  assert "macro-F1" in md and "L2_33 | mammals" in md and "acc" in md
  assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seed_agreement():
  runs = {
    0: dict(accuracy=0.80, macro_f1=0.70),
    5: dict(accuracy=0.85, macro_f1=0.72),
    10: dict(accuracy=0.82, macro_f1=0.75),
  }
  result = report.seed_agreement(runs)
  assert result["ok"] and result["accuracy_spread"] == pytest.approx(0.05)
  runs[10] = dict(accuracy=0.60, macro_f1=0.75)
  assert not report.seed_agreement(runs)["ok"]
  missing = report.seed_agreement({0: runs[0]})
  assert not missing["ok"] and missing["missing_seeds"] == [5, 10]
