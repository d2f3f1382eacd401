"""Input pipeline (Contract 3): determinism, resumption, sharding, balancing, protocols."""

import jax
import numpy as np
import pytest
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from abstract_cls import taxonomy
from abstract_cls.data import augment, pipeline, sampling, sources
from abstract_cls.data import config as config_lib

SIZE = 16
BATCH = 16


@pytest.fixture(scope="module")
def records():
  return sources.synthetic_source(96, image_size=24, seed=0)


@pytest.fixture(scope="module")
def mesh():
  assert len(jax.devices()) == 8, "conftest should give 8 fake CPU devices"
  return Mesh(np.array(jax.devices()), ("data",))


def _config(**overrides):
  c = config_lib.data_config()
  c.image_size = SIZE
  for k, v in overrides.items():
    setattr(c, k, v)
  return c


# Static spec: inputs that differ only in seed or data share one compile.
_build_batch = jax.jit(pipeline.build_batch, static_argnums=0)


def _batches(train_input, steps, seed=0):
  out = []
  for step in steps:
    key = jax.random.fold_in(jax.random.key(seed), step)
    b = _build_batch(
      train_input.spec, train_input.device_data, train_input.host_batch(step), step, key
    )
    out.append(jax.tree.map(np.asarray, b))
  return out


def _equal(a, b):
  return all(np.array_equal(a[k], b[k]) for k in a)


def test_same_seed_same_batches_other_seed_differs(records, mesh):
  c = _config()
  first = _batches(pipeline.make_train_input(c, "train", mesh, 3, BATCH, source=records), range(3))
  again = _batches(pipeline.make_train_input(c, "train", mesh, 3, BATCH, source=records), range(3))
  other = _batches(pipeline.make_train_input(c, "train", mesh, 4, BATCH, source=records), range(3))
  assert all(_equal(a, b) for a, b in zip(first, again))
  assert not np.array_equal(first[0]["label"], other[0]["label"])


def test_resumed_in_memory_run_continues_with_same_batches(records, mesh):
  c = _config()
  steps_per_epoch = 96 // BATCH
  uninterrupted = _batches(
    pipeline.make_train_input(c, "train", mesh, 0, BATCH, source=records),
    range(steps_per_epoch + 2),
  )
  resumed = _batches(
    pipeline.make_train_input(c, "train", mesh, 0, BATCH, source=records),
    range(steps_per_epoch - 1, steps_per_epoch + 2),
  )
  assert all(_equal(a, b) for a, b in zip(uninterrupted[steps_per_epoch - 1 :], resumed))


def test_epoch_visits_every_example_once_and_epochs_differ(records, mesh):
  train_input = pipeline.make_train_input(_config(), "train", mesh, 0, BATCH, source=records)
  plan, dd = train_input.plan, train_input.device_data
  indices = jax.jit(lambda s: sampling.device_batch_indices(plan.spec, dd, s))
  epoch0 = np.concatenate([indices(s) for s in range(plan.steps_per_epoch)])
  epoch1 = np.concatenate([indices(s + plan.steps_per_epoch) for s in range(plan.steps_per_epoch)])
  assert sorted(epoch0) == list(range(96)) == sorted(epoch1)
  assert not np.array_equal(epoch0, epoch1)


@pytest.mark.parametrize("balance", ["none", "oversample"])
def test_stored_epoch_order_gives_the_same_batches(records, mesh, balance):
  # The loop stores each epoch's order once (prepare_epoch); a step must pick the same
  # examples whether the order is stored, stale (another epoch's) or absent.
  train_input = pipeline.make_train_input(
    _config(balance=balance), "train", mesh, 0, BATCH, source=records
  )
  spec = train_input.plan.spec
  indices = jax.jit(lambda arrays, s: sampling.device_batch_indices(spec, arrays, s))
  plain = {
    k: v for k, v in train_input.device_data.items() if k not in ("epoch_order", "order_epoch")
  }
  stale = train_input.device_data  # holds epoch 0's order
  steps = range(spec.steps_per_epoch - 2, 2 * spec.steps_per_epoch + 2)
  for step in steps:
    train_input.prepare_epoch(step)
    stored = train_input.device_data
    assert int(stored["order_epoch"]) == step // spec.steps_per_epoch
    expected = np.asarray(indices(plain, step))
    np.testing.assert_array_equal(np.asarray(indices(stored, step)), expected)
    np.testing.assert_array_equal(np.asarray(indices(stale, step)), expected)


def test_batch_is_sharded_over_eight_devices(records, mesh):
  train_input = pipeline.make_train_input(_config(), "train", mesh, 0, BATCH, source=records)
  b = _build_batch(train_input.spec, train_input.device_data, {}, 0, jax.random.key(0))
  assert b["image"].shape == (BATCH, SIZE, SIZE, 3) and b["image"].dtype == np.float32
  assert b["label_probs"].shape == (BATCH, taxonomy.NUM_CLASSES)
  for v in b.values():
    assert v.sharding.spec[0] == "data"
    assert len(v.sharding.device_set) == 8
    assert v.addressable_shards[0].data.shape[0] == BATCH // 8


def test_batch_not_divisible_by_devices_is_a_clear_error(records, mesh):
  with pytest.raises(ValueError, match="not divisible"):
    pipeline.make_train_input(_config(), "train", mesh, 0, 12, source=records)


def _imbalanced_labels():
  counts = np.arange(1, taxonomy.NUM_CLASSES + 1) * 3  # 3 .. 60 per class
  return np.repeat(np.arange(taxonomy.NUM_CLASSES), counts).astype(np.int32)


@pytest.mark.parametrize("balance,cap,expected", [("oversample", 0, 60), ("undersample", 10, 10)])
def test_balancing_equalises_class_frequency(balance, cap, expected):
  labels = _imbalanced_labels()
  plan = sampling.make_plan(labels, balance, cap, seed=0, global_batch_size=4)
  arrays = plan.device_arrays()
  indices = jax.jit(lambda s: sampling.device_batch_indices(plan.spec, arrays, s))
  seen = np.concatenate([indices(s) for s in range(plan.steps_per_epoch)])
  per_class = np.bincount(labels[seen], minlength=taxonomy.NUM_CLASSES)
  if balance == "undersample":  # Classes below the cap keep all their examples.
    np.testing.assert_array_equal(per_class, np.minimum(np.bincount(labels), cap))
  else:
    assert set(per_class) == {expected}
  # The numpy twin used by streaming mode draws the same kind of epoch.
  host = sampling.HostSampler(plan)
  host_seen = np.concatenate([host.batch_indices(s) for s in range(plan.steps_per_epoch)])
  np.testing.assert_array_equal(np.bincount(labels[host_seen], minlength=20), per_class)


def test_sqrt_sampling_gives_class_shares_proportional_to_root_counts():
  labels = _imbalanced_labels()
  counts = np.bincount(labels)
  plan = sampling.make_plan(labels, "sqrt", 0, seed=0, global_batch_size=4)
  slots = np.bincount(labels[np.sort(plan.pool_slots)], minlength=taxonomy.NUM_CLASSES)
  expected = np.sqrt(counts) / np.sqrt(counts).sum() * counts.sum()
  assert np.all(np.abs(slots - expected) <= 0.5 + 1e-9)
  assert abs(plan.pool_size - len(labels)) <= taxonomy.NUM_CLASSES  # ~ the same epoch size
  shares = slots / slots.sum()
  natural = counts / counts.sum()
  assert shares[0] > natural[0] and shares[-1] < natural[-1]  # between none and full balance
  assert shares[0] < shares[-1]


def test_class_weights_make_mean_weight_one():
  counts = np.bincount(_imbalanced_labels())
  for method in ("inverse", "sqrt_inverse", "effective_number"):
    w = sampling.class_weights(counts, method)
    assert abs((w * counts).sum() / counts.sum() - 1) < 1e-5
    assert np.all(np.diff(w) < 0), method  # Rarer classes weigh more.
  np.testing.assert_array_equal(sampling.class_weights(counts, "none"), 1)
  with pytest.raises(ValueError, match="class_weighting"):
    sampling.class_weights(counts, "focal")


def test_mixup_cutmix_label_probs_sum_to_one(records, mesh):
  c = _config(mixup_alpha=0.4, cutmix_alpha=1.0)  # One program covers both (picked per batch).
  train_input = pipeline.make_train_input(c, "train", mesh, 0, BATCH, source=records)
  b = _batches(train_input, range(4))
  for batch in b:
    np.testing.assert_allclose(batch["label_probs"].sum(axis=1), 1.0, atol=1e-5)
  assert any(np.sum(batch["label_probs"] > 0, axis=1).max() == 2 for batch in b)


def test_augmentation_keeps_white_white(records, mesh):
  n = len(records)
  white = pipeline.SplitArrays(
    images=np.full((n, SIZE, SIZE, 3), 255, np.uint8),
    labels=np.array([r["label"] for r in records], np.int32),
    domains=np.zeros(n, np.int32),
    file_names=np.array([""] * n),
    l3_objects=np.array([""] * n),
  )
  train_input = pipeline.make_train_input(_config(), "train", mesh, 0, BATCH, arrays=white)
  x = _batches(train_input, [0])[0]["image"]  # Same spec as the tests above: no new compile.
  back = x * np.array(augment.IMAGENET_STD) + np.array(augment.IMAGENET_MEAN)
  np.testing.assert_allclose(back, 1.0, atol=1e-5)


def test_class_counts_and_weights_exposed(records, mesh):
  c = _config(class_weighting="inverse")
  train_input = pipeline.make_train_input(c, "train", mesh, 0, BATCH, source=records)
  assert train_input.num_examples == 96 and train_input.steps_per_epoch == 6
  assert train_input.class_counts.sum() == 96 and train_input.class_weights.shape == (20,)


def test_official_protocol_gives_224_centre_crop(records, mesh):
  ev = pipeline.make_eval_input(
    _config(), "test", mesh, 16, official_protocol=True, source=records[:20]
  )
  batches = list(ev.batches())
  assert [b["image"].shape for b in batches] == [(16, 224, 224, 3)] * 2
  assert [int(b["mask"].sum()) for b in batches] == [16, 4]


def test_eval_batches_in_order_padded_and_sharded(records, mesh):
  ev = pipeline.make_eval_input(_config(), "test", mesh, 16, source=records[:40])
  batches = list(ev.batches())
  labels = np.concatenate([np.asarray(b["label"])[np.asarray(b["mask"])] for b in batches])
  np.testing.assert_array_equal(labels, ev.labels)
  assert ev.num_examples == 40 and len(ev.file_names) == 40
  assert batches[-1]["image"].sharding.spec == P("data")
  white = (1.0 - np.array(augment.IMAGENET_MEAN)) / np.array(augment.IMAGENET_STD)
  np.testing.assert_allclose(np.asarray(batches[0]["image"])[0, 0, 0], white, rtol=1e-5)


def test_stratified_holdout_is_seeded_and_per_class():
  labels = _imbalanced_labels()
  held = sources.stratified_holdout(labels, 0.2, seed=0)
  np.testing.assert_array_equal(held, sources.stratified_holdout(labels, 0.2, seed=0))
  assert not np.array_equal(held, sources.stratified_holdout(labels, 0.2, seed=1))
  per_class = np.bincount(labels[held], minlength=20)
  np.testing.assert_array_equal(per_class, [max(1, round(0.2 * n)) for n in np.bincount(labels)])


def test_synthetic_train_validation_split_and_cleaned_manifest(tmp_path):
  manifest = tmp_path / "clean.csv"
  manifest.write_text(
    "file_name,keep,reason\nsynthetic_000000.png,false,near-duplicate\nsynthetic_000001.png,true,\n"
  )
  c = _config(name="synthetic", synthetic_num_examples=100, cleaned_manifest=str(manifest))
  train = pipeline.load_arrays(c, "train")
  val = pipeline.load_arrays(c, "validation")
  assert len(train) + len(val) == 99
  assert not set(train.file_names) & set(val.file_names)
  assert "synthetic_000000.png" not in set(train.file_names) | set(val.file_names)
  manifest.write_text("file_name,keep,reason\nx.png,maybe,\n")
  with pytest.raises(ValueError, match="line 2"):
    pipeline.load_arrays(c, "train")
