"""Decoded splits cached as .npy files, so a second in-memory load skips parsing and decoding.

Reading abstract_icons' records costs more in TFDS's example parsing and PNG decoding than
the uint8 arrays cost to read back. The cache key covers everything the arrays depend on:
the prepared data (its prepare_report.json changes whenever the builder prepares again),
split, size, protocol, the hold-out parameters and the cleaned manifest's contents.
Files live beside the TFDS data: {data_dir}/_abstract_cls_array_cache/.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib

import numpy as np

FIELDS = ("images", "labels", "domains", "file_names", "l3_objects")


def cache_dir(data_config, split: str, size: int, official: bool) -> pathlib.Path | None:
  """Where this split's arrays are cached, or None (cache off, or not a TFDS builder)."""
  if not data_config.cache_decoded or data_config.name == "synthetic":
    return None
  from abstract_cls.data import builders  # pylint: disable=g-import-not-at-top

  builder = builders.prepare(
    data_config.name,
    data_config.data_dir or None,
    manual_dir=data_config.manual_dir or None,
    **data_config.builder_options.to_dict(),
  )
  version_dir = pathlib.Path(builder.data_dir)
  digest = hashlib.sha256(
    json.dumps(
      dict(
        data_dir=str(version_dir),
        split=split,
        size=size,
        official=official,
        validation_fraction=data_config.validation_fraction,
        split_seed=data_config.split_seed,
      ),
      sort_keys=True,
    ).encode()
  )
  report = version_dir / "prepare_report.json"
  digest.update(report.read_bytes() if report.exists() else b"no report")
  if data_config.cleaned_manifest:
    digest.update(pathlib.Path(data_config.cleaned_manifest).read_bytes())
  root = version_dir.parent.parent / "_abstract_cls_array_cache"
  return (
    root
    / f"{data_config.name}-{split}-{size}{'-official' if official else ''}-{digest.hexdigest()[:16]}"
  )


def load(path: pathlib.Path | None) -> dict[str, np.ndarray] | None:
  if path is None or not (path / "done").exists():
    return None
  return {f: np.load(path / f"{f}.npy", allow_pickle=False) for f in FIELDS}


def save(path: pathlib.Path | None, arrays: dict[str, np.ndarray]) -> None:
  """Writes into a temporary folder, then renames: a reader never sees half a cache."""
  if path is None:
    return
  tmp = path.with_name(path.name + f".tmp{os.getpid()}")
  tmp.mkdir(parents=True, exist_ok=True)
  for f in FIELDS:
    np.save(tmp / f"{f}.npy", arrays[f], allow_pickle=False)
  (tmp / "done").write_text("ok\n")
  try:
    os.rename(tmp, path)
  except OSError:  # Another process finished first; its copy is identical.
    for f in tmp.iterdir():
      f.unlink()
    tmp.rmdir()
