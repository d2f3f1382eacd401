"""Inspect's pure parts: the output-size rule, filter grids, galleries, curves, projections.

Arrays in, PNG out: no model, no checkpoint, a few seconds.
"""

import json

import numpy as np
import pytest
from flax import nnx

from abstract_cls import taxonomy
from abstract_cls.diagnostics import (
  collect,
  curves,
  embedding,
  errors,
  filters,
  output_size,
  saliency,
)


def _entry(i, o, k, s, p, kind="conv", c=8, **extra):
  return dict(
    name="x",
    kind=kind,
    input_shape=(1, i, i, 3),
    output_shape=(1, o, o, c),
    kernel=k,
    stride=s,
    padding=p,
    **extra,
  )


@pytest.mark.parametrize(
  "entry, expected",
  [
    (_entry(227, 55, 11, 4, 0), 55),  # AlexNet conv1 as published
    (_entry(224, 112, (7, 7), (2, 2), (3, 3)), 112),  # ResNet stem, padding per dim
    (_entry(112, 56, 3, 2, 1, kind="pool"), 56),  # ResNet stem max-pool
    (_entry(32, 28, 5, 1, "VALID"), 28),  # LeNet conv1
    (_entry(224, 112, 7, 2, "SAME"), 112),  # effective 2P = 5 (uneven)
    (_entry(32, 32, 3, 1, "same"), 32),
    (_entry(10, 9, 3, 1, ((0, 1), (0, 1))), 9),  # explicit (lo, hi) pairs: 2P = 1
    (_entry(16, 12, 3, 1, 0, dilation=2), 12),  # dilated extent 5
  ],
)
def test_output_size_rule(entry, expected):
  check = output_size.check_entry(entry)
  assert check.expected_hw == (expected, expected)
  assert check.ok, check


def test_same_padding_reports_effective_padding():
  check = output_size.check_entry(_entry(224, 112, 7, 2, "SAME"))
  assert check.pad_total == (5, 5) and check.effective_padding == "2.5"
  assert "floor((224-7+5)/2)+1 = 112" in check.formula()


def test_mismatch_is_reported_and_bad_entries_raise():
  checks = output_size.check_trace([_entry(32, 31, 3, 1, 1), _entry(8, 4, 2, 2, 0, "pool")])
  assert [c.ok for c in checks] == [False, True]
  assert "**MISMATCH**" in output_size.markdown_table(checks)
  with pytest.raises(ValueError, match="lacks"):
    output_size.check_entry(dict(name="conv9", kind="conv", input_shape=(1, 8, 8, 3)))
  with pytest.raises(ValueError, match="unknown padding"):
    output_size.check_entry(_entry(8, 8, 3, 1, "FULL"))


def test_filter_tiles_grid_and_png(tmp_path):
  rng = np.random.default_rng(0)
  tiles = filters.filter_tiles(rng.normal(size=(5, 5, 3, 6)) * np.arange(1, 7))
  assert tiles.shape == (6, 5, 5, 3)
  np.testing.assert_allclose(tiles.min(axis=(1, 2, 3)), 0.0, atol=1e-6)
  np.testing.assert_allclose(tiles.max(axis=(1, 2, 3)), 1.0, atol=1e-6)
  assert filters.filter_tiles(rng.normal(size=(3, 3, 1, 4))).shape == (4, 3, 3, 3)
  assert [filters.grid_columns(n) for n in (96, 64, 6, 1)] == [12, 8, 3, 1]
  path = filters.plot_filters(rng.normal(size=(11, 11, 3, 96)), tmp_path / "f.png")
  assert path.stat().st_size > 1000


def _fake_predictions(n=120, seed=0):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, taxonomy.NUM_CLASSES, n)
  domains = rng.integers(0, 3, n)
  logits = rng.normal(size=(n, taxonomy.NUM_CLASSES))
  logits[np.arange(n), labels] += 2.0
  probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  return rng.uniform(size=(n, 24, 24, 3)), probs, labels, domains


def test_confident_mistakes_are_wrong_and_sorted():
  _, probs, labels, domains = _fake_predictions()
  preds = probs.argmax(-1)
  for group in (labels, domains):
    found = errors.confident_mistakes(probs, labels, group, per_group=4)
    for g, idx in found.items():
      assert len(idx) <= 4 and np.all(group[idx] == g) and np.all(preds[idx] != labels[idx])
      confidence = probs[idx, preds[idx]]
      assert np.all(np.diff(confidence) <= 0)


def test_galleries_and_confusion_write_pngs(tmp_path):
  images, probs, labels, domains = _fake_predictions()
  by_class = errors.confident_mistakes(probs, labels, labels, 3)
  by_domain = errors.confident_mistakes(probs, labels, domains, 5)
  paths = [
    errors.plot_error_gallery(
      images,
      probs,
      labels,
      domains,
      by_class,
      "class",
      tmp_path / "c.png",
      "per class",
      blocks_per_row=4,
    ),
    errors.plot_error_gallery(
      images, probs, labels, domains, by_domain, "domain", tmp_path / "d.png", "per domain"
    ),
    errors.plot_error_gallery(
      images, probs, labels, domains, {}, "class", tmp_path / "none.png", "no mistakes"
    ),
    errors.plot_confusion_by_domain(labels, probs.argmax(-1), domains, tmp_path / "cm.png"),
  ]
  assert all(p.stat().st_size > 1000 for p in paths)
  matrix = errors.confusion(labels, probs.argmax(-1), taxonomy.NUM_CLASSES)
  assert matrix.sum() == len(labels)


def test_embedding_projections(tmp_path):
  rng = np.random.default_rng(0)
  domains = np.repeat([0, 1, 2], 12)
  labels = np.tile(np.arange(12), 3)
  features = rng.normal(size=(36, 10)) + 5.0 * np.eye(10)[domains]
  points, ratio = embedding.pca(features)
  assert points.shape == (36, 2) and ratio[0] + ratio[1] > 0.6  # the 3 domain centres
  assert embedding.domain_silhouette(features, domains) > 0.3  # domains set apart
  assert abs(embedding.domain_silhouette(features, rng.permutation(domains))) < 0.1  # mixed
  for method in embedding.METHODS:
    points, note = embedding.project(features, method)
    assert points.shape == (36, 2) and note
  with pytest.raises(ValueError, match="unknown projection"):
    embedding.project(features, "umap")
  path = embedding.plot_embedding(points, labels, domains, tmp_path / "e.png", "t")
  assert path.stat().st_size > 1000


def test_training_curves_from_jsonl(tmp_path):
  rows = [
    dict(
      step=s,
      epoch=s / 10,
      loss=3 - s / 10,
      accuracy=s / 20,
      lr=0.1,
      grad_norm=1.0,
      param_norm=20.0,
      update_norm=0.1,
      images_per_s=100.0,
    )
    for s in range(1, 20)
  ]
  rows += [
    dict(step=10, epoch=1.0, eval=dict(validation=dict(accuracy=0.4, macro_f1=0.3))),
    dict(step=19, epoch=1.9, eval=dict(validation=dict(accuracy=0.5, macro_f1=0.45))),
  ]
  metrics = tmp_path / "metrics.jsonl"
  metrics.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
  layer_rows = [
    dict(step=s, layers=[["layer_001_conv", 0.5], ["layer_002_conv", 0.2]]) for s in (5, 10)
  ]
  read = curves.read_jsonl(metrics)
  assert len(read) == len(rows)
  path = curves.plot_training_curves(read, tmp_path / "curves.png", layer_rows)
  assert path.stat().st_size > 1000
  steps, names, matrix = curves._layer_norm_matrix(layer_rows)  # pylint: disable=protected-access
  assert names == ["layer_001_conv", "layer_002_conv"] and matrix.shape == (2, 2)
  (tmp_path / "bad.jsonl").write_text('{"step": 1}\n{"step": 2,\n')
  with pytest.raises(ValueError, match=r"bad.jsonl:2"):
    curves.read_jsonl(tmp_path / "bad.jsonl")


def test_select_examples_spreads_over_domains_and_classes():
  labels = np.array([0, 0, 1, 2, 0, 0, 3, 3, 3])
  domains = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
  chosen = collect.select_examples(labels, domains, per_domain=2)
  assert chosen.tolist() == [0, 2, 4, 5, 6, 7]  # distinct classes first, then repeats


class _SquareDetector(nnx.Module):
  """features = the image; logit c = mean over pixels of channel c: evidence is where ink is."""

  def features(self, x):
    return x

  def classify(self, fmap):
    return fmap.mean(axis=(1, 2))

  def __call__(self, x):
    return self.classify(self.features(x))


def test_grad_cam_and_input_gradients_point_at_the_evidence(tmp_path):
  images = np.zeros((2, 16, 16, 3), np.float32)
  images[0, 2:6, 2:6, 1] = 1.0  # class 1 evidence top-left
  images[1, 10:14, 9:13, 2] = 1.0  # class 2 evidence bottom-right
  model = _SquareDetector()
  cams, shape = saliency.grad_cam(model, images, np.array([1, 2]))
  assert shape == (2, 16, 16, 3) and cams.shape == (2, 16, 16)
  assert cams[0, 2:6, 2:6].mean() > 0.9 and cams[0, 10:, 10:].max() < 0.1
  assert cams[1, 10:14, 9:13].mean() > 0.9 and cams[1, :6, :6].max() < 0.1
  grads = saliency.input_gradients(model, images, np.array([1, 2]))
  np.testing.assert_allclose(grads, 1.0)  # d mean / d pixel is uniform
  probs = np.full((2, taxonomy.NUM_CLASSES), 0.01)
  probs[[0, 1], [1, 2]] = 0.81
  path = saliency.plot_saliency(
    images,
    cams,
    grads,
    np.array([1, 3]),
    probs,
    np.array([0, 2]),
    tmp_path / "s.png",
    "predicted",
    shape,
  )
  assert path.stat().st_size > 1000
