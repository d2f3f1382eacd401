"""Streaming mode (grain workers over a random-access source) and the TFDS builder path."""

import pathlib

import jax
import numpy as np
import pytest
from jax.sharding import Mesh

from abstract_cls.data import config as config_lib
from abstract_cls.data import pipeline, sources
from abstract_cls.data.builders.abstract_icons import abstract_icons_dataset_builder as icons_lib

SIZE = 16
BATCH = 16


@pytest.fixture(scope="module")
def records():
  return sources.synthetic_source(64, image_size=24, seed=1)


@pytest.fixture(scope="module")
def mesh():
  return Mesh(np.array(jax.devices()), ("data",))


def _config(**overrides):
  c = config_lib.data_config()
  c.image_size = SIZE
  c.mode = "streaming"
  for k, v in overrides.items():
    setattr(c, k, v)
  return c


def test_streaming_is_deterministic_resumable_and_worker_count_free(records, mesh):
  c = _config(num_workers=2)
  uninterrupted = pipeline.make_train_input(c, "train", mesh, 5, BATCH, source=records)
  assert uninterrupted.device_data == {} and uninterrupted.mode == "streaming"
  steps = 6  # One and a half epochs of 4 steps.
  full = [uninterrupted.host_batch(s) for s in range(steps)]
  uninterrupted.close()
  resumed = pipeline.make_train_input(c, "train", mesh, 5, BATCH, source=records)
  tail = [resumed.host_batch(s) for s in range(3, steps)]
  resumed.close()
  in_process = pipeline.make_train_input(
    _config(num_workers=0), "train", mesh, 5, BATCH, source=records
  )
  for s in range(steps):
    expected = in_process.host_batch(s)
    assert all(np.array_equal(full[s][k], expected[k]) for k in expected)
  for a, b in zip(full[3:], tail):
    assert all(np.array_equal(a[k], b[k]) for k in a)
  assert full[0]["image"].shape == (BATCH, SIZE, SIZE, 3) and full[0]["image"].dtype == np.uint8
  epoch = np.concatenate([b["label"] for b in full[:4]])
  np.testing.assert_array_equal(np.sort(epoch), np.sort([r["label"] for r in records]))


def test_streaming_batch_goes_through_device_augmentation(records, mesh):
  train_input = pipeline.make_train_input(
    _config(num_workers=0), "train", mesh, 0, BATCH, source=records
  )
  host = jax.device_put(train_input.host_batch(0), train_input.batch_sharding)
  b = jax.jit(train_input.batch)(train_input.device_data, host, 0, jax.random.key(0))
  assert b["image"].shape == (BATCH, SIZE, SIZE, 3)
  assert len(b["image"].sharding.device_set) == 8
  np.testing.assert_array_equal(b["label"], train_input.host_batch(0)["label"])


def test_streaming_eval_matches_in_memory(records, mesh):
  streamed = pipeline.make_eval_input(_config(num_workers=1), "test", mesh, 24, source=records)
  in_memory = pipeline.make_eval_input(_config(mode="in_memory"), "test", mesh, 24, source=records)
  for a, b in zip(streamed.batches(), in_memory.batches(), strict=True):
    for k in a:
      np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))


def test_auto_mode_streams_when_over_budget(records, mesh):
  c = _config(mode="auto", memory_budget_mb=0)
  assert pipeline.make_train_input(c, "train", mesh, 0, BATCH, source=records).mode == "streaming"
  c.memory_budget_mb = 1
  assert pipeline.make_train_input(c, "train", mesh, 0, BATCH, source=records).mode == "in_memory"


def test_tfds_builder_in_memory_and_streaming(tmp_path, mesh):
  c = _config(mode="in_memory", data_dir=str(tmp_path), num_workers=1)
  c.builder_options.archive_dir = str(pathlib.Path(icons_lib.__file__).parent / "dummy_data")
  arrays = pipeline.load_arrays(c, "train")
  assert arrays.images.shape[1:] == (SIZE, SIZE, 3) and len(arrays) >= 2
  cached = list((tmp_path / "_abstract_cls_array_cache").iterdir())
  assert len(cached) == 1
  again = pipeline.load_arrays(c, "train")  # Read back from the cache.
  for field in ("images", "labels", "domains", "file_names", "l3_objects"):
    np.testing.assert_array_equal(getattr(again, field), getattr(arrays, field))
  manifest = tmp_path / "clean.csv"
  manifest.write_text(f"file_name,keep,reason\n{arrays.file_names[0]},0,duplicate_of: x\n")
  c.cleaned_manifest = str(manifest)
  cleaned = pipeline.load_arrays(c, "train")  # New key: decoded again, one file fewer.
  assert list(cleaned.file_names) == list(arrays.file_names[1:])
  c.cleaned_manifest = ""
  assert all(name.startswith("train/") for name in arrays.file_names)
  c.mode = "streaming"
  ev = pipeline.make_eval_input(c, "train", mesh, 8)
  batch = next(ev.batches())
  np.testing.assert_array_equal(np.asarray(batch["label"])[: len(arrays)], arrays.labels)
  official = pipeline.load_arrays(c, "validation", official_protocol=True)
  assert official.images.shape[1:] == (224, 224, 3)
