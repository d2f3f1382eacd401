"""Gradients at initialisation: plain vs residual CIFAR nets, with and without batch norm.

Command: python -m experiments.gradients_at_init --preset=cpu
Measures (experiments.gradient_probes, on real embedded images at 32 px), for plain and
residual nets of several depths, with batch norm and without, under He, Glorot and naive
N(0, 0.01) initialisation (experiments.initialisation: kernels replaced after construction):
the RMS gradient of every weight layer, averaged over batches and seeds, and the correlation
of input gradients between neighbouring inputs (shattering). Then trains ResNet-56 without
normalisation for 10 epochs (cpu preset) from its default init, a zero-initialised residual branch and
a Fixup-style init, beside the batch-norm net, to show which deep unnormalised nets train.
Results: experiments/results/gradients_at_init/ (probes.json holds the measurements).
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import sys
import time

import numpy as np

from experiments import (
  cli,
  convergence,
  gradient_probes,
  gradients_at_init_findings,
  gradients_at_init_report,
  provenance,
  sweep,
)
from experiments import presets as presets_lib

STUDY = "gradients_at_init"
TITLE = "Gradients at initialisation"
CONFIG_FILE = "configs/default.py"
PROBES_FILE = "probes.json"
ARCHS = ("plain", "resnet")
NORMS = ("batch", "none")
SCHEMES = ("he", "glorot", "naive")
CRITERION = convergence.Completed()


@dataclasses.dataclass(frozen=True)
class ProbeSettings:
  """What the probes measure: nets, seeds, batches, lines of inputs."""

  data: str
  image_size: int
  depths: tuple[int, ...]
  seeds: tuple[int, ...]
  batches: int  # per seed, for the layer gradients
  batch_size: int
  lines: int  # per seed, for the input-gradient correlation
  line_points: int


# Probe settings and trained variants per preset, in one place.
PROBES = {
  "smoke": ProbeSettings("synthetic", 16, (8, 14), (0,), 1, 8, 1, 6),
  "cpu": ProbeSettings("abstract_icons", 32, (8, 20, 56, 110), (0, 1, 2), 2, 32, 4, 32),
  "gpu": ProbeSettings("abstract_icons", 32, (8, 20, 56, 110, 1202), (0, 1, 2, 3, 4), 4, 64, 8, 64),
}
TRAINED = {  # (model, epochs) of the short training runs
  "smoke": ("resnet20", 1.0),
  "cpu": ("resnet56", 10.0),
  "gpu": ("resnet110", 10.0),
}
# (variant name, norm, initialisation scheme); every one at the batch-norm learning rate 0.1.
TRAINED_VARIANTS = (
  ("none_default", "none", "default"),
  ("none_zero_branch", "none", "zero_branch"),
  ("none_fixup", "none", "fixup"),
  ("batch_default", "batch", "default"),
)

_TRAIN = {"train.log_every": 3, "loss.label_smoothing": 0.0, **presets_lib.HE_AUGMENT}
PRESETS = {
  "smoke": sweep.Preset(
    "smoke",
    "synthetic set, 16 px; probes at depths 8 and 14; resnet20 for 2 steps",
    presets_lib.SMOKE_SEEDS,
    presets_lib.SMOKE,
    split_alias=presets_lib.SMOKE_ALIAS,
  ),
  "cpu": sweep.Preset(
    "cpu",
    "abstract_icons, 32 px; probes at depths 8/20/56/110, 3 seeds x 2 batches of 32; "
    "resnet56 trained 10 epochs per init (flip + 4 px shift)",
    (0,),
    presets_lib.merged(presets_lib.CPU, _TRAIN, {"train.num_epochs": TRAINED["cpu"][1]}),
  ),
  "gpu": sweep.Preset(
    "gpu",
    "abstract_icons, 32 px; probes at depths 8-1202, 5 seeds x 4 batches of 64; "
    "resnet110 trained 10 epochs per init",
    (0, 1),
    presets_lib.merged(presets_lib.CPU, _TRAIN, {"train.num_epochs": TRAINED["gpu"][1]}),
  ),
}


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  model, _ = TRAINED[preset.name]
  size = preset.overrides["data.image_size"]
  return [
    sweep.Variant(
      f"{model}_{name}",
      {
        "model.name": model,
        "model.options": {"norm": norm, "input_size": size, "dtype": "float32"},
      },
      labels=dict(model=model, norm=norm, init=scheme),
      init=scheme,
    )
    for name, norm, scheme in TRAINED_VARIANTS
  ]


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  return [sweep.EvalSpec("test", ("test",))]


# ---------------------------------------------------------------------------------------------
# Probes.


def nets(settings: ProbeSettings) -> list[gradient_probes.Net]:
  """Shallow nets first, so a run cut short has every architecture at the small depths."""
  return [
    gradient_probes.Net(arch, depth, norm)
    for depth in settings.depths
    for arch in ARCHS
    for norm in NORMS
  ]


def _load_probes(path: pathlib.Path, settings: ProbeSettings) -> dict:
  wanted = dataclasses.asdict(settings)
  if path.exists():
    probes = json.loads(path.read_text())
    if probes.get("settings") == json.loads(json.dumps(wanted)):
      return probes
  return {"settings": wanted, "layer_rms": {}, "correlation": {}, "timing": {}}


def measure(preset: sweep.Preset, out_dir, log=print) -> dict:
  """Runs every probe not yet in OUT/probes.json (resumable per net); -> the probes."""
  from abstract_cls.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top

  mesh_lib.enable_compilation_cache("")
  settings = PROBES[preset.name]
  path = pathlib.Path(out_dir) / PROBES_FILE
  path.parent.mkdir(parents=True, exist_ok=True)
  probes = _load_probes(path, settings)
  per_seed = settings.batches * settings.batch_size + 2 * settings.lines
  images = None
  for net in nets(settings):
    if net.key in probes["timing"]:
      continue
    if images is None:
      count = per_seed * len(settings.seeds) + settings.batch_size
      images = gradient_probes.load_images(settings.data, settings.image_size, count)
    start = time.time()
    probe = gradient_probes.Probe(net, settings.image_size)
    for scheme in SCHEMES:
      probes["layer_rms"][f"{net.key}/{scheme}"] = _layer_rms(probe, scheme, settings, images)
    probes["correlation"][net.key] = _correlation(probe, settings, images)
    probes["timing"][net.key] = {
      "build_s": probe.build_s,
      "total_s": time.time() - start,
      "commit": provenance.git_commit(),
    }
    path.write_text(json.dumps(probes))
    log(f"[probe] {net.key}: {time.time() - start:.0f} s")
  return probes


def _seed_images(settings: ProbeSettings, images, k: int) -> tuple[np.ndarray, np.ndarray]:
  per_seed = settings.batches * settings.batch_size + 2 * settings.lines
  start = settings.batch_size + k * per_seed  # the first batch_size images: batch-norm reference
  return images.images[start : start + per_seed], images.labels[start : start + per_seed]


def _layer_rms(probe, scheme: str, settings: ProbeSettings, images) -> dict:
  """Per seed: geometric mean over batches of each layer's gradient RMS, and the mean loss."""
  per_seed, losses = [], []
  for k, seed in enumerate(settings.seeds):
    x, y = _seed_images(settings, images, k)
    params = probe.params(scheme, seed)
    logs, seed_losses = [], []
    for b in range(settings.batches):
      part = slice(b * settings.batch_size, (b + 1) * settings.batch_size)
      rms, loss = probe.layer_gradient_rms(params, x[part], y[part])
      logs.append(np.log10(np.maximum(rms, np.finfo(np.float64).tiny)))
      seed_losses.append(loss)
    per_seed.append([float(10**v) for v in np.mean(logs, axis=0)])
    losses.append(float(np.mean(seed_losses)))
  return {"layers": [name for name, _ in probe.layers], "per_seed": per_seed, "loss": losses}


def _correlation(probe, settings: ProbeSettings, images) -> dict:
  """Per seed (He init): mean input-gradient correlation at lags 1..P-1 over its lines."""
  reference = images.images[: settings.batch_size]
  per_seed = []
  for k, seed in enumerate(settings.seeds):
    x, y = _seed_images(settings, images, k)
    ends = x[settings.batches * settings.batch_size :]
    labels = y[settings.batches * settings.batch_size :]
    lines = [
      (ends[2 * i], ends[2 * i + 1], int(labels[2 * i]), settings.line_points)
      for i in range(settings.lines)
    ]
    params = probe.params("he", seed)
    per_seed.append(probe.input_gradient_correlation(params, reference, lines).tolist())
  return {"scheme": "he", "per_seed": per_seed}


def load_probes(out_dir) -> dict:
  path = pathlib.Path(out_dir) / PROBES_FILE
  if not path.exists():
    return {"settings": {}, "layer_rms": {}, "correlation": {}, "timing": {}}
  return json.loads(path.read_text())


def report(runs, meta, out_dir) -> str:
  return gradients_at_init_report.body(load_probes(out_dir), runs, meta, out_dir)


def findings(runs, out_dir) -> list:
  return gradients_at_init_findings.findings(load_probes(out_dir), runs)


def key_figure(runs, out_dir) -> str:
  return gradients_at_init_findings.key_figure(load_probes(out_dir), runs)


def layer_scale_ratios(depth: int, scheme: str) -> list[float]:
  """log10 (std of `scheme` / He's std, sqrt(2 / fan_in)) of each weight layer of a CIFAR net
  of `depth`, input to output (convs, then the 64 -> 20 classifier)."""
  n = (depth - 2) // 6
  widths = [3, 16] + [16] * (2 * n) + [32] * (2 * n) + [64] * (2 * n)
  shapes = [(9 * a, 9 * b) for a, b in zip(widths[:-1], widths[1:])] + [(64, 20)]
  out = []
  for fan_in, fan_out in shapes:
    he = math.sqrt(2.0 / fan_in)
    std = {"he": he, "glorot": math.sqrt(2.0 / (fan_in + fan_out)), "naive": 0.01}[scheme]
    out.append(math.log10(std / he))
  return out


def predicted_level_offset(depth: int, scheme: str) -> float:
  """Median over layers of the log10 factor `scheme` puts on each weight gradient of a plain
  ReLU net without normalisation, relative to He init (He et al. 2015's variance argument:
  layer l's gradient is its input, scaled by every layer below, times the backward signal,
  scaled by every layer above, so by every layer's std ratio but its own)."""
  ratios = layer_scale_ratios(depth, scheme)
  total = sum(ratios)
  return float(np.median([total - r for r in ratios]))


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
