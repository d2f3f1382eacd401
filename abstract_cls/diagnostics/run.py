"""run_inspect(config, workdir): every diagnostic figure of a checkpoint into WORKDIR/inspect/.

Artefacts (PNG unless noted): filters, feature_maps, shape_profile, saliency,
errors_by_class, errors_by_domain, confusion_by_domain, embedding_<method>,
training_curves, index.md (the page with all of them and the layer table) and
summary.json (numbers behind the page, for tests and scripts).
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Iterable

import jax
import ml_collections
import numpy as np
from flax import nnx

from abstract_cls.diagnostics import collect as collect_lib
from abstract_cls.diagnostics import (
  curves,
  display,
  embedding,
  errors,
  feature_maps,
  filters,
  index_page,
  output_size,
  saliency,
)

SALIENCY_TARGETS = ("predicted", "true")


def inspect_config() -> ml_collections.ConfigDict:
  """Defaults; a run config may carry them as config.inspect (overridable with --config.inspect.*)."""
  c = ml_collections.ConfigDict()
  c.split = ""  # '' -> config.eval.split
  c.step = ""  # checkpoint: 'best' | 'latest' | a step number; '' -> config.eval.checkpoint
  c.out_dir = ""  # '' -> WORKDIR/inspect
  c.batch_size = 64
  c.max_examples = 2000  # cap on examples read from the split; 0 = all
  c.images_per_domain = 2  # feature maps and saliency
  c.layers = ()  # layer names for feature maps; () -> num_layers spread over depth
  c.num_layers = 4
  c.channels_per_layer = 16
  c.saliency_target = "predicted"  # 'predicted' | 'true': which class logit is explained
  c.mistakes_per_class = 3
  c.mistakes_per_domain = 8
  c.embedding_methods = ("pca", "tsne")
  c.max_embedding_points = 2000
  c.seed = 0
  return c


def _options(config, overrides=None) -> ml_collections.ConfigDict:
  """Defaults <- config.inspect (if the run config has it) <- overrides (e.g. --inspect.*)."""
  options = inspect_config()
  for given in (config.get("inspect") if config is not None else None, overrides):
    if not given:
      continue
    unknown = sorted(set(given.keys()) - set(options.keys()))
    if unknown:
      raise ValueError(f"unknown inspect options {unknown}; known: {sorted(options)}")
    options.update(given.to_dict() if hasattr(given, "to_dict") else dict(given))
  if options.saliency_target not in SALIENCY_TARGETS:
    raise ValueError(
      f"inspect.saliency_target must be one of {SALIENCY_TARGETS}, got {options.saliency_target!r}"
    )
  for method in options.embedding_methods:
    if method not in embedding.METHODS:
      raise ValueError(f"inspect.embedding_methods: unknown {method!r}; known: {embedding.METHODS}")
  return options


def _read_logs(workdir: pathlib.Path) -> tuple[list[dict], list[dict]]:
  metrics = workdir / "metrics.jsonl"
  layers = workdir / "layer_grad_norms.jsonl"
  return (
    curves.read_jsonl(metrics) if metrics.is_file() else [],
    curves.read_jsonl(layers) if layers.is_file() else [],
  )


class _Figures:
  """Where the figures go and under which title, and the seconds and file of each finished step."""

  def __init__(self, out: pathlib.Path, title: str, options):
    self.out, self.title, self.options = out, title, options
    self.timings, self.artefacts = {}, {}
    self.clock = time.perf_counter()

  def done(self, name, path=None):
    """Records a written figure (path) or a finished step (no path) and its seconds."""
    if path is not None:
      self.artefacts[name] = pathlib.Path(path).name
    self.timings[name] = round(time.perf_counter() - self.clock, 2)
    self.clock = time.perf_counter()


def inspect_model(
  model: nnx.Module,
  batches: Iterable[dict],
  labels: np.ndarray,
  domains: np.ndarray,
  out_dir: str | pathlib.Path,
  options=None,
  *,
  title: str = "model",
  metrics_rows: list[dict] | None = None,
  layer_rows: list[dict] | None = None,
  command: str = "",
) -> dict:
  """Writes every figure + index.md for a model and evaluation batches; -> summary dict.

  batches: the pipeline's eval batches (image normalised, mask) in split order, labels /
  domains of the split. No checkpoint needed, so tests can call it directly.
  """
  options = options or inspect_config()
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  fig = _Figures(out, title, options)

  chosen = collect_lib.select_examples(
    labels, domains, options.images_per_domain, options.max_examples
  )
  data = collect_lib.collect(model, batches, labels, domains, chosen, options.max_examples)
  fig.done("predictions")
  inputs = data.chosen_inputs
  shown = display.to_display(inputs)
  row_titles = [
    f"{display.domain_name(data.domains[i]).lower()}\n{display.class_label(data.labels[i], 18)}"
    for i in chosen
  ]

  # The conv/pool outputs of the chosen images: their trace entries drive 1 and 2.
  outputs = feature_maps.layer_outputs(model, inputs)
  entries = [entry for entry, _ in outputs]
  _plot_filters(fig, model, entries, inputs)
  checks, names = _plot_feature_maps(fig, entries, outputs, shown, row_titles, inputs)
  fmap_shape = _plot_saliency(fig, model, data, chosen, inputs, shown)
  _plot_mistakes(fig, data)
  silhouette = _plot_embeddings(fig, data)
  if metrics_rows:
    _plot_training_curves(fig, metrics_rows, layer_rows)

  summary = _summary(fig, data, command, silhouette, names, fmap_shape, checks)
  (out / "index.md").write_text(index_page.markdown(summary, checks), encoding="utf-8")
  (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
  return summary


def _plot_filters(fig: _Figures, model, entries, inputs) -> None:
  """1. First-layer filters."""
  kernel = filters.first_layer_kernel(model, entries, in_channels=inputs.shape[-1])
  fig.done(
    "filters",
    filters.plot_filters(
      kernel,
      fig.out / "filters.png",
      title=f"{fig.title}: first-layer filters "
      f"{kernel.shape[3]} x {kernel.shape[0]}x{kernel.shape[1]}"
      f"x{kernel.shape[2]} (each normalised)",
    ),
  )


def _plot_feature_maps(fig: _Figures, entries, outputs, shown, row_titles, inputs):
  """2. Feature maps, with the output-size rule checked on every conv and pool.

  -> (the output-size checks, the layers shown).
  """
  options = fig.options
  checks = output_size.check_trace(entries)
  names = list(options.layers) or feature_maps.default_layers(entries, options.num_layers)
  fig.done(
    "feature_maps",
    feature_maps.plot_feature_maps(
      shown, outputs, names, row_titles, fig.out / "feature_maps.png", options.channels_per_layer
    ),
  )
  fig.done(
    "shape_profile",
    feature_maps.plot_shape_profile(
      checks,
      fig.out / "shape_profile.png",
      f"{fig.title}: feature-map size and channels through depth (input {inputs.shape[1]} px)",
    ),
  )
  return checks, names


def _plot_saliency(fig: _Figures, model, data, chosen, inputs, shown):
  """3. Saliency for the chosen examples; -> the shape of the map Grad-CAM used."""
  chosen_probs = data.probs[chosen]
  target = (
    chosen_probs.argmax(-1) if fig.options.saliency_target == "predicted" else data.labels[chosen]
  )
  cams, fmap_shape = saliency.grad_cam(model, inputs, target)
  grads = saliency.input_gradients(model, inputs, target)
  fig.done(
    "saliency",
    saliency.plot_saliency(
      shown,
      cams,
      grads,
      data.labels[chosen],
      chosen_probs,
      data.domains[chosen],
      fig.out / "saliency.png",
      fig.options.saliency_target,
      fmap_shape,
    ),
  )
  return fmap_shape


def _plot_mistakes(fig: _Figures, data) -> None:
  """4. Mistakes and confusion by domain."""
  options = fig.options
  images = data.thumbnails.astype(np.float32) / 255.0
  galleries = (  # (grouped by, group of each image, mistakes per group, what a group is, layout)
    ("class", data.labels, options.mistakes_per_class, "true class",
     dict(blocks_per_row=max(1, 12 // max(1, options.mistakes_per_class)))),
    ("domain", data.domains, options.mistakes_per_domain, "domain", {}),
  )  # fmt: skip
  for key, groups, per_group, what, layout in galleries:
    picked = errors.confident_mistakes(data.probs, data.labels, groups, per_group)
    path = fig.out / f"errors_by_{key}.png"
    caption = f"{fig.title}: most confident mistakes per {what}"
    fig.done(
      f"errors_by_{key}",
      errors.plot_error_gallery(
        images, data.probs, data.labels, data.domains, picked, key, path, caption, **layout
      ),
    )
  fig.done(
    "confusion_by_domain",
    errors.plot_confusion_by_domain(
      data.labels,
      data.preds,
      data.domains,
      fig.out / "confusion_by_domain.png",
      num_classes=data.probs.shape[1],
    ),
  )


def _plot_embeddings(fig: _Figures, data):
  """5. Embedding map; -> the domain silhouette of the embeddings shown."""
  options = fig.options
  rng = np.random.default_rng(options.seed)
  keep = np.arange(len(data.labels))
  if len(keep) > options.max_embedding_points > 0:
    keep = np.sort(rng.choice(keep, options.max_embedding_points, replace=False))
  silhouette = embedding.domain_silhouette(data.embeddings[keep], data.domains[keep])
  for method in options.embedding_methods:
    points, note = embedding.project(data.embeddings[keep], method, options.seed)
    fig.done(
      f"embedding_{method}",
      embedding.plot_embedding(
        points,
        data.labels[keep],
        data.domains[keep],
        fig.out / f"embedding_{method}.png",
        f"{fig.title}: model.embed features {data.embeddings.shape[1]}-d, {note}",
      ),
    )
  return silhouette


def _plot_training_curves(fig: _Figures, metrics_rows, layer_rows) -> None:
  """6. Training curves."""
  fig.done(
    "training_curves",
    curves.plot_training_curves(
      metrics_rows, fig.out / "training_curves.png", layer_rows, title=f"{fig.title}: training"
    ),
  )


def _summary(fig: _Figures, data, command, silhouette, names, fmap_shape, checks) -> dict:
  """The numbers behind index.md (written as summary.json)."""
  return dict(
    title=fig.title,
    command=command,
    backend=f"JAX {jax.default_backend()}, {jax.devices()[0].device_kind}",
    num_examples=int(len(data.labels)),
    accuracy=float((data.preds == data.labels).mean()),
    per_domain_accuracy={
      k: v[0] for k, v in errors.per_domain_accuracy(data.labels, data.preds, data.domains).items()
    },
    domain_silhouette=silhouette,
    feature_map_layers=names,
    last_feature_map=list(fmap_shape),
    layer_checks=[
      dict(
        name=c.name,
        kind=c.kind,
        input_hw=c.input_hw,
        kernel=c.kernel,
        stride=c.stride,
        padding=c.padding,
        expected_hw=c.expected_hw,
        actual_hw=c.actual_hw,
        ok=c.ok,
      )
      for c in checks
    ],
    artefacts=fig.artefacts,
    seconds=fig.timings,
  )


def run_inspect(
  config, workdir: str, *, split: str = "", step: str | int | None = None, options=None
) -> dict:
  """Restores WORKDIR's checkpoint and writes the figures into WORKDIR/inspect (or inspect.out_dir).

  config: the run config (e.g. from --config); None -> the checkpoint's own config. Data
  fields (data.*) come from it, so a moved dataset can be pointed at with --config.data.*.
  options: inspect_config() overrides, applied over config.inspect; split / step win
  over both when given.
  """
  from abstract_cls.data import pipeline  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import checkpointing  # pylint: disable=g-import-not-at-top
  from abstract_cls.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top

  options = _options(config, options)
  chosen_step = next((s for s in (step, options.step) if s not in (None, "")), None)
  if chosen_step is None:
    eval_config = config.get("eval") if config is not None else None
    chosen_step = eval_config.get("checkpoint", "best") if eval_config else "best"
  model, restored_config, restored_step = checkpointing.restore_for_inference(
    workdir, step=int(chosen_step) if str(chosen_step).isdigit() else chosen_step
  )
  config = config if config is not None else restored_config
  if (
    config is not restored_config
    and config.get("model") is not None
    and (config.model.name != restored_config.model.name)
  ):
    raise ValueError(
      f"{workdir}: checkpoint holds {restored_config.model.name!r} but the "
      f"config names {config.model.name!r}"
    )
  split = split or options.split or config.eval.split
  official = bool(config.eval.get("official_protocol", False))
  mesh = mesh_lib.make_mesh(1)  # the restored model lives on the first device
  eval_input = pipeline.make_eval_input(
    config.data, split, mesh, options.batch_size, official_protocol=official
  )
  workdir_path = pathlib.Path(workdir)
  metrics_rows, layer_rows = _read_logs(workdir_path)
  title = (
    f"{restored_config.model.name} step {restored_step}, "
    f"{config.data.name}/{split}{' (official protocol)' if official else ''}"
  )
  out = pathlib.Path(options.out_dir) if options.out_dir else workdir_path / "inspect"
  command = (
    f"python -m abstract_cls.diagnostics --workdir={workdir} --split={split} --step={restored_step}"
  )
  summary = inspect_model(
    model,
    eval_input.batches(),
    np.asarray(eval_input.labels),
    np.asarray(eval_input.domains),
    out,
    options,
    title=title,
    metrics_rows=metrics_rows,
    layer_rows=layer_rows,
    command=command,
  )
  summary.update(step=int(restored_step), split=split, out_dir=str(out))
  (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
  return summary
