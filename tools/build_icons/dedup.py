"""Perceptual-hash distances, near-duplicate merging and design groups."""

from __future__ import annotations

import numpy as np

# Hamming distances between 64-bit pHashes (of the stored 128 px images).
DUPLICATE_DISTANCE = 4  # at most this: the same drawing (sets copy each other); keep one
GROUP_DISTANCE = 8  # at most this: one design group, kept in one split
# Mean absolute difference (0-255) of 32x32 greyscale thumbnails below which
# two images within DUPLICATE_DISTANCE are one drawing.
SAME_DRAWING_MAD = 12.0


def same_drawing(thumb_a: np.ndarray, thumb_b: np.ndarray) -> bool:
  return float(np.abs(thumb_a - thumb_b).mean()) <= SAME_DRAWING_MAD


def hashes_to_array(hex_hashes: list[str]) -> np.ndarray:
  return np.array([int(h, 16) for h in hex_hashes], dtype=np.uint64)


def close_pairs(hashes: np.ndarray, max_distance: int, chunk: int = 1024) -> np.ndarray:
  """All pairs (i < j) with Hamming distance <= max_distance, as an [n, 2] array."""
  out = []
  for start in range(0, len(hashes), chunk):
    block = hashes[start : start + chunk]
    dist = np.bitwise_count(block[:, None] ^ hashes[None, :])
    rows, cols = np.nonzero(dist <= max_distance)
    rows = rows + start
    keep = rows < cols
    out.append(np.stack([rows[keep], cols[keep]], axis=1))
  return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


def components(n: int, pairs: np.ndarray) -> np.ndarray:
  """Union-find labels: label[i] = smallest index in i's component."""
  parent = np.arange(n)

  def find(i: int) -> int:
    root = i
    while parent[root] != root:
      root = parent[root]
    while parent[i] != root:
      parent[i], i = root, parent[i]
    return root

  for i, j in pairs:
    ri, rj = find(int(i)), find(int(j))
    if ri != rj:
      parent[max(ri, rj)] = min(ri, rj)
  return np.array([find(i) for i in range(n)])
