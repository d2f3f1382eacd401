"""On-device augmentation, pure jax: runs inside the trainer's jitted step on the batch shard.

Images are drawings on white, so every geometric transform fills uncovered area with white
and the colour jitter acts on ink (1 - x): white stays exactly white and only strokes and
fills change. One combined affine map (crop, flip, rotation, shear, translation) resamples
each image once, bilinearly.
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class AugmentOptions:
  """Hashable copy of data_config.augment (+ mixup/cutmix), so jit can treat it as static."""
  random_resized_crop: bool = True
  crop_scale: tuple[float, float] = (0.35, 1.0)
  crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
  horizontal_flip: bool = True
  vertical_flip: bool = False
  rotation_degrees: float = 10.0
  shear_degrees: float = 5.0
  translate_fraction: float = 0.05
  ink_strength: float = 0.25
  saturation: float = 0.25
  hue_degrees: float = 10.0
  grayscale_probability: float = 0.1
  mixup_alpha: float = 0.0
  cutmix_alpha: float = 0.0

  @classmethod
  def from_config(cls, data_config) -> "AugmentOptions":
    fields = {f.name for f in dataclasses.fields(cls)} - {"mixup_alpha", "cutmix_alpha"}
    given = dict(data_config.augment)
    unknown = set(given) - fields
    if unknown:
      raise ValueError(f"unknown data.augment option(s) {sorted(unknown)}; known: {sorted(fields)}")
    values = {k: tuple(float(x) for x in v) if isinstance(v, (tuple, list)) else v
              for k, v in given.items()}
    return cls(**values, mixup_alpha=float(data_config.mixup_alpha),
               cutmix_alpha=float(data_config.cutmix_alpha))


def normalize(images_01: jax.Array) -> jax.Array:
  """[0, 1] float images -> ImageNet mean/std normalised float32."""
  mean = jnp.asarray(IMAGENET_MEAN, jnp.float32)
  std = jnp.asarray(IMAGENET_STD, jnp.float32)
  return (images_01.astype(jnp.float32) - mean) / std


def _inverse_2x2(m: jax.Array) -> jax.Array:
  # Closed form: jnp.linalg.inv lowers to a batched LU decomposition, slow to compile.
  det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
  return jnp.array([[m[1, 1], -m[0, 1]], [-m[1, 0], m[0, 0]]]) / det


def _inverse_affine(key: jax.Array, size: int, aug) -> jax.Array:
  """2x3 matrix mapping output coords p in [-1, 1]^2 (x, y, 1) to input pixel coords."""
  k_scale, k_ratio, k_x, k_y, k_flip, k_rot, k_shear, k_tr, k_vflip = jax.random.split(key, 9)
  if aug.random_resized_crop:
    lo, hi = aug.crop_scale
    area = jax.random.uniform(k_scale, (), minval=lo, maxval=hi)
    log_ratio = jax.random.uniform(k_ratio, (), minval=math.log(aug.crop_ratio[0]),
                                   maxval=math.log(aug.crop_ratio[1]))
    ratio = jnp.exp(log_ratio)
    w = jnp.minimum(jnp.sqrt(area * ratio), 1.0) * size  # Crop width in pixels.
    h = jnp.minimum(jnp.sqrt(area / ratio), 1.0) * size
    cx = w / 2 + jax.random.uniform(k_x, ()) * (size - w)
    cy = h / 2 + jax.random.uniform(k_y, ()) * (size - h)
  else:
    w = h = jnp.float32(size)
    cx = cy = jnp.float32(size / 2)
  sx, sy = w / 2, h / 2
  if aug.horizontal_flip:
    sx = jnp.where(jax.random.bernoulli(k_flip), -sx, sx)
  if aug.vertical_flip:
    sy = jnp.where(jax.random.bernoulli(k_vflip), -sy, sy)
  # Inverse of the forward rotation+shear: sample the input at R^-1 (p - t).
  theta = jnp.deg2rad(jax.random.uniform(k_rot, (), minval=-1.0, maxval=1.0) * aug.rotation_degrees)
  shear = jnp.deg2rad(jax.random.uniform(k_shear, (), minval=-1.0, maxval=1.0) * aug.shear_degrees)
  t = jax.random.uniform(k_tr, (2,), minval=-1.0, maxval=1.0) * aug.translate_fraction * 2
  c, s = jnp.cos(theta), jnp.sin(theta)
  forward = jnp.array([[c, -s], [s, c]]) @ jnp.array([[1.0, jnp.tan(shear)], [0.0, 1.0]])
  inv = _inverse_2x2(forward)
  # input_pixel = centre + diag(sx, sy) @ inv @ (p - t) - 0.5   (pixel centres at i + 0.5)
  lin = jnp.diag(jnp.stack([sx, sy])) @ inv
  offset = jnp.stack([cx, cy]) - 0.5 - lin @ t
  return jnp.concatenate([lin, offset[:, None]], axis=1)


def _warp(image: jax.Array, matrix: jax.Array, out_size: int) -> jax.Array:
  """Bilinear resample of uint8/float [H, W, 3] through `matrix`; outside is white (255)."""
  h, w = image.shape[:2]
  grid = (jnp.arange(out_size, dtype=jnp.float32) + 0.5) / out_size * 2 - 1
  px, py = jnp.meshgrid(grid, grid)  # [out, out], x varies along columns.
  xs = matrix[0, 0] * px + matrix[0, 1] * py + matrix[0, 2]
  ys = matrix[1, 0] * px + matrix[1, 1] * py + matrix[1, 2]
  x0, y0 = jnp.floor(xs), jnp.floor(ys)
  wx, wy = (xs - x0)[..., None], (ys - y0)[..., None]
  flat = image.reshape(h * w, -1).astype(jnp.float32)

  def tap(yi, xi):
    inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
    idx = jnp.clip(yi, 0, h - 1).astype(jnp.int32) * w + jnp.clip(xi, 0, w - 1).astype(jnp.int32)
    return jnp.where(inside[..., None], flat[idx], 255.0)

  top = tap(y0, x0) * (1 - wx) + tap(y0, x0 + 1) * wx
  bottom = tap(y0 + 1, x0) * (1 - wx) + tap(y0 + 1, x0 + 1) * wx
  return top * (1 - wy) + bottom * wy


_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                np.float32)
_YIQ_INV = np.linalg.inv(_YIQ).astype(np.float32)


def _colour(key: jax.Array, x: jax.Array, aug) -> jax.Array:
  """Colour jitter on a [0, 1] image that keeps white white (see module docstring)."""
  k_ink, k_sat, k_hue, k_gray = jax.random.split(key, 4)
  if aug.ink_strength > 0:
    f = jax.random.uniform(k_ink, (), minval=1 - aug.ink_strength, maxval=1 + aug.ink_strength)
    x = 1.0 - jnp.clip((1.0 - x) * f, 0.0, 1.0)
  luma = x @ _YIQ[0]
  if aug.saturation > 0:
    f = jax.random.uniform(k_sat, (), minval=1 - aug.saturation, maxval=1 + aug.saturation)
    x = jnp.clip(luma[..., None] + (x - luma[..., None]) * f, 0.0, 1.0)
  if aug.hue_degrees > 0:
    a = jnp.deg2rad(jax.random.uniform(k_hue, (), minval=-1.0, maxval=1.0) * aug.hue_degrees)
    c, s = jnp.cos(a), jnp.sin(a)
    rot = jnp.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    x = jnp.clip(x @ (_YIQ_INV @ rot @ _YIQ).T, 0.0, 1.0)
  if aug.grayscale_probability > 0:
    gray = jax.random.bernoulli(k_gray, aug.grayscale_probability)
    x = jnp.where(gray, jnp.repeat((x @ _YIQ[0])[..., None], 3, axis=-1), x)
  return x


def augment_image(key: jax.Array, image: jax.Array, aug, out_size: int) -> jax.Array:
  """One uint8 [H, W, 3] image -> augmented float32 [out, out, 3] in [0, 1]."""
  k_geo, k_col = jax.random.split(key)
  x = _warp(image, _inverse_affine(k_geo, image.shape[0], aug), out_size) / 255.0
  return _colour(k_col, x, aug)


def _beta(key: jax.Array, alpha: float, tries: int = 64) -> jax.Array:
  """Beta(alpha, alpha) by Johnk's method with a fixed number of vectorised tries.

  jax.random.beta's gamma sampler costs seconds of compile time in every train step program;
  Johnk accepts with probability Gamma(1+a)^2 / Gamma(1+2a) (0.85 at a=0.4, 0.5 at a=1,
  0.17 at a=2), so 64 tries practically always succeed for the usual alpha <= 2; if none
  does, 0.5 is returned.
  """
  ku, kv = jax.random.split(key)
  log_x = jnp.log(jax.random.uniform(ku, (tries,), minval=1e-12)) / alpha
  log_y = jnp.log(jax.random.uniform(kv, (tries,), minval=1e-12)) / alpha
  accept = jnp.logaddexp(log_x, log_y) <= 0.0
  lam = jax.nn.sigmoid(log_x - log_y)  # x / (x + y)
  first = jnp.argmax(accept)
  return jnp.where(accept[first], lam[first], 0.5)


def mix(key: jax.Array, images: jax.Array, label_probs: jax.Array, mixup_alpha: float,
        cutmix_alpha: float) -> tuple[jax.Array, jax.Array]:
  """Batch-level mixup or cutmix with the reversed batch as partner (as timm does).

  With both alphas > 0 each batch picks one with probability 1/2. Returns the mixed images
  and label probabilities lam * own + (1 - lam) * partner, lam adjusted to the cut area.
  """
  if mixup_alpha <= 0 and cutmix_alpha <= 0:
    return images, label_probs
  k_pick, k_mix, k_cut, k_box = jax.random.split(key, 4)
  partner_images = jnp.flip(images, axis=0)
  partner_probs = jnp.flip(label_probs, axis=0)
  size_h, size_w = images.shape[1:3]
  candidates = []
  if mixup_alpha > 0:
    lam = _beta(k_mix, mixup_alpha)
    candidates.append((lam * images + (1 - lam) * partner_images, lam))
  if cutmix_alpha > 0:
    lam0 = _beta(k_cut, cutmix_alpha)
    cut = jnp.sqrt(1.0 - lam0)
    cy, cx = jax.random.uniform(k_box, (2,)) * jnp.array([size_h, size_w])
    y0 = jnp.clip(jnp.round(cy - cut * size_h / 2), 0, size_h)
    y1 = jnp.clip(jnp.round(cy + cut * size_h / 2), 0, size_h)
    x0 = jnp.clip(jnp.round(cx - cut * size_w / 2), 0, size_w)
    x1 = jnp.clip(jnp.round(cx + cut * size_w / 2), 0, size_w)
    rows = jnp.arange(size_h)[:, None]
    cols = jnp.arange(size_w)[None, :]
    box = (rows >= y0) & (rows < y1) & (cols >= x0) & (cols < x1)
    lam = 1.0 - (y1 - y0) * (x1 - x0) / (size_h * size_w)
    candidates.append((jnp.where(box[None, :, :, None], partner_images, images), lam))
  if len(candidates) == 2:
    use_cut = jax.random.bernoulli(k_pick)
    mixed = jnp.where(use_cut, candidates[1][0], candidates[0][0])
    lam = jnp.where(use_cut, candidates[1][1], candidates[0][1])
  else:
    mixed, lam = candidates[0]
  return mixed, lam * label_probs + (1 - lam) * partner_probs


def augment_batch(key: jax.Array, images_uint8: jax.Array, labels: jax.Array,
                  options: AugmentOptions, num_classes: int, out_size: int):
  """uint8 [B, H, W, 3] -> (normalised float32 [B, out, out, 3], label_probs [B, classes])."""
  k_each, k_mix = jax.random.split(key)
  keys = jax.random.split(k_each, images_uint8.shape[0])
  x = jax.vmap(lambda k, im: augment_image(k, im, options, out_size))(keys, images_uint8)
  probs = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  x, probs = mix(k_mix, x, probs, options.mixup_alpha, options.cutmix_alpha)
  return normalize(x), probs
