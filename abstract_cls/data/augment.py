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
  def from_config(cls, data_config) -> AugmentOptions:
    fields = {f.name for f in dataclasses.fields(cls)} - {"mixup_alpha", "cutmix_alpha"}
    given = dict(data_config.augment)
    unknown = set(given) - fields
    if unknown:
      raise ValueError(f"unknown data.augment option(s) {sorted(unknown)}; known: {sorted(fields)}")
    values = {
      k: tuple(float(x) for x in v) if isinstance(v, (tuple, list)) else v for k, v in given.items()
    }
    alphas = {k: float(data_config[k]) for k in ("mixup_alpha", "cutmix_alpha")}
    for name, alpha in alphas.items():
      if not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"data.{name}={alpha}: a Beta(a, a) parameter, > 0 (or 0 for off)")
    return cls(**values, **alphas)


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
    log_ratio = jax.random.uniform(
      k_ratio, (), minval=math.log(aug.crop_ratio[0]), maxval=math.log(aug.crop_ratio[1])
    )
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


def _pack_rgb(images: jax.Array) -> jax.Array:
  """uint8 [..., 3] -> int32 [...] (r | g << 8 | b << 16): the warp then gathers one scalar
  per tap instead of a 3-wide row, which XLA:CPU does several times faster."""
  c = images.astype(jnp.int32)
  return c[..., 0] | (c[..., 1] << 8) | (c[..., 2] << 16)


_PACKED_WHITE = 0xFFFFFF


def _warp(packed: jax.Array, matrix: jax.Array, out_size: int) -> jax.Array:
  """Bilinear resample of a packed [H, W] image through `matrix` -> float32 [out, out, 3] in
  0..255; samples outside the image are white.

  Each output pixel fetches its 2x2 neighbourhood with one dynamic_slice (a gather of 2x2
  windows), faster on XLA:CPU than four separate gathers.
  """
  h, w = packed.shape
  grid = (jnp.arange(out_size, dtype=jnp.float32) + 0.5) / out_size * 2 - 1
  px, py = jnp.meshgrid(grid, grid)  # [out, out], x varies along columns.
  xs = matrix[0, 0] * px + matrix[0, 1] * py + matrix[0, 2]
  ys = matrix[1, 0] * px + matrix[1, 1] * py + matrix[1, 2]
  x0, y0 = jnp.floor(xs), jnp.floor(ys)
  wx, wy = (xs - x0)[..., None], (ys - y0)[..., None]
  padded = jnp.pad(packed, 1, constant_values=_PACKED_WHITE)
  xi = jnp.clip(x0, -1, w - 1).astype(jnp.int32) + 1
  yi = jnp.clip(y0, -1, h - 1).astype(jnp.int32) + 1
  window = jax.vmap(jax.vmap(lambda y, x: jax.lax.dynamic_slice(padded, (y, x), (2, 2))))(yi, xi)

  def tap(dy, dx):
    # Clipping moved far-outside windows onto the border: mask those taps to white.
    yv, xv = y0 + dy, x0 + dx
    inside = (xv >= 0) & (xv <= w - 1) & (yv >= 0) & (yv <= h - 1)
    v = jnp.where(inside, window[..., dy, dx], _PACKED_WHITE)
    return jnp.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=-1).astype(jnp.float32)

  top = tap(0, 0) * (1 - wx) + tap(0, 1) * wx
  bottom = tap(1, 0) * (1 - wx) + tap(1, 1) * wx
  return top * (1 - wy) + bottom * wy


_YIQ = np.array(
  [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32
)
_YIQ_INV = np.linalg.inv(_YIQ).astype(np.float32)
_LUMA = np.tile(_YIQ[:1], (3, 1))  # Every output channel = luma.


def _colour_matrix(key: jax.Array, aug) -> tuple[jax.Array, jax.Array]:
  """Colour jitter as one map x -> M x + b on [0, 1] RGB (clipped after), white -> white.

  Ink: x -> 1 - f (1 - x); saturation: blend with luma by g; hue: rotation of the YIQ chroma
  plane; greyscale: luma. Each keeps (1, 1, 1) fixed, so the composition does too and
  b = 1 - f. Composing first means one pass over the pixels instead of four.
  """
  k_ink, k_sat, k_hue, k_gray = jax.random.split(key, 4)
  eye = jnp.eye(3, dtype=jnp.float32)
  m = eye
  f = jnp.float32(1.0)
  if aug.ink_strength > 0:
    f = jax.random.uniform(k_ink, (), minval=1 - aug.ink_strength, maxval=1 + aug.ink_strength)
  if aug.saturation > 0:
    g = jax.random.uniform(k_sat, (), minval=1 - aug.saturation, maxval=1 + aug.saturation)
    m = (g * eye + (1 - g) * _LUMA) @ m
  if aug.hue_degrees > 0:
    a = jnp.deg2rad(jax.random.uniform(k_hue, (), minval=-1.0, maxval=1.0) * aug.hue_degrees)
    c, s = jnp.cos(a), jnp.sin(a)
    rot = jnp.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    m = (_YIQ_INV @ rot @ _YIQ) @ m
  if aug.grayscale_probability > 0:
    m = jnp.where(jax.random.bernoulli(k_gray, aug.grayscale_probability), _LUMA @ m, m)
  return m * f, 1.0 - f


def augment_images(key: jax.Array, images_uint8: jax.Array, aug, out_size: int) -> jax.Array:
  """uint8 [B, H, W, 3] -> augmented float32 [B, out, out, 3] in [0, 1]."""
  keys = jax.random.split(key, images_uint8.shape[0])
  k_geo = jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys)
  k_col = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
  size = images_uint8.shape[1]
  matrices = jax.vmap(lambda k: _inverse_affine(k, size, aug))(k_geo)
  x = jax.vmap(lambda im, m: _warp(im, m, out_size))(_pack_rgb(images_uint8), matrices)
  m, b = jax.vmap(lambda k: _colour_matrix(k, aug))(k_col)
  # A dot, not three fused multiply-adds: XLA:CPU copies a fusible producer into each of
  # its consumers, and the first conv's kernel gradient would then recompute the whole warp
  # in its cache-hostile order; the dot is materialised once.
  y = jnp.einsum("bhwk,bck->bhwc", x, m / 255.0) + b[:, None, None, None]
  return jnp.clip(y, 0.0, 1.0)


def mix(
  key: jax.Array, images: jax.Array, label_probs: jax.Array, mixup_alpha: float, cutmix_alpha: float
) -> tuple[jax.Array, jax.Array]:
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
    lam = jax.random.beta(k_mix, mixup_alpha, mixup_alpha)
    candidates.append((lam * images + (1 - lam) * partner_images, lam))
  if cutmix_alpha > 0:
    lam0 = jax.random.beta(k_cut, cutmix_alpha, cutmix_alpha)
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


def augment_batch(
  key: jax.Array,
  images_uint8: jax.Array,
  labels: jax.Array,
  options: AugmentOptions,
  num_classes: int,
  out_size: int,
):
  """uint8 [B, H, W, 3] -> (normalised float32 [B, out, out, 3], label_probs [B, classes])."""
  k_each, k_mix = jax.random.split(key)
  x = augment_images(k_each, images_uint8, options, out_size)
  probs = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  x, probs = mix(k_mix, x, probs, options.mixup_alpha, options.cutmix_alpha)
  return normalize(x), probs
