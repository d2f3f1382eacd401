"""Audit sources agree with the TFDS builders on file names (the cleaned-manifest key)."""

import pathlib

from abstract_cls.audit import runner, sources

DUMMY = (
  pathlib.Path(__file__).resolve().parents[1]
  / "abstract_cls/data/builders/abstract_icons/dummy_data"
)


def test_embedded_and_tfds_sources_use_the_same_file_names(tmp_path):
  embedded = sources.EmbeddedSource(DUMMY)
  tfds_source = sources.TfdsSource("abstract_icons", str(tmp_path), archive_dir=str(DUMMY))
  from_tfds = {(it.file_name, it.split, it.class_code, it.domain) for it in tfds_source.items}
  from_zip = {(it.file_name, it.split, it.class_code, it.domain) for it in embedded.items}
  # The builder drops files it cannot decode; the embedded reader keeps them for the audit to
  # report as unreadable (keep=0), so the zip side may only have those extra.
  assert from_tfds <= from_zip
  result = runner.run_audit(embedded, runner.AuditOptions(progress=False))
  unreadable = {embedded.items[i].file_name for i in result.collected.unreadable}
  assert {f[0] for f in from_zip - from_tfds} == unreadable
  assert all(result.reasons[i].startswith("unreadable") for i in result.collected.unreadable)
  first = tfds_source.items[0].file_name
  j = [it.file_name for it in embedded.items].index(first)
  assert (tfds_source.read(0).rgb == embedded.read(j).rgb).all()


def test_embedded_split_filter_and_audit_runs(tmp_path):
  source = sources.EmbeddedSource(DUMMY, split="train")
  assert source.items and all(it.split == "train" for it in source.items)
  result = runner.run_audit(source, runner.AuditOptions(progress=False))
  assert len(result.collected.index) + len(result.collected.unreadable) == len(source.items)
