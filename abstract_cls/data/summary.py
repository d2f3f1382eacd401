r"""Summary of a prepared dataset: counts per split x class x domain, sizes, imbalance.

  python -m abstract_cls.data.summary --dataset=abstract_icons --out=/tmp/summary
  python -m abstract_cls.data.summary --dataset=dcc2022 --manual_dir=/data/dcc2022 \
      --data_dir=/data/tfds

Prepares the dataset first if needed (same arguments as builders.prepare). Prints the
tables, writes summary.json and a bar chart (classes x domains, one panel per split)
to --out. Image sizes are those stored (after any prepare-time downscaling), read from
the PNG headers without decoding.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

import numpy as np
from absl import app, flags
from absl import logging as absl_logging

from abstract_cls import taxonomy

_DATASET = flags.DEFINE_string(
  "dataset", "abstract_icons", "abstract_icons | dcc2022 | aihub_abstract"
)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS's)")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "manual dir (dcc2022, aihub_abstract)")
_OUT = flags.DEFINE_string("out", None, "where to write summary.json and the chart (default: none)")
_STORED_SHORT_SIDE = flags.DEFINE_integer(
  "stored_short_side", None, "builder option (dcc2022, aihub_abstract)"
)
_CROP_TO_BBOX = flags.DEFINE_bool("crop_to_bbox", None, "builder option (aihub_abstract)")
_ARCHIVE_DIR = flags.DEFINE_string("archive_dir", None, "builder option (abstract_icons)")


def png_size(data: bytes) -> tuple[int, int]:
  """(width, height) from a PNG's IHDR chunk."""
  if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
    raise ValueError("not a PNG")
  return struct.unpack(">II", data[16:24])


def split_summary(records) -> dict[str, Any]:
  """Counts [class, domain] and stored sizes of one split (records with undecoded images)."""
  counts = np.zeros((taxonomy.NUM_CLASSES, len(taxonomy.DOMAINS)), np.int64)
  sizes = []
  for record in records:
    counts[int(record["label"]), int(record["domain"])] += 1
    sizes.append(png_size(record["image"]))
  sizes = np.asarray(sizes, np.int64).reshape(-1, 2)
  per_class = counts.sum(axis=1)
  present = per_class[per_class > 0]
  stats = {}
  for axis, name in ((0, "width"), (1, "height")):
    values = sizes[:, axis]
    stats[name] = (
      {
        "min": int(values.min()),
        "median": float(np.median(values)),
        "mean": float(values.mean()),
        "max": int(values.max()),
      }
      if len(values)
      else {}
    )
  return {
    "num_examples": int(counts.sum()),
    "counts": counts.tolist(),  # [class index][domain index]
    "per_class": dict(zip(taxonomy.class_codes(), per_class.tolist())),
    "per_domain": dict(zip(taxonomy.DOMAINS, counts.sum(axis=0).tolist())),
    "missing_classes": [c for c, n in zip(taxonomy.class_codes(), per_class) if n == 0],
    # max/min over classes that have examples; missing classes are listed separately.
    "imbalance_ratio": float(present.max() / present.min()) if len(present) else None,
    "image_size": stats,
  }


def summarize(builder) -> dict[str, Any]:
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

  out = {
    "dataset": builder.name,
    "config": builder.builder_config.name if builder.builder_config else None,
    "data_dir": os.fspath(builder.data_dir),
    "splits": {},
  }
  for split in builder.info.splits:
    source = builder.as_data_source(split, decoders={"image": tfds.decode.SkipDecoding()})
    out["splits"][split] = split_summary(source[i] for i in range(len(source)))
  return out


def format_tables(summary: dict[str, Any]) -> str:
  lines = [f"{summary['dataset']} ({summary['config'] or 'default'}) in {summary['data_dir']}"]
  # Only the domains this dataset has (dcc2022 is all UNKNOWN, abstract_icons never).
  used = {d for s in summary["splits"].values() for d, n in s["per_domain"].items() if n}
  domains = [d for d in taxonomy.DOMAINS if d in used]
  for split, s in summary["splits"].items():
    ratio = s["imbalance_ratio"]
    lines += [
      "",
      f"== {split}: {s['num_examples']} images, imbalance max/min {ratio:.2f}"
      if ratio
      else f"== {split}: empty",
      f"{'class':7s} {'name':34s} "
      + " ".join(f"{d[:12]:>12s}" for d in domains)
      + f" {'total':>7s}",
    ]
    for info, row in zip(taxonomy.classes(), s["counts"]):
      lines.append(
        f"{info.code:7s} {info.name[:34]:34s} "
        + " ".join(f"{row[taxonomy.DOMAIN_INDEX[d]]:12d}" for d in domains)
        + f" {sum(row):7d}"
      )
    lines.append(
      f"{'total':42s} "
      + " ".join(f"{s['per_domain'][d]:12d}" for d in domains)
      + f" {s['num_examples']:7d}"
    )
    if s["missing_classes"]:
      lines.append(f"missing classes: {', '.join(s['missing_classes'])}")
    for name, st in s["image_size"].items():
      if st:
        lines.append(
          f"stored {name}: min {st['min']}, median {st['median']:.0f}, "
          f"mean {st['mean']:.1f}, max {st['max']}"
        )
  return "\n".join(lines)


def plot(summary: dict[str, Any], path: str) -> None:
  import matplotlib  # pylint: disable=import-outside-toplevel

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  splits = list(summary["splits"])
  codes = taxonomy.class_codes()
  fig, axes = plt.subplots(len(splits), 1, figsize=(13, 3.4 * len(splits) + 0.6), squeeze=False)
  colours = ("#4c72b0", "#dd8452", "#55a868", "#8c8c8c")
  x = np.arange(len(codes))
  for ax, split in zip(axes[:, 0], splits):
    counts = np.asarray(summary["splits"][split]["counts"])
    bottom = np.zeros(len(codes))
    for d, (domain, colour) in enumerate(zip(taxonomy.DOMAINS, colours)):
      if counts[:, d].any():
        ax.bar(x, counts[:, d], bottom=bottom, color=colour, label=domain.lower())
        bottom += counts[:, d]
    s = summary["splits"][split]
    ratio = f", imbalance {s['imbalance_ratio']:.1f}x" if s["imbalance_ratio"] else ""
    ax.set_title(f"{split}: {s['num_examples']} images{ratio}", fontsize=10, loc="left")
    ax.set_xticks(
      x,
      [f"{c} {info.name[:16]}" for c, info in zip(codes, taxonomy.classes())],
      fontsize=7,
      rotation=35,
      ha="right",
      rotation_mode="anchor",
    )
    for xi, total in zip(x, bottom):
      ax.text(xi, total, f"{int(total)}", ha="center", va="bottom", fontsize=6)
    ax.set_ylabel("images")
    ax.margins(y=0.12)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
  fig.suptitle(
    f"{summary['dataset']} ({summary['config'] or 'default'}): images per class and domain",
    fontsize=11,
  )
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def main(argv: list[str]) -> None:
  del argv
  absl_logging.set_verbosity(absl_logging.WARNING)  # TFDS logs every shard at INFO
  from abstract_cls.data import builders  # pylint: disable=import-outside-toplevel

  options = {
    k: v
    for k, v in (
      ("stored_short_side", _STORED_SHORT_SIDE.value),
      ("crop_to_bbox", _CROP_TO_BBOX.value),
      ("archive_dir", _ARCHIVE_DIR.value),
    )
    if v is not None
  }
  builder = builders.prepare(_DATASET.value, _DATA_DIR.value, _MANUAL_DIR.value, **options)
  summary = summarize(builder)
  report = builders.read_report(builder.data_dir) or {}
  summary["prepare_report"] = {
    k: report.get(k) for k in ("kept", "skipped_by_reason", "fixed_by_what")
  }
  text = format_tables(summary)
  text += (
    f"\n\nprepare report: kept {report.get('kept')}, skipped "
    f"{len(report.get('skipped', []))} {report.get('skipped_by_reason', {})}, fixed "
    f"{len(report.get('fixed', []))} ({builder.data_dir}/prepare_report.json)"
  )
  print(text)
  if _OUT.value:
    os.makedirs(_OUT.value, exist_ok=True)
    stem = os.path.join(_OUT.value, f"summary_{summary['dataset']}")
    with open(stem + ".json", "w", encoding="utf-8") as f:
      json.dump(summary, f, indent=1)
    with open(stem + ".txt", "w", encoding="utf-8") as f:
      f.write(text + "\n")
    plot(summary, stem + ".png")
    print(f"wrote {stem}.json, .txt, .png")


if __name__ == "__main__":
  app.run(main)
