"""Audit a data set: near-duplicates, photos among drawings, split leakage, class x domain counts.

  python -m abstract_cls.audit --dataset=abstract_icons --out=/tmp/audit
  python -m abstract_cls.audit --dataset=dcc2022 --manual_dir=DIR --out=/tmp/audit
  python -m abstract_cls.audit --folder=DIR [--split=train] --out=/tmp/audit
  python -m abstract_cls.audit inject --folder=DIR --out=/tmp/injected   (contamination copy)

Writes audit.json, report.md (+ thumbnail PNGs) and cleaned_manifest.csv (file_name,keep,reason)
into --out; point config.data.cleaned_manifest at the manifest to train on the cleaned data.
"""

from __future__ import annotations

import pathlib
import sys

from absl import app, flags

from abstract_cls.audit import inject, report, runner, sources

EMBEDDED_DIR = pathlib.Path(__file__).resolve().parents[1] / "data" / "embedded"
DATASETS = ("abstract_icons", "dcc2022", "aihub_abstract")

_DATASET = flags.DEFINE_enum("dataset", None, DATASETS, "TFDS builder to audit.")
_FOLDER = flags.DEFINE_string(
  "folder",
  None,
  "Folder in the competition layout: L2_xx/ class folders, optionally under train/ valid/ test/.",
)
_SPLIT = flags.DEFINE_string("split", "", "Only this split (default: all).")
_OUT = flags.DEFINE_string("out", None, "Output directory.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data_dir (default: TFDS default).")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "Manual dir for dcc2022 / aihub_abstract.")
_VIA_TFDS = flags.DEFINE_bool(
  "via_tfds",
  False,
  "abstract_icons: read through the TFDS builder instead of the embedded "
  "archive (same file names, slower: prepares the builder first).",
)
_MODEL_WORKDIR = flags.DEFINE_string(
  "model_workdir",
  "",
  "Workdir of a model trained by this project; its embeddings replace "
  "the fixed features for near-duplicate search.",
)
_HASH_DISTANCE = flags.DEFINE_integer("hash_distance", None, "Max pHash Hamming distance.")
_SIMILARITY = flags.DEFINE_float("similarity", None, "Min cosine similarity of embeddings.")
_PHOTO_CUT = flags.DEFINE_float("photo_cut", None, "Photo score cut (default: suggested).")
_KEEP_PHOTOS = flags.DEFINE_bool("keep_photos", False, "List photo candidates, remove none.")
_NUM_DUPLICATES = flags.DEFINE_integer("num_duplicates", 200, "inject: copies to add.")
_NUM_PHOTOS = flags.DEFINE_integer("num_photos", 100, "inject: photo crops to add.")
_SEED = flags.DEFINE_integer("seed", 0, "inject: random seed.")


def open_source():
  if bool(_DATASET.value) == bool(_FOLDER.value):
    raise app.UsageError("give exactly one of --dataset or --folder")
  if _FOLDER.value:
    return sources.FolderSource(_FOLDER.value, split=_SPLIT.value)
  if _DATASET.value == "abstract_icons" and not _VIA_TFDS.value:
    return sources.EmbeddedSource(EMBEDDED_DIR, split=_SPLIT.value)
  return sources.TfdsSource(_DATASET.value, _DATA_DIR.value, _MANUAL_DIR.value, _SPLIT.value)


def main(argv):
  if not _OUT.value:
    raise app.UsageError("--out is required")
  command = argv[1:] or ["audit"]
  source = open_source()
  if command == ["inject"]:
    if not hasattr(source, "raw_bytes"):
      raise app.UsageError("inject needs --folder or --dataset=abstract_icons")
    truth = inject.inject(
      source,
      _OUT.value,
      inject.InjectOptions(
        num_duplicates=_NUM_DUPLICATES.value, num_photos=_NUM_PHOTOS.value, seed=_SEED.value
      ),
    )
    print(
      f"wrote {len(truth['originals'])} originals, {len(truth['duplicates'])} copies, "
      f"{len(truth['photos'])} photos and injected.json to {_OUT.value}"
    )
    return
  if command != ["audit"]:
    raise app.UsageError(f"unknown command {command}; use no command or 'inject'")
  options = runner.AuditOptions(
    similarity=_SIMILARITY.value,
    photo_cut=_PHOTO_CUT.value,
    remove_photos=not _KEEP_PHOTOS.value,
    model_workdir=_MODEL_WORKDIR.value,
  )
  if _HASH_DISTANCE.value is not None:
    options.hash_distance = _HASH_DISTANCE.value
  result = runner.run_audit(source, options)
  data = report.write_outputs(result, _OUT.value, source)
  print(
    f"{data['num_files']} files: {data['num_kept']} kept, removed {data['removed_by_reason']}"
    f"; {data['duplicates']['num_groups']} duplicate groups "
    f"({data['leakage']['num_groups_crossing_splits']} cross splits), "
    f"{data['photos']['num_candidates']} photo candidates. "
    f"Report: {pathlib.Path(_OUT.value) / 'report.md'}",
    file=sys.stderr,
  )


if __name__ == "__main__":
  app.run(main)
