"""One pass over an evaluation split: probabilities, embeddings, thumbnails, chosen inputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import jax
import numpy as np
from flax import nnx
from PIL import Image

from abstract_cls.diagnostics import display

THUMBNAIL_SIDE = 128  # gallery images never need more; keeps N images in memory small


@dataclasses.dataclass
class Collected:
  probs: np.ndarray  # float32 [N, classes]
  labels: np.ndarray  # int [N]
  domains: np.ndarray  # int [N]
  embeddings: np.ndarray  # float32 [N, D] from model.embed
  thumbnails: np.ndarray  # uint8 [N, h, w, 3] for galleries
  chosen_inputs: np.ndarray  # float32 [len(chosen), S, S, C]: normalised model inputs

  @property
  def preds(self) -> np.ndarray:
    return self.probs.argmax(-1)


@nnx.jit
def _probs_and_embeddings(model: nnx.Module, images: jax.Array):
  return jax.nn.softmax(model(images).astype(np.float32)), model.embed(images)


def _thumbnails(display_images: np.ndarray) -> np.ndarray:
  pixels = (display_images * 255).round().astype(np.uint8)
  if pixels.shape[1] <= THUMBNAIL_SIDE:
    return pixels
  return np.stack(
    [
      np.asarray(Image.fromarray(p).resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.BILINEAR))
      for p in pixels
    ]
  )


def collect(
  model: nnx.Module,
  batches: Iterable[dict],
  labels: np.ndarray,
  domains: np.ndarray,
  chosen: Sequence[int],
  max_examples: int = 0,
) -> Collected:
  """Runs the model over `batches` (the pipeline's eval batches: image, mask) in split order.

  labels/domains: of the whole split (EvalInput.labels/.domains); max_examples > 0
  stops after that many examples; chosen: indices whose model inputs are kept.
  """
  limit = len(labels) if max_examples <= 0 else min(max_examples, len(labels))
  wanted = {int(i): k for k, i in enumerate(chosen)}
  probs, embeddings, thumbs, kept = [], [], [], {}
  seen = 0
  for batch in batches:
    if seen >= limit:
      break
    mask = np.asarray(jax.device_get(batch["mask"])).astype(bool)
    padded = np.asarray(jax.device_get(batch["image"]), np.float32)
    # The padded batch keeps one compiled shape; padding rows are dropped afterwards.
    p, e = _probs_and_embeddings(model, padded)
    images = padded[mask][: limit - seen]
    probs.append(np.asarray(p)[mask][: len(images)])
    embeddings.append(np.asarray(e, np.float32)[mask][: len(images)])
    thumbs.append(_thumbnails(display.to_display(images)))
    for j in range(len(images)):
      if seen + j in wanted:
        kept[seen + j] = images[j]
    seen += len(images)
  if seen == 0:
    raise ValueError("the evaluation split yielded no examples")
  missing = [i for i in wanted if i not in kept]
  if missing:
    raise ValueError(f"chosen examples {missing} lie beyond the {seen} examples read")
  return Collected(
    probs=np.concatenate(probs),
    labels=np.asarray(labels)[:seen],
    domains=np.asarray(domains)[:seen],
    embeddings=np.concatenate(embeddings),
    thumbnails=np.concatenate(thumbs),
    chosen_inputs=np.stack([kept[int(i)] for i in chosen]) if len(chosen) else np.zeros(0),
  )


def select_examples(
  labels: np.ndarray, domains: np.ndarray, per_domain: int, limit: int = 0
) -> np.ndarray:
  """A few example indices per domain (among the first `limit`), distinct classes first."""
  labels, domains = np.asarray(labels), np.asarray(domains)
  if limit > 0:
    labels, domains = labels[:limit], domains[:limit]
  chosen = []
  for d in np.unique(domains):
    idx = np.flatnonzero(domains == d)
    seen_classes, picked = set(), []
    for i in idx:
      if labels[i] not in seen_classes:
        seen_classes.add(labels[i])
        picked.append(int(i))
      if len(picked) == per_domain:
        break
    for i in idx:  # fewer classes than wanted: repeat classes
      if len(picked) >= per_domain:
        break
      if int(i) not in picked:
        picked.append(int(i))
    chosen.extend(picked)
  return np.asarray(chosen, np.int64)
