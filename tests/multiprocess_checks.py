"""Run by tests/test_distributed.py in two processes joined over localhost (not a test).

  python tests/multiprocess_checks.py OUT_DIR STARTUP_WORKDIR TRAINED_WORKDIR

Records what this process decodes while building training and evaluation input (in memory
and streaming) and the batches it sees, starts a checkpoint manager on a workdir holding an
unreadable step (process 1 late, after process 0 moved it), and runs --mode=eval's code
on a trained workdir. Writes OUT_DIR/process_<index>.json.
"""

import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from test_train_support import tiny_config  # noqa: E402

from abstract_cls.train import mesh as mesh_lib  # noqa: E402

mesh_lib.maybe_initialize_distributed()

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

from abstract_cls.data import pipeline, sources, streaming  # noqa: E402
from abstract_cls.train import checkpointing, evaluate  # noqa: E402

STEP = 3
_decoded = []
_decode_resized = sources.decode_resized


def _recording_decode(image, size, name=""):
  _decoded.append(name)
  return _decode_resized(image, size, name)


sources.decode_resized = _recording_decode  # the in-memory, streaming and eval readers call it
_read_positions = []
_read_at = streaming._ReadDecodeAt.__call__


def _recording_read_at(self, position):
  # (step, row of the global batch): file names repeat when the sampler draws a file twice
  step, j = divmod(int(position), self.rows)
  _read_positions.append((step, self.first_row + j))
  return _read_at(self, position)


streaming._ReadDecodeAt.__call__ = _recording_read_at


def rows_read_for(step: int) -> list[int]:
  """Global-batch rows this process decoded for `step` (grain reads ahead into later steps)."""
  return sorted(row for s, row in _read_positions if s == step)


def decoded_since_last() -> list[str]:
  names = sorted(_decoded)
  _decoded.clear()
  return names


def gathered(batch: dict) -> dict:
  return {
    k: np.asarray(multihost_utils.process_allgather(v, tiled=True)).tolist()
    for k, v in batch.items()
  }


def input_checks(config, mesh) -> dict:
  out = {}
  build = jax.jit(pipeline.build_batch, static_argnums=0)
  key = jax.random.fold_in(jax.random.key(0), STEP)
  in_memory = pipeline.make_train_input(config.data, "train", mesh, 0, config.train.batch_size)
  out["train_in_memory"] = decoded_since_last()
  batch = build(in_memory.spec, in_memory.device_data, {}, STEP, key)
  out["in_memory_batch"] = gathered({"label": batch["label"], "image": batch["image"]})
  streaming_config = config.data.copy_and_resolve_references()
  streaming_config.mode, streaming_config.num_workers = "streaming", 0
  # The eval readers first: the training stream reads ahead in grain's threads after this.
  for name, data_config in (("eval_in_memory", config.data), ("eval_streaming", streaming_config)):
    eval_input = pipeline.make_eval_input(data_config, "validation", mesh, config.eval.batch_size)
    labels = []
    for b in eval_input.batches():
      mask = np.asarray(multihost_utils.process_allgather(b["mask"], tiled=True))
      labels += np.asarray(multihost_utils.process_allgather(b["label"], tiled=True))[mask].tolist()
    out[name] = decoded_since_last()
    out[name + "_labels"] = labels
  stream = pipeline.make_train_input(streaming_config, "train", mesh, 0, config.train.batch_size)
  host = stream.global_host_batch(STEP)
  out["streaming_step"] = rows_read_for(STEP)
  out["streaming_batch"] = gathered({"label": host["label"], "image": host["image"]})
  stream.close()
  return out


def startup_with_unreadable_step(workdir: str) -> list[str]:
  if jax.process_index() == 1:
    time.sleep(3)  # scans the folder after process 0 has moved the unreadable step
  checkpointing.make_manager(workdir).close()
  multihost_utils.sync_global_devices("after start-up")
  return sorted(os.listdir(checkpointing.checkpoint_dir(workdir)))


def main(out_dir: str, startup_workdir: str, trained_workdir: str) -> None:
  config = tiny_config(train=dict(num_devices=0))
  mesh = mesh_lib.make_mesh(0)
  result = input_checks(config, mesh)
  result["startup_steps"] = startup_with_unreadable_step(startup_workdir)
  config.eval.checkpoint = "latest"
  metrics = evaluate.run_eval(config, trained_workdir)
  result["eval"] = {
    k: np.asarray(metrics[k]).tolist() for k in ("accuracy", "macro_f1", "confusion")
  }
  path = os.path.join(out_dir, f"process_{jax.process_index()}.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(result, f)


if __name__ == "__main__":
  main(*sys.argv[1:4])
