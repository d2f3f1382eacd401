"""The jitted train and eval steps.

One jax.jit over the mesh: the batch is produced INSIDE the step by the input pipeline
(TrainInput.batch) from device-resident data and the step number, sharded over 'data';
parameters are replicated; the train state and the metric accumulators are donated.
Metrics are summed on the device and fetched by the loop every log_every steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from abstract_cls.train import losses
from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import optimizer as optimizer_lib


def init_accumulators():
  """Running sums since the last fetch, plus the latest health norms and the NaN sentinel."""
  zero = jnp.zeros((), jnp.float32)
  return dict(
    loss_sum=zero,
    correct=zero,
    count=zero,
    steps=zero,
    lr=zero,
    grad_norm=zero,
    param_norm=zero,
    update_norm=zero,
    nonfinite_step=jnp.full((), -1, jnp.int32),
  )


def make_train_step(graphs, train_input, optimizer, config, class_weights, mesh):
  """-> jitted step(state, acc, device_data, host_batch, schedule, with_layer_norms).

  schedule: optimizer.schedule_values(...) (arrays, so run length and learning rate do not
  change the compiled program), optionally with a "seed" entry (int32) that then replaces
  config.seed as the augmentation / dropout-key seed, so seed sweeps share one program.

  The step returns (state, acc, leaf_norms): leaf_norms is the gradient norm of every
  parameter leaf (same structure as params) when with_layer_norms, else {}.
  """
  averaging = optimizer_lib.averaging(config.optimizer)
  ema_decay = float(config.optimizer.ema_decay)
  class_weights = jnp.asarray(class_weights, jnp.float32)
  data_sharding = mesh_lib.batch_sharded(mesh)

  loss_fn = _make_loss_fn(graphs, class_weights, config.loss)

  def train_step(state, acc, device_data, host_batch, schedule, with_layer_norms=False):
    step = state["step"]
    seed = schedule["seed"] if "seed" in schedule else config.seed
    key = jax.random.fold_in(jax.random.key(seed), step)
    batch = train_input.batch(device_data, host_batch, step, key)
    batch = jax.lax.with_sharding_constraint(batch, data_sharding)
    (total, (loss, logits, new_rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state["params"], state["rest"], batch
    )
    updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
    lr = optimizer_lib.learning_rate(
      config.optimizer.schedule, {k: v for k, v in schedule.items() if k != "seed"}, step
    )
    updates = jax.tree_util.tree_map(lambda u: (lr * u).astype(u.dtype), updates)
    params = optax.apply_updates(state["params"], updates)
    grad_norm = optax.tree.norm(grads)
    finite = jnp.isfinite(total) & jnp.isfinite(grad_norm)
    average = {}
    if averaging:  # the weights and the batch statistics they were trained with, averaged
      decay = optimizer_lib.average_decay(averaging, ema_decay, schedule["swa_start"], step)
      live = dict(params=params, rest=new_rest)
      average = optimizer_lib.average_update(state["average"], live, decay)
    updated = dict(params=params, rest=new_rest, opt_state=opt_state, average=average)
    # A non-finite step leaves the state as it was, so nothing corrupt can be saved.
    kept = {k: state[k] for k in updated}
    new_state = jax.tree_util.tree_map(lambda n, o: jnp.where(finite, n, o), updated, kept)
    new_state["step"] = step + 1

    new_acc = _accumulate(
      acc, step, finite, loss, logits, batch["label"], lr, grad_norm, params, updates
    )
    leaf_norms = _leaf_norms(grads) if with_layer_norms else {}
    return new_state, new_acc, leaf_norms

  jitted = jax.jit(
    train_step,
    donate_argnums=(0, 1),
    static_argnames=("with_layer_norms",),
    out_shardings=mesh_lib.replicated(mesh),
  )
  return jitted


def _make_loss_fn(graphs, class_weights, loss_config):
  """-> loss_fn(params, rest, batch) -> (total, (loss, logits, the updated non-params))."""

  def loss_fn(params, rest, batch):
    model = nnx.merge(graphs.train, params, rest)
    logits = model(batch["image"]).astype(jnp.float32)
    _, _, new_rest = nnx.split(model, nnx.Param, ...)
    loss = losses.classification_loss(
      logits,
      batch["label_probs"],
      class_weights,
      label_smoothing=loss_config.label_smoothing,
      focal_gamma=loss_config.focal_gamma,
    )
    total = loss + losses.weight_penalty(params, loss_config.l1, loss_config.l2)
    return total, (loss, logits, nnx.to_pure_dict(new_rest))

  return loss_fn


def _accumulate(acc, step, finite, loss, logits, labels, lr, grad_norm, params, updates):
  """The accumulators after one step: sums grow, health norms are this step's."""
  correct = jnp.sum((jnp.argmax(logits, -1) == labels).astype(jnp.float32))
  return dict(
    loss_sum=acc["loss_sum"] + loss,
    correct=acc["correct"] + correct,
    count=acc["count"] + labels.shape[0],
    steps=acc["steps"] + 1.0,
    lr=jnp.asarray(lr, jnp.float32),
    grad_norm=grad_norm,
    param_norm=optax.tree.norm(params),
    update_norm=optax.tree.norm(updates),
    nonfinite_step=jnp.where((acc["nonfinite_step"] < 0) & ~finite, step, acc["nonfinite_step"]),
  )


def _leaf_norms(grads):
  """The gradient norm of every parameter leaf (the host groups them into layers)."""
  return jax.tree_util.tree_map(
    lambda g: jnp.sqrt(jnp.sum(jnp.square(g.astype(jnp.float32)))), grads
  )


def make_eval_step(graphs, mesh, flip_tta: bool = False):
  """jitted (params, rest, images, labels) -> dict(pred, prob, loss) per example (sharded).

  flip_tta: the log of the mean of the softmax over the image and its mirror image (the
  training augmentation flips horizontally) stands in for the logits.
  """

  def eval_step(params, rest, images, labels):
    model = nnx.merge(graphs.eval, params, rest)
    logits = model(images).astype(jnp.float32)
    if flip_tta:
      mirrored = model(images[:, :, ::-1, :]).astype(jnp.float32)
      probs = 0.5 * (jax.nn.softmax(logits) + jax.nn.softmax(mirrored))
      logits = jnp.log(jnp.maximum(probs, 1e-30))
    return dict(
      pred=jnp.argmax(logits, -1).astype(jnp.int32),
      prob=jax.nn.softmax(logits),
      loss=losses.per_example_cross_entropy(logits, labels),
    )

  return jax.jit(eval_step, out_shardings=mesh_lib.batch_sharded(mesh))
