"""--mode=predict: top-k classes with probabilities for image files, written as CSV.

Images are decoded with the project's robust decoder (alpha on white, EXIF, odd modes) and
preprocessed exactly as for evaluation (config.data.image_size, or the official protocol
when config.eval.official_protocol). Unreadable files are skipped and listed.
"""

from __future__ import annotations

import csv
import os

import jax
import numpy as np

from abstract_cls import taxonomy
from abstract_cls.data import pipeline as pipeline_lib
from abstract_cls.data import sources
from abstract_cls.train import checkpointing
from abstract_cls.train import evaluate as evaluate_lib
from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train import step as step_lib
from abstract_cls.train.errors import ConfigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def list_images(inputs: list[str]) -> list[str]:
  """Files as given plus image files under given folders (sorted, recursive)."""
  files = []
  for item in inputs:
    if os.path.isdir(item):
      for root, _, names in sorted(os.walk(item)):
        files += [
          os.path.join(root, n) for n in sorted(names) if n.lower().endswith(IMAGE_SUFFIXES)
        ]
    elif os.path.isfile(item):
      files.append(item)
    else:
      raise ConfigError(f"--input {item!r} is neither a file nor a folder")
  if not files:
    raise ConfigError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in --input {inputs}")
  return files


def _decode(files: list[str], size: int, crop: int | None):
  images, kept, skipped = [], [], []
  for path in files:
    try:
      with open(path, "rb") as f:
        image = sources.decode_resized(f.read(), size, name=path)
    except Exception as e:  # pylint: disable=broad-except  # any unreadable file is skipped
      skipped.append((path, f"{type(e).__name__}: {e}"))
      continue
    if crop is not None:
      off = (size - crop) // 2
      image = image[off : off + crop, off : off + crop]
    images.append(image)
    kept.append(path)
  return images, kept, skipped


def run_predict(config, workdir: str, inputs: list[str], output: str = "") -> str:
  """Writes the CSV (file, then code/name/probability for ranks 1..top_k); returns its path."""
  files = list_images(inputs)
  model, _, step = checkpointing.restore_for_inference(workdir, config.eval.checkpoint)
  graphs, params, rest = state_lib.split_model(model)
  mesh = mesh_lib.make_mesh(1)
  official = bool(config.eval.official_protocol)
  size = pipeline_lib.OFFICIAL_RESIZE if official else config.data.image_size
  crop = pipeline_lib.OFFICIAL_CROP if official else None
  images, kept, skipped = _decode(files, size, crop)
  for path, reason in skipped:
    print(f"skipped {path}: {reason}")
  if not kept:
    raise ConfigError(f"none of the {len(files)} input images could be read")
  n = len(kept)
  arrays = pipeline_lib.SplitArrays(
    images=np.stack(images),
    labels=np.zeros(n, np.int32),
    domains=np.full(n, taxonomy.DOMAIN_INDEX["UNKNOWN"], np.int32),
    file_names=np.array(kept, dtype=str),
    l3_objects=np.array([""] * n, dtype=str),
  )
  eval_input = pipeline_lib.make_eval_input(
    config.data, "predict", mesh, config.eval.batch_size, official_protocol=official, arrays=arrays
  )
  params, rest = jax.device_put((params, rest), mesh_lib.replicated(mesh))
  out = evaluate_lib.predict_arrays(
    step_lib.make_eval_step(graphs, mesh, config.eval.flip_tta), params, rest, eval_input
  )
  top_k = max(1, min(config.eval.top_k, taxonomy.NUM_CLASSES))
  order = np.argsort(-out["prob"], axis=1, kind="stable")[:, :top_k]
  infos = taxonomy.classes()
  output = output or os.path.join(os.path.abspath(workdir), "predictions.csv")
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(output, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    header = ["file"]
    for rank in range(1, top_k + 1):
      header += [f"top{rank}_code", f"top{rank}_name", f"top{rank}_prob"]
    writer.writerow(header)
    for i, path in enumerate(kept):
      row = [path]
      for c in order[i]:
        row += [infos[c].code, infos[c].name, f"{out['prob'][i, c]:.6f}"]
      writer.writerow(row)
  print(
    f"Checkpoint step {step}: wrote {n} predictions to {output}"
    f"{f' ({len(skipped)} unreadable files skipped)' if skipped else ''}"
  )
  return output
