"""Unsupervised photo detection: image statistics that separate photographs from drawings.

No "photo" labels exist in the real data, so the score only uses which direction of each
statistic is photograph-like (domain knowledge): photos have no flat background, many colours,
soft gradients and sensor noise everywhere; drawings, sketches and icons are flat regions
separated by sharp strokes. Each statistic becomes a one-sided robust z-score against the whole
data set (median and MAD: the photos are a minority and barely move them) and the score is the
weighted mean of the z-scores. The suggested cut comes from a two-component Gaussian mixture on the score
when it finds a separate high cluster, else a robust outlier rule (see `suggest_cut`).
"""

from __future__ import annotations

import numpy as np
from sklearn import mixture

from abstract_cls.audit import gradients

# name -> (+1 when larger is more photo-like / -1 when smaller is, spread floor, weight). The
# floor is the smallest difference that means anything between two images: clean drawings are
# so uniform that their MAD is ~0, and without a floor a re-encoded drawing would look extreme.
# Weights: the exact-flat fraction separates best (flat fills survive JPEG and resizing, noise
# never is flat), so it counts three times; the colour count is reported but not scored since
# JPEG re-encoding alone multiplies the colours of a drawing (results/audit_thresholds.md).
# Saturation is left out: greyscale photos have none.
STATISTICS = {
  "exact_flat_fraction": (-1, 0.05, 3.0),  # pixels equal (all channels) to their 4 neighbours
  "background_fraction": (-1, 0.05, 1.0),  # pixels matching the border colour
  "colours_for_90pct": (+1, 0.3, 0.0),  # log #(4-bit colours) covering 90% of pixels
  "soft_gradient_fraction": (+1, 0.03, 1.0),  # small but non-zero gradients (texture)
  "gradient_entropy": (+1, 0.25, 1.0),  # entropy of the gradient-magnitude histogram (bits)
  "noise_level": (+1, 0.25, 1.0),  # mean |grey - 3x3 mean| away from strong edges (high-pass)
}
BACKGROUND_TOLERANCE = 12
SOFT_GRADIENT = (3.0, 24.0)
# A photo candidate must also have at most this exact-flat fraction, which nearly every drawing
# exceeds and no photo crop does (results/audit_thresholds.md): the gate keeps the tail of the
# drawings' score distribution out on clean data.
MAX_EXACT_FLAT = 0.2
# Robust-rule fallback: scores this many robust standard deviations above the median.
OUTLIER_Z = 4.0
MAX_Z = 20.0


def batch_statistics(overviews: np.ndarray, backgrounds: np.ndarray) -> np.ndarray:
  """Statistics of RGB overviews [B, S, S, 3] uint8 with border colours [B, 3] -> [B, STATS]."""
  rgb = overviews.astype(np.int16)
  b = len(rgb)
  # Drawings are flat fills, so most pixels equal their neighbours exactly, even after JPEG
  # re-encoding (flat 8x8 blocks decode flat) or resizing; sensor noise makes that rare in photos.
  centre = rgb[:, 1:-1, 1:-1]
  flat = np.ones(centre.shape[:3], bool)
  for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
    flat &= (centre == rgb[:, 1 + dy : rgb.shape[1] - 1 + dy, 1 + dx : rgb.shape[2] - 1 + dx]).all(
      -1
    )
  exact_flat = flat.mean(axis=(1, 2))
  pixels = rgb.shape[1] * rgb.shape[2]
  background_fraction = (
    np.abs(rgb - backgrounds.astype(np.int16)[:, None, None]).max(axis=3) <= BACKGROUND_TOLERANCE
  ).mean(axis=(1, 2))
  quantised = (rgb[..., 0] >> 4) * 256 + (rgb[..., 1] >> 4) * 16 + (rgb[..., 2] >> 4)
  offsets = (np.arange(b) * 4096)[:, None, None]
  counts = np.bincount((quantised + offsets).reshape(-1), minlength=b * 4096).reshape(b, 4096)
  covered = np.cumsum(-np.sort(-counts, axis=1), axis=1)
  covering = np.argmax(covered >= 0.9 * pixels, axis=1) + 1
  grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
  gx, gy = gradients.sobel(grey)
  magnitude = np.hypot(gx, gy)
  soft = ((magnitude >= SOFT_GRADIENT[0]) & (magnitude < SOFT_GRADIENT[1])).mean(axis=(1, 2))
  levels = np.minimum(magnitude, 63.0).astype(np.int64) + (np.arange(b) * 64)[:, None, None]
  p = np.bincount(levels.reshape(-1), minlength=b * 64).reshape(b, 64) / pixels
  entropy = -(p * np.log2(np.where(p > 0, p, 1.0))).sum(axis=1)
  residual = np.abs(grey - gradients.box3(grey))
  calm = magnitude < SOFT_GRADIENT[1]
  noise = (residual * calm).sum(axis=(1, 2)) / np.maximum(calm.sum(axis=(1, 2)), 1)
  return np.stack([exact_flat, background_fraction, np.log(covering), soft, entropy, noise], axis=1)


def robust_scores(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """[N, S] statistics -> (score [N], oriented z-scores [N, S])."""
  direction, floor, weight = (np.array(v, np.float64) for v in zip(*STATISTICS.values()))
  median = np.median(stats, axis=0)
  mad = np.median(np.abs(stats - median), axis=0) * 1.4826
  q75, q25 = np.percentile(stats, [75, 25], axis=0)
  spread = np.maximum(np.maximum(mad, (q75 - q25) / 1.349), floor)
  z = np.clip(direction * (stats - median) / spread, -MAX_Z, MAX_Z)
  return (z * weight).sum(axis=1) / weight.sum(), z


def suggest_cut(scores: np.ndarray) -> dict:
  """Suggested score threshold (score >= cut -> photo candidate) and the rule that gave it.

  Rule: fit a two-component 1-D Gaussian mixture. When the upper component holds under half
  the data and its mean lies over 4 pooled standard deviations above the lower one, the two
  populations are separate; the cut is where the upper component's posterior first reaches 0.5
  between the means. Otherwise (no distinct photo cluster, e.g. clean data) the cut is the
  robust outlier rule median + OUTLIER_Z * 1.4826 * MAD of the score.
  """
  median = float(np.median(scores))
  mad = float(np.median(np.abs(scores - median)) * 1.4826) + 1e-9
  robust_cut = median + OUTLIER_Z * mad
  result = {"robust_cut": robust_cut, "rule": "robust", "cut": robust_cut}
  if len(scores) >= 20:
    gmm = mixture.GaussianMixture(2, random_state=0).fit(scores.reshape(-1, 1))
    means = gmm.means_.reshape(-1)
    stds = np.sqrt(gmm.covariances_.reshape(-1))
    hi, lo = int(np.argmax(means)), int(np.argmin(means))
    weight = float(gmm.weights_[hi])
    separation = (means[hi] - means[lo]) / np.sqrt(0.5 * (stds[hi] ** 2 + stds[lo] ** 2))
    result.update(
      gmm_means=means.tolist(),
      gmm_stds=stds.tolist(),
      gmm_upper_weight=weight,
      gmm_separation=float(separation),
    )
    if weight < 0.5 and separation > 4.0:
      grid = np.linspace(means[lo], means[hi], 512)
      posterior = gmm.predict_proba(grid.reshape(-1, 1))[:, hi]
      cut = float(grid[np.argmax(posterior >= 0.5)])
      result.update(rule="gmm", cut=max(cut, median + mad))
  return result


def candidates(scores: np.ndarray, stats: np.ndarray, cut: float) -> np.ndarray:
  """Photo candidates: score at or above the cut and few exactly flat pixels -> bool [N]."""
  flat = stats[:, list(STATISTICS).index("exact_flat_fraction")]
  return (scores >= cut) & (flat <= MAX_EXACT_FLAT)
