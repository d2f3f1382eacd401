"""2-D map of penultimate features (model.embed): do the domains separate?"""

from __future__ import annotations

import pathlib

import numpy as np

from abstract_cls import taxonomy
from abstract_cls.diagnostics import display

DOMAIN_MARKERS = ("o", "^", "s", "x")  # SKETCH, ILLUSTRATION, PICTOGRAM, UNKNOWN
METHODS = ("pca", "tsne")


def pca(features: np.ndarray, dims: int = 2) -> tuple[np.ndarray, np.ndarray]:
  """(projection [N, dims], explained variance ratio [dims]) via SVD of centred features."""
  x = np.asarray(features, np.float64)
  x = x - x.mean(0)
  _, s, vt = np.linalg.svd(x, full_matrices=False)
  total = (s**2).sum()
  ratio = (s[:dims] ** 2) / total if total > 0 else np.zeros(dims)
  out = x @ vt[:dims].T
  if out.shape[1] < dims:  # fewer points/features than dims
    out = np.pad(out, ((0, 0), (0, dims - out.shape[1])))
    ratio = np.pad(ratio, (0, dims - ratio.size))
  return out.astype(np.float32), ratio


def tsne(features: np.ndarray, seed: int = 0) -> np.ndarray:
  """t-SNE (scikit-learn) on the first 50 principal components, as usual for speed."""
  from sklearn.manifold import TSNE  # pylint: disable=g-import-not-at-top

  n = len(features)
  if n < 5:
    raise ValueError(f"t-SNE needs at least 5 points, got {n}")
  reduced, _ = pca(features, min(50, features.shape[1], n))
  perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
  # 500 iterations (sklearn default 1000): the map has settled by then and it halves the time.
  return (
    TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=500)
    .fit_transform(reduced)
    .astype(np.float32)
  )


def project(features: np.ndarray, method: str, seed: int = 0) -> tuple[np.ndarray, str]:
  """(points [N, 2], axis note) for method 'pca' or 'tsne'."""
  if method == "pca":
    points, ratio = pca(features)
    return points, f"PCA, explained variance {ratio[0]:.0%} + {ratio[1]:.0%}"
  if method == "tsne":
    return tsne(features, seed), "t-SNE (perplexity <= 30, on 50 PCs)"
  raise ValueError(f"unknown projection {method!r}; known: {', '.join(METHODS)}")


def domain_silhouette(features: np.ndarray, domains: np.ndarray) -> float | None:
  """Silhouette of the domain grouping in feature space (Euclidean): > 0 means domains cluster."""
  if len(np.unique(domains)) < 2 or len(domains) < 3:
    return None
  from sklearn.metrics import silhouette_score  # pylint: disable=g-import-not-at-top

  return float(
    silhouette_score(
      features, domains, metric="euclidean", sample_size=min(len(domains), 3000), random_state=0
    )
  )


def plot_embedding(
  points: np.ndarray, labels: np.ndarray, domains: np.ndarray, path: str | pathlib.Path, title: str
) -> pathlib.Path:
  """Scatter coloured by class (tab20) and marked by domain, legends outside the axes."""
  fig, ax = display.plt.subplots(figsize=(10.5, 7.5))
  cmap = display.plt.get_cmap("tab20")
  for d in np.unique(domains):
    for c in np.unique(labels):
      keep = (domains == d) & (labels == c)
      if keep.any():
        marker = DOMAIN_MARKERS[int(d) % len(DOMAIN_MARKERS)]
        ax.scatter(
          points[keep, 0],
          points[keep, 1],
          s=16,
          marker=marker,
          color=cmap(int(c) % 20),
          alpha=0.8,
          linewidths=0.8 if marker == "x" else 0.3,
          edgecolors=None if marker == "x" else "black",
        )
  class_handles = [
    _handle("o", cmap(c % 20), display.class_label(c, 20))
    for c in sorted(set(int(v) for v in labels))
  ]
  domain_handles = [
    _handle(DOMAIN_MARKERS[int(d) % 4], "grey", taxonomy.DOMAINS[int(d)].lower())
    for d in np.unique(domains)
  ]
  legend = _legend(ax, class_handles, "class", 7, "upper left", (1.01, 1.0))
  ax.add_artist(legend)
  second = _legend(ax, domain_handles, "domain", 8, "lower left", (1.01, 0.0))
  ax.set_title(title, fontsize=11)
  ax.tick_params(labelsize=7)
  ax.grid(alpha=0.2)
  return display.save(fig, path, extra_artists=(legend, second))


def _handle(marker: str, color, label: str):
  return display.plt.Line2D([], [], ls="", marker=marker, ms=7, color=color, label=label)


def _legend(ax, handles, title: str, fontsize: int, loc: str, anchor: tuple):
  return ax.legend(
    handles=handles,
    title=title,
    fontsize=fontsize,
    title_fontsize=8,
    loc=loc,
    bbox_to_anchor=anchor,
  )
