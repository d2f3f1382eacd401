"""Training logs: metrics.jsonl, layer_grad_norms.jsonl, TensorBoard events, a progress bar.

Only the primary process writes; the others get a writer that does nothing, so the loop
calls it unconditionally. TensorBoard files come from tensorboardX (no TensorFlow). A run
killed while appending leaves a partial last line; the next run drops it before appending.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import tqdm


def _drop_partial_line(path: str) -> None:
  """Truncates a JSON-lines file after its last complete line."""
  if not os.path.exists(path):
    return
  with open(path, "rb+") as f:
    data = f.read()
    if data and not data.endswith(b"\n"):
      f.truncate(data.rfind(b"\n") + 1)


def _plain(value):
  """JSON-safe copy: numpy scalars and arrays become Python numbers and lists."""
  if isinstance(value, dict):
    return {str(k): _plain(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_plain(v) for v in value]
  if isinstance(value, np.ndarray):
    return value.tolist()
  if isinstance(value, np.generic):
    return value.item()
  return value


class MetricsWriter:
  """Appends rows to the workdir's JSON-lines files and mirrors scalars to TensorBoard."""

  def __init__(
    self,
    workdir: str,
    *,
    enabled: bool,
    total_steps: int,
    initial_step: int,
    progress_bar: bool = True,
  ):
    self._enabled = enabled
    self._tb = None
    self._bar = None
    if not enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    self._metrics_path = os.path.join(workdir, "metrics.jsonl")
    self._layers_path = os.path.join(workdir, "layer_grad_norms.jsonl")
    for path in (self._metrics_path, self._layers_path):
      _drop_partial_line(path)
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top

    self._tb = SummaryWriter(logdir=os.path.join(workdir, "tensorboard"))
    if progress_bar:
      self._bar = tqdm.tqdm(
        total=total_steps,
        initial=initial_step,
        unit="step",
        dynamic_ncols=True,
        file=sys.stderr,
        smoothing=0.1,
      )

  def _append(self, path: str, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
      f.write(json.dumps(_plain(row)) + "\n")

  def write_train(self, row: dict) -> None:
    """row: step, epoch, loss, accuracy, lr, grad_norm, param_norm, update_norm, images_per_s."""
    if not self._enabled:
      return
    self._append(self._metrics_path, row)
    for key, value in row.items():
      if key not in ("step", "epoch"):
        self._tb.add_scalar(f"train/{key}", value, row["step"])
    if self._bar is not None:
      self._bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['accuracy']:.3f}", refresh=False)

  def write_eval(self, step: int, epoch: float, split: str, metrics: dict) -> None:
    if not self._enabled:
      return
    self._append(self._metrics_path, {"step": step, "epoch": epoch, "eval": {split: metrics}})
    for key in ("accuracy", "macro_f1", "loss"):
      if key in metrics:
        self._tb.add_scalar(f"eval_{split}/{key}", metrics[key], step)
    for domain, values in metrics.get("per_domain", {}).items():
      self._tb.add_scalar(f"eval_{split}/accuracy_{domain}", values["accuracy"], step)
    self.message(
      f"step {step} eval[{split}]: accuracy {metrics['accuracy']:.4f} "
      f"macro-F1 {metrics['macro_f1']:.4f}"
    )

  def write_layer_norms(self, step: int, named_norms: list) -> None:
    if not self._enabled:
      return
    self._append(self._layers_path, {"step": step, "layers": named_norms})
    for name, norm in named_norms:
      self._tb.add_scalar(f"layer_grad_norm/{name}", norm, step)

  def advance(self, steps: int) -> None:
    if self._bar is not None:
      self._bar.update(steps)

  def message(self, text: str) -> None:
    if not self._enabled:
      return
    if self._bar is not None:
      self._bar.write(text, file=sys.stderr)
    else:
      print(text, file=sys.stderr, flush=True)

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
    if self._tb is not None:
      self._tb.close()
