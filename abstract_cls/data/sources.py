"""Random-access record sources behind the pipeline, and decoding a record to a fixed size.

A source is any sequence (len + __getitem__) of records as the TFDS builders store them:
dicts with `image` (encoded PNG/JPEG bytes or a decoded uint8 HxWx3 array), `label`,
`domain`, `file_name`, `l3_object`. TFDS array_record sources are opened with image decoding skipped so that the
metadata scans (stratified split, cleaned manifest) never decode pixels, and so that the
decoder can shrink large JPEGs while decoding (PIL draft mode).
"""

from __future__ import annotations

import csv
import io
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from abstract_cls import taxonomy
from abstract_cls.data import decode

# A builder with a train split only (a folder of class folders) gets a seeded, stratified
# validation hold-out: its "train" is the rest.
_HELD_OUT_SPLITS = ("train", "validation")
# Every labelled example of a data set: all of its splits, nothing held out.
WHOLE_SPLIT = "all"


class ConcatSource(Sequence):
  """Several sources one after the other (picklable, so grain workers can use it)."""

  def __init__(self, parts: Sequence[Sequence]):
    self.parts = list(parts)
    self.ends = np.cumsum([len(p) for p in self.parts])

  def __len__(self) -> int:
    return int(self.ends[-1]) if len(self.ends) else 0

  def __getitem__(self, i: int) -> dict[str, Any]:
    part = int(np.searchsorted(self.ends, i, side="right"))
    return self.parts[part][int(i) - (int(self.ends[part - 1]) if part else 0)]


class IndexedSource(Sequence):
  """A view of `base` restricted to `indices` (picklable, so grain workers can use it)."""

  def __init__(self, base: Sequence, indices: np.ndarray):
    self.base = base
    self.indices = np.asarray(indices, np.int64)

  def __len__(self) -> int:
    return len(self.indices)

  def __getitem__(self, i: int) -> dict[str, Any]:
    return self.base[int(self.indices[i])]


def _text(value: Any) -> str:
  if isinstance(value, np.ndarray):
    value = value.item()
  return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def record_metadata(record: dict[str, Any]) -> tuple[int, int, str, str]:
  """(label, domain, file_name, l3_object) of one record."""
  return (
    int(record["label"]),
    int(record["domain"]),
    _text(record["file_name"]),
    _text(record.get("l3_object", "")),
  )


def decode_resized(image: Any, size: int, name: str = "") -> np.ndarray:
  """Encoded bytes or an RGB array -> uint8 [size, size, 3] (bilinear, antialiased).

  Bytes go through decode.load_image_rgb (alpha on white, EXIF, odd modes; JPEGs decoded
  at reduced scale when much larger than `size`); its ImageDecodeError names the record.
  """
  if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3:
    if image.shape == (size, size, 3):
      return image
    pixels = image[..., :3]
  else:
    if isinstance(image, np.ndarray):
      image = image.item()
    pixels = decode.load_image_rgb(image, name=name or "<record>", shorter_side=size)
  if pixels.shape[:2] == (size, size):
    return np.ascontiguousarray(pixels)
  pil = Image.fromarray(pixels).resize((size, size), Image.BILINEAR)
  return np.asarray(pil, np.uint8)


def synthetic_source(num_examples: int, image_size: int = 64, seed: int = 0) -> list[dict]:
  """A learnable stand-in dataset: class c draws a dark polygon with c % 8 + 3 corners and a
  class-dependent colour on white. For tests and smoke runs; PNG-encoded like the real data."""
  rng = np.random.default_rng(seed)
  from PIL import ImageDraw  # Local: only this generator draws.

  records = []
  for i in range(num_examples):
    label = i % taxonomy.NUM_CLASSES
    pil = Image.new("RGB", (image_size, image_size), "white")
    draw = ImageDraw.Draw(pil)
    corners = label % 8 + 3
    radius = image_size * rng.uniform(0.25, 0.4)
    centre = image_size / 2 + rng.uniform(-0.1, 0.1, 2) * image_size
    angles = np.linspace(0, 2 * np.pi, corners, endpoint=False) + rng.uniform(0, np.pi)
    points = [tuple(centre + radius * np.array([np.cos(a), np.sin(a)])) for a in angles]
    colour = tuple(int(v) for v in np.array([label * 37 % 200, label * 91 % 200, label * 53 % 200]))
    draw.polygon(points, outline=colour, fill=colour if label >= 8 else None, width=3)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    records.append(
      dict(
        image=buf.getvalue(),
        label=label,
        domain=i % 3,
        file_name=f"synthetic_{i:06d}.png",
        l3_object="",
      )
    )
  return records


def read_cleaned_manifest(path: str) -> set[str]:
  """File names the audit marked keep=false in a CSV with columns file_name,keep,reason."""
  p = pathlib.Path(path)
  if not p.is_file():
    raise FileNotFoundError(f"cleaned_manifest {p} does not exist")
  with p.open(newline="", encoding="utf-8") as f:
    reader = csv.DictReader(f)
    missing = {"file_name", "keep"} - set(reader.fieldnames or ())
    if missing:
      raise ValueError(
        f"cleaned_manifest {p}: missing column(s) {sorted(missing)}; expected file_name,keep,reason"
      )
    removed = set()
    for line, row in enumerate(reader, start=2):
      keep = row["keep"].strip().lower()
      if keep in ("0", "false", "no"):
        removed.add(row["file_name"])
      elif keep not in ("1", "true", "yes"):
        raise ValueError(f"cleaned_manifest {p} line {line}: keep={row['keep']!r} is not a boolean")
  return removed


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
  """Boolean mask of held-out examples: round(fraction * n_c) per class (at least one when a
  class has two or more), chosen by a generator seeded with `seed` alone; 0 holds out none."""
  if not 0.0 <= fraction < 1.0:
    raise ValueError(f"validation_fraction must be in [0, 1), got {fraction}")
  rng = np.random.default_rng(seed)
  held = np.zeros(len(labels), bool)
  if fraction == 0:
    return held
  for c in range(taxonomy.NUM_CLASSES):
    members = np.flatnonzero(labels == c)
    if len(members) < 2:
      continue
    n = min(max(1, round(fraction * len(members))), len(members) - 1)
    held[rng.permutation(members)[:n]] = True
  return held


def _builder_splits(data_config):
  """(builder or None, its split names); the synthetic stand-in has a train split only."""
  if data_config.name == "synthetic":
    return None, ("train",)
  from abstract_cls.data import builders  # Heavy import, only when a builder is read.

  builder = builders.prepare(
    data_config.name,
    data_config.data_dir or None,
    manual_dir=data_config.manual_dir or None,
    **data_config.builder_options.to_dict(),
  )
  return builder, tuple(builder.info.splits.keys())


def available_splits(data_config) -> tuple[str, ...]:
  """The splits open_source accepts for this data set."""
  _, splits = _builder_splits(data_config)
  if set(splits) == {"train"}:
    splits = _HELD_OUT_SPLITS
  return tuple(splits) + (WHOLE_SPLIT,)


def open_source(data_config, split: str) -> Sequence:
  """The record source for `split` with the train/validation hold-out (builders with a train
  split only) and the cleaned manifest applied; "all" is every split, nothing held out."""
  builder, available = _builder_splits(data_config)
  hold_out = split in _HELD_OUT_SPLITS and set(available) == {"train"}
  wanted = available if split == WHOLE_SPLIT else ("train" if hold_out else split,)
  if wanted[0] not in available:
    raise ValueError(
      f"{data_config.name} has no split {split!r}; it has {list(available_splits(data_config))}"
    )
  if builder is None:
    base = synthetic_source(data_config.synthetic_num_examples, 64, seed=0)
  else:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    parts = [
      builder.as_data_source(s, decoders={"image": tfds.decode.SkipDecoding()}) for s in wanted
    ]
    base = parts[0] if len(parts) == 1 else ConcatSource(parts)
  return select(base, data_config, split, hold_out=hold_out)


def select(base: Sequence, data_config, split: str, hold_out: bool) -> Sequence:
  """Applies the cleaned manifest, then (hold_out) the stratified train/validation split."""
  keep = np.ones(len(base), bool)
  labels = None
  if data_config.cleaned_manifest or hold_out:
    meta = [record_metadata(base[i]) for i in range(len(base))]
    labels = np.array([m[0] for m in meta], np.int32)
    if data_config.cleaned_manifest:
      removed = read_cleaned_manifest(data_config.cleaned_manifest)
      keep &= np.array([m[2] not in removed for m in meta])
  indices = np.flatnonzero(keep)
  if hold_out:
    held = stratified_holdout(
      labels[indices], data_config.validation_fraction, data_config.split_seed
    )
    if split == "validation" and not held.any():
      raise ValueError(
        f"data.validation_fraction={data_config.validation_fraction} holds out no example, "
        f"so there is no validation split (split {WHOLE_SPLIT!r} is the whole data set)"
      )
    indices = indices[held] if split == "validation" else indices[~held]
  if len(indices) == len(base):
    return base
  return IndexedSource(base, indices)
