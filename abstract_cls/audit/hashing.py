"""Perceptual hashes computed for a whole batch at once, and fast Hamming-distance pair search.

The hash is imagehash's pHash recipe (32x32 grey -> 2-D DCT -> top-left 8x8 -> above median)
written with matrix products over a batch instead of one image at a time. It runs on the
content view (see normalize.py), so margins, resizing and re-encoding do not change it.
"""

from __future__ import annotations

import functools

import numpy as np

HASH_BITS = 64


@functools.cache
def _dct_matrix(n: int) -> np.ndarray:
  """Unnormalised DCT-II matrix [n, n] (row k = frequency k), scipy.fftpack's default scaling
  up to a constant factor, so the median split matches imagehash."""
  k = np.arange(n)[:, None]
  i = np.arange(n)[None, :]
  return np.cos(np.pi * (2 * i + 1) * k / (2 * n))


def _pool(images: np.ndarray, side: int) -> np.ndarray:
  n, h, w = images.shape
  f = h // side
  return images.reshape(n, side, f, side, w // side).mean(axis=(2, 4))


def phash(content: np.ndarray) -> np.ndarray:
  """pHash of grey images [N, S, S] (S a multiple of 32) -> uint64 [N]."""
  small = _pool(content.astype(np.float32), 32)
  dct = _dct_matrix(32)[:8]
  low = np.matmul(np.matmul(dct, small), dct.T).reshape(len(content), 64)
  bits = low > np.median(low, axis=1, keepdims=True)
  return pack_bits(bits)


def pack_bits(bits: np.ndarray) -> np.ndarray:
  """bool [N, 64] -> uint64 [N], first bit most significant (imagehash's hex order)."""
  packed = np.packbits(bits.astype(np.uint8), axis=1)  # [N, 8] uint8, big-endian bits
  return packed.view(">u8").reshape(-1).astype(np.uint64)


def to_hex(hashes: np.ndarray) -> list[str]:
  return [f"{int(h):016x}" for h in hashes]


def hamming_pairs(
  hashes: np.ndarray, max_distance: int, query: np.ndarray | None = None, chunk: int = 1024
) -> list[tuple[int, int, int]]:
  """All (i, j, distance) with i < j and Hamming(hash_i, hash_j) <= max_distance.

  With `query` (e.g. the hashes of the flipped images), pairs compare query[i] to hashes[j]
  for i != j; each unordered pair is reported once with i < j.
  """
  hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
  queries = hashes if query is None else np.ascontiguousarray(query, dtype=np.uint64)
  found = {}
  for start in range(0, len(queries), chunk):
    block = queries[start : start + chunk]
    dist = np.bitwise_count(block[:, None] ^ hashes[None, :])
    rows, cols = np.nonzero(dist <= max_distance)
    rows = rows + start
    keep = rows != cols
    for i, j, d in zip(rows[keep], cols[keep], dist[rows[keep] - start, cols[keep]]):
      key = (int(min(i, j)), int(max(i, j)))
      if key not in found or d < found[key]:
        found[key] = int(d)
  return [(i, j, d) for (i, j), d in sorted(found.items())]
