"""One audit pass: read every image once, then find duplicates, photos, leaks and decide what to keep."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import tqdm

from abstract_cls.audit import duplicates, embedding, hashing, normalize, photos

# JPEGs are decoded at reduced scale (Image.draft) to at least this side: every view the audit
# uses is <= 128 px, and the competition's 2480x3508 scans would otherwise dominate the time.
DECODE_SIDE = 256


@dataclasses.dataclass
class AuditOptions:
  hash_distance: int = duplicates.DEFAULT_HASH_DISTANCE
  similarity: float | None = None  # None: the default of the feature kind
  photo_cut: float | None = None  # None: the suggested cut
  remove_photos: bool = True
  model_workdir: str = ""
  progress: bool = True


@dataclasses.dataclass
class Collected:
  """Per-image arrays for the readable images (`index` maps back to source items)."""

  index: np.ndarray  # int [M] source item index
  sizes: np.ndarray  # int [M, 2] original (width, height)
  num_bytes: np.ndarray  # int [M]
  content: np.ndarray  # uint8 [M, 64, 64]
  stats: np.ndarray  # float [M, S] photo statistics
  model_features: np.ndarray | None  # float [2, M, D] (as is, flipped) when a model is used
  unreadable: dict[int, str]  # source item index -> error


@dataclasses.dataclass
class AuditResult:
  items: list  # all source AuditItems
  collected: Collected
  groups: list[duplicates.Group]  # indices into collected arrays
  photo_scores: np.ndarray  # [M]
  photo_z: np.ndarray  # [M, S]
  photo_cut: dict
  photo_flags: np.ndarray  # bool [M] photo candidates (photos.candidates)
  feature_kind: str
  thresholds: dict
  reasons: dict[int, str]  # source item index -> removal reason (absent: kept)
  timings: dict


def collect(source, options: AuditOptions, batch_size: int = 256) -> Collected:
  embedder = embedding.ModelEmbedder(options.model_workdir) if options.model_workdir else None
  n = len(source.items)
  index, sizes, num_bytes, content, stats, unreadable = [], [], [], [], [], {}
  model_features, overviews, backgrounds = [], [], []

  def flush():
    if not overviews:
      return
    batch = np.stack(overviews)
    stats.append(photos.batch_statistics(batch, np.stack(backgrounds)))
    if embedder is not None:
      feats = embedder(list(batch) + list(batch[:, :, ::-1]))
      model_features.append(feats.reshape(2, len(batch), -1))
    overviews.clear()
    backgrounds.clear()

  for i in tqdm.tqdm(
    range(n), desc="audit: reading", unit="img", disable=not options.progress, mininterval=1.0
  ):
    try:
      decoded = source.read(i, max_side=DECODE_SIDE)
    except ValueError as err:
      unreadable[i] = str(err)
      continue
    reduced = normalize.reduce_image(decoded.rgb)
    index.append(i)
    sizes.append(decoded.original_size)
    num_bytes.append(decoded.num_bytes)
    content.append(reduced.content)
    overviews.append(reduced.overview)
    backgrounds.append(reduced.background)
    if len(overviews) >= batch_size:
      flush()
  flush()
  if not index:
    raise ValueError("no readable image in the source")
  return Collected(
    np.array(index),
    np.array(sizes, np.int64).reshape(-1, 2),
    np.array(num_bytes, np.int64),
    np.stack(content),
    np.concatenate(stats),
    np.concatenate(model_features, axis=1) if model_features else None,
    unreadable,
  )


def find_groups(items, collected: Collected, options: AuditOptions):
  """Duplicate groups over the collected images; returns (groups, feature_kind, thresholds)."""
  content = collected.content
  flipped_content = content[:, :, ::-1]
  hashes = hashing.phash(content)
  flipped_hashes = hashing.phash(np.ascontiguousarray(flipped_content))
  edges = duplicates.hash_edges(hashes, flipped_hashes, options.hash_distance)
  if collected.model_features is not None:
    features, flipped = collected.model_features
    kind = f"model:{options.model_workdir}"
    similarity = options.similarity if options.similarity is not None else 0.95
  else:
    features = embedding.fixed_features(content)
    flipped = embedding.fixed_features(np.ascontiguousarray(flipped_content))
    kind = embedding.FIXED_FEATURE_KIND
    similarity = (
      options.similarity if options.similarity is not None else duplicates.DEFAULT_FIXED_SIMILARITY
    )
  hashed = {(e.i, e.j) for e in edges}
  edges += [
    e for e in duplicates.embedding_edges(features, flipped, similarity) if (e.i, e.j) not in hashed
  ]
  keys = [
    duplicates.representative_key(items[src], int(w * h), int(b))
    for src, (w, h), b in zip(collected.index, collected.sizes, collected.num_bytes)
  ]
  groups = duplicates.group_edges(len(content), edges, keys)
  thresholds = {"phash_max_hamming": options.hash_distance, "min_cosine_similarity": similarity}
  return groups, kind, thresholds, hashes


def analyse(items, collected: Collected, options: AuditOptions, timings: dict) -> AuditResult:
  """Duplicates, photos and the keep/remove decision from the collected arrays."""
  t = time.perf_counter()
  groups, kind, thresholds, _ = find_groups(items, collected, options)
  timings["duplicates_s"] = time.perf_counter() - t
  t = time.perf_counter()
  scores, z = photos.robust_scores(collected.stats)
  cut = photos.suggest_cut(scores)
  if options.photo_cut is not None:
    cut.update(rule="user", cut=float(options.photo_cut))
  flags = photos.candidates(scores, collected.stats, cut["cut"])
  timings["photos_s"] = time.perf_counter() - t
  reasons = {i: f"unreadable: {err}" for i, err in collected.unreadable.items()}
  if options.remove_photos:
    for m in np.flatnonzero(flags):
      reasons[int(collected.index[m])] = f"photo_candidate: score={scores[m]:.2f}"
  for group in groups:
    rep = items[collected.index[group.representative]]
    for m in group.members[1:]:
      src = int(collected.index[m])
      if src not in reasons:
        reasons[src] = f"duplicate_of: {rep.file_name}"
  return AuditResult(
    items, collected, groups, scores, z, cut, flags, kind, thresholds, reasons, timings
  )


def run_audit(source, options: AuditOptions | None = None) -> AuditResult:
  options = options or AuditOptions()
  start = time.perf_counter()
  collected = collect(source, options)
  timings = {"read_s": time.perf_counter() - start}
  result = analyse(source.items, collected, options, timings)
  timings["total_s"] = time.perf_counter() - start
  return result
