"""Training-set restrictions written as a cleaned-manifest CSV (the pipeline's existing filter).

A run that trains on some domains only, or on a stratified part of the train split, gets a
CSV that marks the excluded files keep=0; `data.cleaned_manifest` points the pipeline at it.
"""

from __future__ import annotations

import csv
import pathlib
from collections.abc import Sequence

import ml_collections
import numpy as np


def split_metadata(data_config, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(labels, domains, file_names) of a split without decoding pixels or any filter."""
  from abstract_cls.data import sources  # pylint: disable=g-import-not-at-top

  plain = ml_collections.ConfigDict(data_config.to_dict())
  plain.cleaned_manifest = ""
  source = sources.open_source(plain, split)
  meta = [sources.record_metadata(source[i]) for i in range(len(source))]
  return (
    np.array([m[0] for m in meta], np.int32),
    np.array([m[1] for m in meta], np.int32),
    np.array([m[2] for m in meta], dtype=str),
  )


def domain_indices(names: Sequence[str]) -> list[int]:
  from abstract_cls import taxonomy  # pylint: disable=g-import-not-at-top

  unknown = [n for n in names if n not in taxonomy.DOMAIN_INDEX]
  if unknown:
    raise ValueError(f"unknown domain(s) {unknown}; known: {taxonomy.DOMAINS}")
  return [taxonomy.DOMAIN_INDEX[n] for n in names]


def write(
  data_config,
  train_fraction: float,
  train_domains: Sequence[str],
  seed: int,
  path: pathlib.Path,
) -> str:
  """Writes the cleaned-manifest CSV for one run's training restrictions; '' if none.

  Dropped: train/validation files outside `train_domains` (when given), and (train_fraction
  < 1) a per-class random part of the train split chosen by `seed` (at least one image per
  class survives).
  """
  if train_fraction >= 1.0 and not train_domains:
    return ""
  rows = []
  rng = np.random.default_rng(1000 + seed)
  keep_domains = set(domain_indices(train_domains)) if train_domains else None
  for split in ("train", "validation"):
    labels, domains, files = split_metadata(data_config, split)
    keep = np.ones(len(files), bool)
    if keep_domains is not None:
      keep &= np.isin(domains, list(keep_domains))
    if split == "train" and train_fraction < 1.0:
      for c in np.unique(labels):
        members = np.flatnonzero((labels == c) & keep)
        n = max(1, int(round(train_fraction * len(members))))
        keep[rng.permutation(members)[n:]] = False
    rows += [
      (f, "1" if k else "0", "" if k else "experiments: outside this run's training set")
      for f, k in zip(files, keep)
    ]
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open("w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["file_name", "keep", "reason"])
    writer.writerows(rows)
  return str(path)
