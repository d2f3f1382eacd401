"""Saliency: Grad-CAM on the last conv stage and plain input gradients.

Grad-CAM (Selvaraju et al. 2017): weight each channel of the last feature map
by the spatial mean of d(class logit)/d(feature map), sum, ReLU, upsample.
The model contract splits model(x) into model.classify(model.features(x)),
which is exactly the cut Grad-CAM needs, for every registered model.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from abstract_cls.diagnostics import display


def _normalise_maps(maps: jax.Array) -> jax.Array:
  """Non-negative maps divided by their per-image maximum (0 stays 0, as in Grad-CAM)."""
  return maps / jnp.maximum(maps.max(axis=(1, 2), keepdims=True), 1e-12)


def _grad_cam_maps(model: nnx.Module, images: jax.Array, classes: jax.Array):
  fmap = model.features(images)

  def class_score(fm):
    logits = model.classify(fm)
    return jnp.take_along_axis(logits, classes[:, None], axis=1).sum()

  grads = jax.grad(class_score)(fmap)
  weights = grads.mean(axis=(1, 2))  # [B, C]
  cam = jax.nn.relu(jnp.einsum("bhwc,bc->bhw", fmap, weights))
  b, h, w = images.shape[:3]
  cam = jax.image.resize(cam, (b, h, w), method="bilinear")
  return _normalise_maps(cam), fmap


_grad_cam = nnx.jit(_grad_cam_maps)


def make_grad_cam(graphdef: nnx.GraphDef):
  """Grad-CAM for a model split as nnx.split(model, nnx.Param, ...) with pure-dict states:
  a jitted (params, rest, images, classes) -> heat maps [B, H, W] in [0, 1]. For repeated
  calls on one model: unlike grad_cam (nnx.jit), it does not walk the module graph in Python
  on every call."""

  def heat_maps(params, rest, images, classes):
    return _grad_cam_maps(nnx.merge(graphdef, params, rest), images, classes)[0]

  return jax.jit(heat_maps)


def grad_cam(model: nnx.Module, images: np.ndarray, classes: np.ndarray):
  """(heat maps [B, H, W] in [0, 1], last feature-map shape) for the given class ids."""
  cam, fmap = _grad_cam(model, jnp.asarray(images, jnp.float32), jnp.asarray(classes, jnp.int32))
  return np.asarray(cam), tuple(fmap.shape)


@nnx.jit
def _input_gradients(model: nnx.Module, images: jax.Array, classes: jax.Array):
  def class_score(x):
    logits = model(x)
    return jnp.take_along_axis(logits, classes[:, None], axis=1).sum()

  grads = jax.grad(class_score)(images)
  return _normalise_maps(jnp.abs(grads).max(axis=-1))


def input_gradients(model: nnx.Module, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
  """|d logit / d pixel|, max over colour channels, per image in [0, 1]: [B, H, W]."""
  return np.asarray(
    _input_gradients(model, jnp.asarray(images, jnp.float32), jnp.asarray(classes, jnp.int32))
  )


def plot_saliency(
  images: np.ndarray,
  cams: np.ndarray,
  grads: np.ndarray,
  labels: np.ndarray,
  probs: np.ndarray,
  domains: np.ndarray,
  path: str | pathlib.Path,
  target: str,
  fmap_shape=None,
) -> pathlib.Path:
  """Per example: image | Grad-CAM overlay | input-gradient map (two examples per row).

  images: display-ready RGB [B, H, W, 3] in [0, 1].
  """
  n = len(images)
  per_row = 2 if n > 3 else 1
  rows = -(-n // per_row)
  fig, axes = display.plt.subplots(
    rows, 3 * per_row, figsize=(3 * 2.2 * per_row, 2.55 * rows), squeeze=False
  )
  for ax in axes.ravel():
    ax.axis("off")
  preds = probs.argmax(-1)
  for i in range(n):
    r, c = divmod(i, per_row)
    a0, a1, a2 = axes[r, 3 * c : 3 * c + 3]
    ok = preds[i] == labels[i]
    a0.imshow(images[i])
    a0.set_title(
      f"{display.domain_name(domains[i]).lower()}\ntrue {display.class_label(labels[i], 16)}",
      fontsize=7,
      loc="left",
    )
    a1.imshow(images[i])
    a1.imshow(cams[i], cmap="jet", alpha=0.45, vmin=0, vmax=1)
    a1.set_title(
      f"Grad-CAM\npred {display.class_label(preds[i], 16)} {probs[i, preds[i]]:.2f}",
      fontsize=7,
      loc="left",
      color="darkgreen" if ok else "darkred",
    )
    a2.imshow(grads[i], cmap="inferno", vmin=0, vmax=1)
    a2.set_title("input gradient\n|d logit / d x|", fontsize=7, loc="left")
  note = f" on the last conv feature map {tuple(fmap_shape[1:])}" if fmap_shape else ""
  fig.suptitle(
    f"saliency for the {target} class{note} (green title: correct, red: wrong)", fontsize=10
  )
  fig.tight_layout()
  return display.save(fig, path)
