"""Optax optimiser and learning-rate schedule built from config.optimizer.

Fields: name ('sgd' | 'adamw'), lr (peak), momentum, nesterov, b1, b2, eps, weight_decay,
decay_mask (True: no decay on biases and norm scales, i.e. on parameters with < 2 dims),
warmup_epochs, schedule ('cosine' | 'step' | 'constant'), step_epochs, step_factor,
min_lr_ratio (cosine floor as a fraction of lr), clip_norm (0 = off), ema_decay (0 = off).

Weight decay here is the optimiser's (coupled for SGD as in torch.optim.SGD, decoupled for
AdamW). The explicit L1 / L2 penalty terms added to the loss live in losses.py.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from abstract_cls.train.errors import ConfigError

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step", "constant")


def decay_mask(params):
  """True for weights that take decay / penalties: kernels and embeddings, not biases or scales."""
  return jax.tree_util.tree_map(lambda p: p.ndim >= 2, params)


def make_schedule(opt_config, steps_per_epoch: int, total_steps: int) -> Callable:
  """Linear warm-up from 0 to opt_config.lr, then cosine / step decay / constant."""
  if opt_config.schedule not in SCHEDULES:
    raise ConfigError(f"optimizer.schedule={opt_config.schedule!r}; expected one of {SCHEDULES}")
  peak = float(opt_config.lr)
  warmup = int(round(opt_config.warmup_epochs * steps_per_epoch))
  decay_steps = max(total_steps - warmup, 1)
  boundaries = [int(round(e * steps_per_epoch)) for e in opt_config.step_epochs]

  def schedule(step):
    step = jnp.asarray(step, jnp.float32)
    warm = jnp.minimum(1.0, (step + 1.0) / warmup) if warmup > 0 else 1.0
    if opt_config.schedule == "cosine":
      t = jnp.clip((step - warmup) / decay_steps, 0.0, 1.0)
      floor = opt_config.min_lr_ratio
      decay = floor + (1.0 - floor) * 0.5 * (1.0 + jnp.cos(jnp.pi * t))
    elif opt_config.schedule == "step":
      passed = sum((step >= b).astype(jnp.float32) for b in boundaries) if boundaries else 0.0
      decay = jnp.power(opt_config.step_factor, passed)
    else:
      decay = 1.0
    return peak * warm * decay

  return schedule


def make_optimizer(opt_config, schedule: Callable) -> optax.GradientTransformation:
  """Clipping, then weight decay (masked or not), then SGD(+Nesterov) momentum or AdamW."""
  if opt_config.name not in OPTIMIZERS:
    raise ConfigError(f"optimizer.name={opt_config.name!r}; expected one of {OPTIMIZERS}")
  mask = decay_mask if opt_config.decay_mask else None
  chain = []
  if opt_config.clip_norm > 0:
    chain.append(optax.clip_by_global_norm(opt_config.clip_norm))
  if opt_config.name == "sgd":
    if opt_config.weight_decay > 0:
      chain.append(optax.add_decayed_weights(opt_config.weight_decay, mask))
    chain.append(optax.sgd(schedule, momentum=opt_config.momentum or None,
                           nesterov=opt_config.nesterov))
  else:
    chain.append(optax.adamw(schedule, b1=opt_config.b1, b2=opt_config.b2, eps=opt_config.eps,
                             weight_decay=opt_config.weight_decay, mask=mask))
  return optax.chain(*chain)


def ema_update(ema, params, decay: float):
  return jax.tree_util.tree_map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)
