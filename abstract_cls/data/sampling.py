"""Which examples make up the batch at step N: a function of (seed, N) only.

Epoch e = N // steps_per_epoch draws its order from fold_in(seed, e). With balancing, an
epoch is a fixed-size pool: every class contributes `per_class[c]` slots (oversample: up to
the largest class, cycling through a freshly shuffled order of its members; sqrt: a share
proportional to sqrt(n_c), the same epoch size as none; undersample: a fresh random subset of
at most `cap`). The same scheme exists twice: in jax for in-memory
mode (computed inside the jitted step, no host work) and in numpy for streaming mode (computed
in the grain workers, which must not touch jax).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from abstract_cls import taxonomy


def class_counts(labels: np.ndarray) -> np.ndarray:
  return np.bincount(np.asarray(labels), minlength=taxonomy.NUM_CLASSES).astype(np.int64)


def class_weights(counts: np.ndarray, method: str, beta: float = 0.999) -> np.ndarray:
  """Per-class loss weights, normalised so the mean weight over the training examples is 1.

  inverse: 1/n_c; sqrt_inverse: 1/sqrt(n_c); effective_number (Cui et al. 2019):
  (1 - beta) / (1 - beta^n_c). Classes without examples get 0.
  """
  counts = np.asarray(counts, np.float64)
  present = counts > 0
  raw = np.zeros_like(counts)
  if method == "none":
    raw[:] = 1.0
  elif method == "inverse":
    raw[present] = 1.0 / counts[present]
  elif method == "sqrt_inverse":
    raw[present] = 1.0 / np.sqrt(counts[present])
  elif method == "effective_number":
    if not 0.0 < beta < 1.0:
      raise ValueError(f"effective_number_beta must be in (0, 1), got {beta}")
    raw[present] = (1.0 - beta) / (1.0 - np.power(beta, counts[present]))
  else:
    raise ValueError(
      f"class_weighting {method!r} is not one of "
      "'none', 'inverse', 'sqrt_inverse', 'effective_number'"
    )
  raw[~present] = 0.0
  mean = (raw * counts).sum() / max(counts.sum(), 1.0)
  return (raw / mean if mean > 0 else raw).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class SamplingSpec:
  """The static (hashable) part of a plan that the jitted sampler needs."""

  steps_per_epoch: int
  global_batch_size: int
  balanced: bool
  pool_size: int


@dataclasses.dataclass(frozen=True)
class EpochPlan:
  """Static description of an epoch (numpy; the same for every epoch)."""

  seed: int
  labels: np.ndarray  # int32 [N]
  balanced: bool
  # Slot j of the pool reads position pool_slots[j] of the class-grouped order; only used
  # when balanced. Class c owns positions class_start[c] .. class_start[c] + n_c - 1.
  pool_slots: np.ndarray
  global_batch_size: int

  @property
  def pool_size(self) -> int:
    return len(self.pool_slots) if self.balanced else len(self.labels)

  @property
  def steps_per_epoch(self) -> int:
    return self.pool_size // self.global_batch_size

  @property
  def spec(self) -> SamplingSpec:
    return SamplingSpec(self.steps_per_epoch, self.global_batch_size, self.balanced, self.pool_size)

  def device_arrays(self) -> dict[str, np.ndarray]:
    """What device_batch_indices reads besides the spec (put these on the devices)."""
    return dict(
      seed_key=jax.random.key_data(jax.random.key(self.seed)),
      labels=self.labels,
      pool_slots=self.pool_slots,
    )


def make_plan(
  labels: np.ndarray, balance: str, cap: int, seed: int, global_batch_size: int
) -> EpochPlan:
  labels = np.asarray(labels, np.int32)
  counts = class_counts(labels)
  starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
  if balance == "none":
    slots = np.zeros(0, np.int64)
  elif balance == "oversample":
    target = counts.max()
    slots = np.concatenate(
      [starts[c] + np.arange(target) % counts[c] for c in range(len(counts)) if counts[c] > 0]
    )
  elif balance == "sqrt":
    # Square-root sampling: class c fills a share of the epoch proportional to sqrt(n_c),
    # between the natural frequencies (none) and full balance (oversample).
    root = np.sqrt(counts)
    target = np.round(root / root.sum() * counts.sum()).astype(np.int64)
    slots = np.concatenate(
      [starts[c] + np.arange(target[c]) % counts[c] for c in range(len(counts)) if counts[c] > 0]
    )
  elif balance == "undersample":
    if cap <= 0:
      raise ValueError("balance='undersample' needs undersample_cap > 0")
    slots = np.concatenate(
      [starts[c] + np.arange(min(cap, counts[c])) for c in range(len(counts)) if counts[c] > 0]
    )
  else:
    raise ValueError(
      f"balance {balance!r} is not one of 'none', 'sqrt', 'oversample', 'undersample'"
    )
  plan = EpochPlan(seed, labels, balance != "none", slots.astype(np.int32), global_batch_size)
  if plan.steps_per_epoch < 1:
    raise ValueError(
      f"an epoch has {plan.pool_size} examples, fewer than the global batch "
      f"size {global_batch_size}"
    )
  return plan


def epoch_order(spec: SamplingSpec, arrays: dict, epoch: jax.Array) -> jax.Array:
  """int32 [pool_size]: the order in which `epoch` visits the pool (jittable).

  A sort of the whole pool (~3 ms on a 2-core CPU for 4,159 examples, ~8% of a LeNet-5
  step), so TrainInput.prepare_epoch stores it once per epoch in the device arrays.
  """
  key = jax.random.fold_in(jax.random.wrap_key_data(arrays["seed_key"]), epoch)
  k_order, k_perm = jax.random.split(key)
  if spec.balanced:
    labels = arrays["labels"]
    u = jax.random.uniform(k_order, labels.shape)
    grouped = jnp.lexsort((u, labels)).astype(jnp.int32)  # By class, random within class.
    return jax.random.permutation(k_perm, grouped[arrays["pool_slots"]]).astype(jnp.int32)
  return jax.random.permutation(k_perm, spec.pool_size).astype(jnp.int32)


def device_batch_indices(spec: SamplingSpec, arrays: dict, step: jax.Array) -> jax.Array:
  """int32 [global_batch] example indices for `step` (jittable; step may be traced).

  `arrays` is EpochPlan.device_arrays() (possibly on the devices): keeping the seed and the
  labels out of the compiled program lets runs that differ only in seed share one compile.
  With `epoch_order` / `order_epoch` added (TrainInput.prepare_epoch) the stored order is
  used when it is this step's epoch's; otherwise the order is computed here, the same one.
  """
  step = jnp.asarray(step, jnp.int32)
  epoch = step // spec.steps_per_epoch
  if "epoch_order" in arrays:  # stored for some epoch: use it if it is this one
    order = jax.lax.cond(
      arrays["order_epoch"] == epoch,
      lambda: arrays["epoch_order"],
      lambda: epoch_order(spec, arrays, epoch),
    )
  else:
    order = epoch_order(spec, arrays, epoch)
  start = (step % spec.steps_per_epoch) * spec.global_batch_size
  return jax.lax.dynamic_slice_in_dim(order, start, spec.global_batch_size)


class HostSampler:
  """numpy twin of device_batch_indices for streaming mode; caches one epoch's order."""

  def __init__(self, plan: EpochPlan):
    self.plan = plan
    self._epoch = -1
    self._order = np.zeros(0, np.int64)

  def _epoch_order(self, epoch: int) -> np.ndarray:
    if epoch != self._epoch:
      rng = np.random.default_rng([self.plan.seed, epoch])
      if self.plan.balanced:
        grouped = np.lexsort((rng.random(len(self.plan.labels)), self.plan.labels))
        self._order = rng.permutation(grouped[self.plan.pool_slots])
      else:
        self._order = rng.permutation(len(self.plan.labels))
      self._epoch = epoch
    return self._order

  def batch_indices(self, step: int) -> np.ndarray:
    epoch, within = divmod(int(step), self.plan.steps_per_epoch)
    b = self.plan.global_batch_size
    return self._epoch_order(epoch)[within * b : (within + 1) * b]
