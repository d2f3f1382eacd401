"""Near-duplicate pairs as the project's audit finds them (abstract_cls.audit), for the build.

The audit (python -m abstract_cls.audit) compares drawings on their content box (normalize.py),
so two renders that differ only in margin, scale or a mirror flip are duplicates there even
when the raw-render pHash of dedup.py calls them far apart. The build links every pair the
audit would link into one design group, so no audit duplicate group can cross splits. It
composes the audit's own pieces (same views, hashes, features and default thresholds) instead
of copying them, so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np

from abstract_cls.audit import duplicates, embedding, hashing, normalize, runner
from abstract_cls.audit import sources as audit_sources


def content_views(pngs: list[bytes], names: list[str]) -> np.ndarray:
  """Grey content views [N, 64, 64] decoded exactly as the audit decodes archive members."""
  return np.stack(
    [
      normalize.reduce_image(
        audit_sources.decode_bytes(png, name, max_side=runner.DECODE_SIDE).rgb
      ).content
      for png, name in zip(pngs, names)
    ]
  )


def duplicate_pairs(content: np.ndarray) -> np.ndarray:
  """Pairs (i < j) [n, 2] that the audit's default duplicate search links by an edge.

  An edge is a pHash match (as is or flipped) or a fixed-feature cosine match, with the
  audit's default thresholds: every member of an audit group has such an edge to its
  representative, so keeping edge-connected images together keeps each group in one split.
  """
  flipped = np.ascontiguousarray(content[:, :, ::-1])
  edges = duplicates.hash_edges(
    hashing.phash(content), hashing.phash(flipped), duplicates.DEFAULT_HASH_DISTANCE
  )
  edges += duplicates.embedding_edges(
    embedding.fixed_features(content),
    embedding.fixed_features(flipped),
    duplicates.DEFAULT_FIXED_SIMILARITY,
  )
  pairs = sorted({(min(e.i, e.j), max(e.i, e.j)) for e in edges})
  return np.array(pairs, dtype=np.int64).reshape(-1, 2)
