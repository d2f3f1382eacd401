"""Classification loss (label smoothing, class weights, focal) and explicit weight penalties.

config.loss fields: label_smoothing, focal_gamma (0 = plain cross-entropy), l1, l2
(coefficients of sum|w| and 0.5*sum(w^2) over decayed weights; the course contrasts the two
and they are separate from the optimiser's weight decay).
Class weights come from the input pipeline (data.class_weighting; all ones for 'none').
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from abstract_cls.train import optimizer as optimizer_lib

_MIN_FOCAL_BASE = 1e-30


def classification_loss(
  logits, label_probs, class_weights, *, label_smoothing: float = 0.0, focal_gamma: float = 0.0
):
  """Mean over the batch of the (weighted) soft-target cross-entropy or focal loss.

  logits float32 [B, K]; label_probs [B, K] (one-hot, or soft after mixup / cutmix);
  class_weights [K]. Each example's weight is its target's expected class weight, and the
  mean is weighted, so uniform weights give the plain mean.
  """
  num_classes = logits.shape[-1]
  targets = label_probs
  if label_smoothing > 0:
    targets = (1.0 - label_smoothing) * targets + label_smoothing / num_classes
  log_p = jax.nn.log_softmax(logits)
  if focal_gamma > 0:
    # (1 - p)^gamma has an infinite slope at p = 1 when gamma < 1; flooring 1 - p keeps the
    # gradient finite where the term itself is ~0 anyway.
    focus = jnp.power(jnp.maximum(-jnp.expm1(log_p), _MIN_FOCAL_BASE), focal_gamma)
    per_example = -jnp.sum(targets * focus * log_p, axis=-1)
  else:
    per_example = -jnp.sum(targets * log_p, axis=-1)
  weights = label_probs @ class_weights
  return jnp.sum(weights * per_example) / jnp.maximum(jnp.sum(weights), 1e-12)


def per_example_cross_entropy(logits, labels):
  return -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=-1)[:, 0]


def weight_penalty(params, l1: float, l2: float):
  """l1 * sum|w| + l2 * 0.5 * sum(w^2) over the weights that take decay (not biases, scales)."""
  if l1 == 0 and l2 == 0:
    return jnp.zeros((), jnp.float32)
  mask = optimizer_lib.decay_mask(params)
  leaves = [
    p for p, m in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(mask)) if m
  ]
  total = jnp.zeros((), jnp.float32)
  if l1:
    total += l1 * sum(jnp.sum(jnp.abs(p)) for p in leaves)
  if l2:
    total += l2 * 0.5 * sum(jnp.sum(jnp.square(p)) for p in leaves)
  return total
