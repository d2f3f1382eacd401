"""index.md of an inspect run: every figure under its numbered heading, and the layer table."""

from __future__ import annotations

from abstract_cls.diagnostics import output_size


def markdown(summary: dict, checks) -> str:
  """The page for inspect_model's summary; checks: output_size.check_trace's rows."""
  a = summary["artefacts"]
  lines = [f"# Inspect: {summary['title']}", ""]
  if summary.get("command"):
    lines.extend([f"Made by `{summary['command']}` ({summary['backend']}).", ""])
  lines.extend(
    [
      f"{summary['num_examples']} examples, accuracy {summary['accuracy']:.3f}; by domain: "
      + ", ".join(f"{d.lower()} {acc:.3f}" for d, acc in summary["per_domain_accuracy"].items())
      + ".",
      "",
    ]
  )

  def figure(key, heading, text):
    if key in a:
      lines.extend(
        [f"## {heading}", ""] + ([text, ""] if text else []) + [f"![{key}]({a[key]})", ""]
      )

  figure(
    "filters",
    "1. First-layer filters",
    "Each filter min-max normalised on its own (Krizhevsky et al. 2012, Fig. 3 layout).",
  )
  figure(
    "feature_maps",
    "2. Feature maps",
    "Strongest channels of the chosen layers for a few images per domain; each column "
    "title gives K, S, P and the output size O = floor((I - K + 2P) / S) + 1.",
  )
  bad = sum(not c.ok for c in checks)
  lines.extend(
    [
      f"Output-size rule on all {len(checks)} conv/pool layers: "
      + ("all match." if not bad else f"**{bad} mismatch(es)**."),
      "",
      output_size.markdown_table(checks),
    ]
  )
  figure("shape_profile", "Map size through depth", "Height (log2) and channels per layer.")
  figure(
    "saliency",
    "3. Saliency",
    f"Grad-CAM on the last conv feature map {tuple(summary['last_feature_map'][1:])} and "
    "plain input gradients.",
  )
  figure("errors_by_class", "4. Most confident mistakes per class", "")
  figure("errors_by_domain", "Most confident mistakes per domain", "")
  figure("confusion_by_domain", "Confusion matrix by domain", "Row-normalised; cells give counts.")
  silhouette = summary["domain_silhouette"]
  note = (
    ""
    if silhouette is None
    else f"Domain silhouette of the embeddings (Euclidean): {silhouette:.3f} "
    "(near 0: domains mixed; towards 1: domains form their own clusters)."
  )
  for n, key in enumerate(k for k in a if k.startswith("embedding_")):
    figure(key, f"5. Embedding map ({key.split('_', 1)[1]})", "" if n else note)
  figure("training_curves", "6. Training curves", "From metrics.jsonl and layer_grad_norms.jsonl.")
  return "\n".join(lines) + "\n"
