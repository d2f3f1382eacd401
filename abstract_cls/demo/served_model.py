"""The checkpoint the demo serves: top classes and Grad-CAM for one image.

Probabilities come from the trainer's own eval step on the image preprocessed by
--mode=predict's `model_input`, so the demo and --mode=predict agree; the heat map is the
diagnostics' Grad-CAM of the top class.
"""

from __future__ import annotations

import dataclasses
import threading

import jax
import numpy as np

from abstract_cls.data import augment
from abstract_cls.data import pipeline as pipeline_lib
from abstract_cls.diagnostics import saliency
from abstract_cls.train import checkpointing
from abstract_cls.train import mesh as mesh_lib
from abstract_cls.train import predict as predict_lib
from abstract_cls.train import state as state_lib
from abstract_cls.train import step as step_lib

TOP_K = 5


@dataclasses.dataclass(frozen=True)
class Prediction:
  probs: np.ndarray  # float32 [num classes]
  top: tuple[int, ...]  # class indices, most probable first (TOP_K of them)
  cam: np.ndarray  # float32 [S, S] in [0, 1]: Grad-CAM of top[0]
  model_input: np.ndarray  # uint8 [S, S, 3]: the image as the network gets it


@dataclasses.dataclass(frozen=True)
class CheckpointInfo:
  workdir: str
  step: int
  model_name: str
  image_size: int
  validation: dict | None  # {'macro_f1', 'accuracy'} recorded when it was saved, if any
  flip_tta: bool  # probabilities averaged over the image and its mirror image

  def describe(self) -> str:
    scores = (
      f"validation macro-F1 {self.validation['macro_f1']:.3f}, "
      f"accuracy {self.validation['accuracy']:.3f}"
      if self.validation
      else "no validation score recorded"
    )
    return (
      f"{self.model_name} at {self.image_size} px, checkpoint step {self.step} of "
      f"{self.workdir} ({scores}){'; flip test-time augmentation' if self.flip_tta else ''}"
    )


def _validation_scores(workdir: str, step: int) -> dict | None:
  manager = checkpointing.make_manager(workdir, async_save=False, create=False)
  try:
    metrics = manager.metrics(step)
  finally:
    manager.close()
  if not metrics or "macro_f1" not in metrics:
    return None
  return {"macro_f1": float(metrics["macro_f1"]), "accuracy": float(metrics["accuracy"])}


class ServedModel:
  """A restored checkpoint (best by default) with the model and input settings it was
  trained with. Thread-safe: calls are serialised (one image is too small to share cores)."""

  def __init__(self, workdir: str, checkpoint="best"):
    model, config, step = checkpointing.restore_for_inference(workdir, checkpoint)
    self.config = config
    self.info = CheckpointInfo(
      workdir=workdir,
      step=int(step),
      model_name=str(config.model.name),
      image_size=pipeline_lib.OFFICIAL_CROP
      if config.eval.official_protocol
      else int(config.data.image_size),
      validation=_validation_scores(workdir, int(step)),
      flip_tta=bool(config.eval.get("flip_tta", False)),
    )
    graphs, params, rest = state_lib.split_model(model)
    mesh = mesh_lib.make_mesh(1)
    self._params, self._rest = jax.device_put((params, rest), mesh_lib.replicated(mesh))
    self._eval_step = step_lib.make_eval_step(graphs, mesh, self.info.flip_tta)
    self._grad_cam = saliency.make_grad_cam(graphs.eval)
    # As EvalInput.batches: uint8 on the device, then /255 and the mean/std normalisation.
    self._sharding = mesh_lib.batch_sharded(mesh)
    self._normalize = jax.jit(lambda x: augment.normalize(x / 255.0))
    self._lock = threading.Lock()
    blank = np.full((self.info.image_size,) * 2 + (3,), 255, np.uint8)
    self.predict(blank)  # compiles both programs now rather than on the first stroke

  def predict(self, image, name: str = "<image>") -> Prediction:
    """Encoded bytes or uint8 RGB [H, W, 3] -> Prediction.

    Raises abstract_cls.data.decode.ImageDecodeError for bytes that are not a readable image.
    """
    pixels = predict_lib.model_input(image, self.config, name=name)
    with self._lock:
      x = self._normalize(jax.device_put(pixels[None], self._sharding))
      out = self._eval_step(self._params, self._rest, x, np.zeros(1, np.int32))
      probs = np.asarray(out["prob"][0], np.float32)
      top = tuple(int(c) for c in np.argsort(-probs, kind="stable")[:TOP_K])
      cam = np.asarray(self._grad_cam(self._params, self._rest, x, np.array([top[0]], np.int32)))
    return Prediction(probs=probs, top=top, cam=cam[0], model_input=pixels)
