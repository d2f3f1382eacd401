"""Near-duplicate pairs (hash and embedding), groups by union-find, and the kept representative."""

from __future__ import annotations

import dataclasses

import numpy as np

from abstract_cls.audit import hashing, sources

# pHash bits that may differ for a pair to count as a duplicate (of 64), and the cosine
# similarity of the fixed features above which two images are duplicates (crops, shifts, colour
# changes). Looser values also link other sets' drawings of the same object, stricter ones miss
# resized copies (results/audit_thresholds.md).
DEFAULT_HASH_DISTANCE = 4
DEFAULT_FIXED_SIMILARITY = 0.95


@dataclasses.dataclass(frozen=True)
class Edge:
  i: int
  j: int
  method: str  # "phash", "phash_flip", "embedding", "embedding_flip"
  value: float  # Hamming distance or cosine similarity


@dataclasses.dataclass
class Group:
  members: list[int]  # indices, representative first
  edges: list[Edge]

  @property
  def representative(self) -> int:
    return self.members[0]


def hash_edges(hashes: np.ndarray, flipped: np.ndarray, max_distance: int) -> list[Edge]:
  edges = [Edge(i, j, "phash", d) for i, j, d in hashing.hamming_pairs(hashes, max_distance)]
  seen = {(e.i, e.j) for e in edges}
  for i, j, d in hashing.hamming_pairs(hashes, max_distance, query=flipped):
    if (i, j) not in seen:
      edges.append(Edge(i, j, "phash_flip", d))
  return edges


def embedding_edges(
  features: np.ndarray, flipped: np.ndarray, min_similarity: float, chunk: int = 2048
) -> list[Edge]:
  """Pairs whose cosine similarity (as is, or one side flipped) reaches min_similarity."""
  best = {}
  for queries, method in ((features, "embedding"), (flipped, "embedding_flip")):
    for start in range(0, len(queries), chunk):
      sims = queries[start : start + chunk] @ features.T
      rows, cols = np.nonzero(sims >= min_similarity)
      for r, c in zip(rows, cols):
        i = r + start
        if i == c:
          continue
        key = (int(min(i, c)), int(max(i, c)))
        value = float(sims[r, c])
        if key not in best or value > best[key][1]:
          best[key] = (method, value)
  return [Edge(i, j, m, v) for (i, j), (m, v) in sorted(best.items())]


def edge_similarity(edge: Edge) -> float:
  """One scale for both kinds of edge: cosine similarity, or 1 - Hamming / 64 for hashes."""
  return edge.value if edge.method.startswith("embedding") else 1.0 - edge.value / 64.0


def representative_key(item: sources.AuditItem, pixels: int, num_bytes: int):
  """Sort key: earliest split, then most pixels, then largest file, then name."""
  return (sources.split_rank(item.split), -pixels, -num_bytes, item.file_name)


def group_edges(n: int, edges: list[Edge], keys: list) -> list[Group]:
  """Groups built around representatives (leader clustering), representative first.

  Images are visited in `keys` order (the best copy first); an image joins the group of the
  most similar representative it has an edge to, else it starts a group. Every removed file is
  therefore a direct near-duplicate of the file kept in its place. Plain connected components
  (union-find) chain A ~ A' ~ B through a borderline copy and, on the embedded icons, merged
  ~90 distinct circle icons into one group.
  """
  neighbours: dict[int, list[tuple[float, Edge]]] = {}
  for e in edges:
    sim = edge_similarity(e)
    neighbours.setdefault(e.i, []).append((sim, e))
    neighbours.setdefault(e.j, []).append((sim, e))
  leader_of: dict[int, int] = {}
  groups: dict[int, Group] = {}
  for node in sorted(neighbours, key=lambda x: keys[x]):
    best = None
    for sim, e in neighbours[node]:
      other = e.j if e.i == node else e.i
      if other in groups and (best is None or sim > best[0]):
        best = (sim, other, e)
    if best is None:
      groups[node] = Group([node], [])
      leader_of[node] = node
    else:
      groups[best[1]].members.append(node)
      groups[best[1]].edges.append(best[2])
      leader_of[node] = best[1]
  out = [g for g in groups.values() if len(g.members) > 1]
  out.sort(key=lambda g: (-len(g.members), keys[g.representative]))
  return out
