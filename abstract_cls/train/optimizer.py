"""Optax optimiser and learning-rate schedule built from config.optimizer.

Fields: name ('sgd' | 'adamw'), lr (peak), momentum, nesterov, b1, b2, eps, weight_decay,
decay_mask (True: no decay on biases and norm scales, i.e. on parameters with < 2 dims),
warmup_epochs, schedule ('cosine' | 'step' | 'constant'), step_epochs, step_factor,
min_lr_ratio (cosine floor as a fraction of lr), restart_epochs (first cycle of
cosine_restarts), clip_norm (0 = off), ema_decay (0 = off),
swa_start_epoch (0 = off; equal-weight average of every step's weights from that epoch on).

Weight decay here is the optimiser's (coupled for SGD as in torch.optim.SGD, decoupled for
AdamW). The explicit L1 / L2 penalty terms added to the loss live in losses.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from abstract_cls.train.errors import ConfigError

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "cosine_restarts", "step", "constant")


def decay_mask(params):
  """True for weights that take decay / penalties: kernels and embeddings, not biases or scales."""
  return jax.tree_util.tree_map(lambda p: p.ndim >= 2, params)


def schedule_values(opt_config, steps_per_epoch: int, total_steps: int) -> dict:
  """The schedule's numbers as float32 arrays, passed to the jitted step as an argument so
  that runs differing only in length or learning rate share one compiled program."""
  if opt_config.schedule not in SCHEDULES:
    raise ConfigError(f"optimizer.schedule={opt_config.schedule!r}; expected one of {SCHEDULES}")
  warmup = int(round(opt_config.warmup_epochs * steps_per_epoch))
  values = dict(
    swa_start=round(opt_config.get("swa_start_epoch", 0.0) * steps_per_epoch),
    peak=opt_config.lr,
    warmup=warmup,
    decay_steps=max(total_steps - warmup, 1),
    floor=opt_config.min_lr_ratio,
    factor=opt_config.step_factor,
    boundaries=[round(e * steps_per_epoch) for e in opt_config.step_epochs],
    cycle=max(round(opt_config.get("restart_epochs", 1.0) * steps_per_epoch), 1),
  )
  return {k: np.asarray(v, np.float32) for k, v in values.items()}


def learning_rate(kind: str, values: dict, step):
  """Linear warm-up from 0 to the peak, then cosine (to floor * peak) / step decay / constant.

  cosine_restarts (SGDR, Loshchilov & Hutter 2017): cosine cycles after the warm-up, the first
  `cycle` steps long and each next one twice as long, each restarting at the peak.
  """
  step = jnp.asarray(step, jnp.float32)
  warmup = values["warmup"]
  warm = jnp.where(warmup > 0, jnp.minimum(1.0, (step + 1.0) / jnp.maximum(warmup, 1.0)), 1.0)
  if kind == "cosine":
    t = jnp.clip((step - warmup) / values["decay_steps"], 0.0, 1.0)
    floor = values["floor"]
    decay = floor + (1.0 - floor) * 0.5 * (1.0 + jnp.cos(jnp.pi * t))
  elif kind == "cosine_restarts":
    # Cycle k spans [cycle * (2^k - 1), cycle * (2^(k+1) - 1)) steps after the warm-up.
    since = jnp.maximum(step - warmup, 0.0) / values["cycle"]
    k = jnp.floor(jnp.log2(since + 1.0))
    t = (since - (jnp.exp2(k) - 1.0)) / jnp.exp2(k)
    floor = values["floor"]
    decay = floor + (1.0 - floor) * 0.5 * (1.0 + jnp.cos(jnp.pi * t))
  elif kind == "step":
    passed = jnp.sum((step >= values["boundaries"]).astype(jnp.float32))
    decay = jnp.power(values["factor"], passed)
  else:
    decay = 1.0
  return values["peak"] * warm * decay


def make_schedule(opt_config, steps_per_epoch: int, total_steps: int) -> Callable:
  """step -> learning rate, with the numbers baked in (for host-side use and plots)."""
  values = schedule_values(opt_config, steps_per_epoch, total_steps)
  return functools.partial(learning_rate, opt_config.schedule, values)


def make_optimizer(opt_config) -> optax.GradientTransformation:
  """Clipping, weight decay (masked or not), SGD(+Nesterov) momentum or AdamW, at unit rate.

  The learning rate is applied by the train step (updates * learning_rate(...)): every
  transformation here is linear in it, as optax applies its learning rate last.
  """
  if opt_config.name not in OPTIMIZERS:
    raise ConfigError(f"optimizer.name={opt_config.name!r}; expected one of {OPTIMIZERS}")
  mask = decay_mask if opt_config.decay_mask else None
  chain = []
  if opt_config.clip_norm > 0:
    chain.append(optax.clip_by_global_norm(opt_config.clip_norm))
  if opt_config.name == "sgd":
    if opt_config.weight_decay > 0:
      chain.append(optax.add_decayed_weights(opt_config.weight_decay, mask))
    chain.append(optax.sgd(1.0, momentum=opt_config.momentum or None, nesterov=opt_config.nesterov))
  else:
    chain.append(
      optax.adamw(
        1.0,
        b1=opt_config.b1,
        b2=opt_config.b2,
        eps=opt_config.eps,
        weight_decay=opt_config.weight_decay,
        mask=mask,
      )
    )
  return optax.chain(*chain)


def averaging(opt_config) -> str:
  """'ema', 'swa' or '' (no averaged copy of the weights)."""
  ema, swa = opt_config.ema_decay > 0, opt_config.get("swa_start_epoch", 0.0) > 0
  if ema and swa:
    raise ConfigError("optimizer.ema_decay and optimizer.swa_start_epoch are exclusive: pick one")
  return "ema" if ema else "swa" if swa else ""


def average_decay(kind: str, ema_decay: float, swa_start, step):
  """Weight of the old average after the update of `step` (0-based).

  ema: min(decay, (1 + t) / (10 + t)), the warm-up of tf.train.ExponentialMovingAverage, so
  the average is not dominated by the random initialisation early on. swa: 1 - 1/n for the
  n-th step since swa_start (an equal-weight mean), 0 before it (the average follows the
  live weights).
  """
  t = jnp.asarray(step, jnp.float32)
  if kind == "ema":
    return jnp.minimum(ema_decay, (1.0 + t) / (10.0 + t))
  n = t + 1.0 - swa_start
  return jnp.where(n >= 1.0, 1.0 - 1.0 / jnp.maximum(n, 1.0), 0.0)


def average_update(average: dict, live: dict, decay) -> dict:
  """decay * average + (1 - decay) * live on float leaves (weights, batch statistics); other
  leaves (RNG state) take the live value."""

  def mix(a, x):
    if not jnp.issubdtype(x.dtype, jnp.floating):
      return x
    return (decay * a + (1.0 - decay) * x).astype(x.dtype)

  return jax.tree_util.tree_map(mix, average, live)
