"""dcc2022 and aihub_abstract: every bad-input case, exact kept/skipped/fixed, class order.

tfds.testing.DatasetBuilderTestCase needs TensorFlow (not installed); these pytest tests
prepare from manual dirs built in tmp_path and check split counts and prepare_report.json.
"""

import pathlib

import manual_fixtures
import numpy as np
import pytest

from abstract_cls import taxonomy
from abstract_cls.data import builders

# As in production (decode.py sets it; pytest resets warning filters per test).
pytestmark = pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
SIDE = 32  # small stored size keeps the test fast; the default is 256


def _records(builder, split):
  source = builder.as_data_source(split)
  return {r["file_name"].decode(): r for r in (source[i] for i in range(len(source)))}


def _check_report(builder, expected):
  assert builder.split_counts() == expected["kept"]
  report = builders.read_report(builder.data_dir)
  assert report["kept"] == sum(expected["kept"].values())
  assert {e["file"]: e["reason"] for e in report["skipped"]} == expected["skipped"]
  assert len(report["skipped"]) == len(expected["skipped"])  # each listed exactly once
  assert sorted(e["file"] for e in report["fixed"]) == expected["fixed"]
  return report


def test_dcc2022_split_layout_every_bad_input(tmp_path):
  expected = manual_fixtures.make_dcc2022(tmp_path / "manual")
  builder = builders.prepare(
    "dcc2022", tmp_path / "tfds", tmp_path / "manual", stored_short_side=SIDE
  )
  report = _check_report(builder, expected)
  assert builder.data_dir.endswith(f"dcc2022/s{SIDE}/1.0.0")
  fixes = {e["file"]: e["what"] for e in report["fixed"]}
  assert "CMYK -> RGB" in fixes["train/L2_3/cmykxxxxxxxxxxxxxxxx.jpg"]
  assert "EXIF orientation 6" in fixes["train/L2_10/exifxxxxxxxxxxxxxxxx.jpg"]
  train = _records(builder, "train")
  assert train["train/L2_10/largexxxxxxxxxxxxxxx.jpg"]["image"].shape == (SIDE, 48, 3)
  assert train["train/L2_10/exifxxxxxxxxxxxxxxxx.jpg"]["image"].shape == (40, 24, 3)
  rgba = train["train/L2_10/rgbaxxxxxxxxxxxxxxxx.png"]["image"]
  assert (rgba[0, 0] == 255).all() and (rgba[10, 0] == 0).all()  # transparent -> white
  assert all(r["domain"] == taxonomy.DOMAIN_INDEX["UNKNOWN"] for r in train.values())


def test_class_index_is_lexicographic_folder_order(tmp_path):
  manual_fixtures.make_dcc2022(tmp_path / "manual")
  builder = builders.prepare(
    "dcc2022", tmp_path / "tfds", tmp_path / "manual", stored_short_side=SIDE
  )
  labels = {name.split("/")[1]: int(r["label"]) for name, r in _records(builder, "train").items()}
  assert labels == {"L2_10": 0, "L2_3": 8, "L2_52": 19}
  assert builder.info.features["label"].names == sorted(taxonomy.class_codes())


def test_dcc2022_single_folder_layout_is_train_only(tmp_path):
  expected = manual_fixtures.make_dcc2022(tmp_path / "manual", split_layout=False)
  builder = builders.prepare(
    "dcc2022", tmp_path / "tfds", tmp_path / "manual", stored_short_side=SIDE
  )
  _check_report(builder, expected)


@pytest.mark.parametrize("make", ["missing", "wrong_layout"])
def test_dcc2022_bad_manual_dir_says_expected_layout(tmp_path, make):
  manual = tmp_path / "manual"
  if make == "wrong_layout":
    (manual / "photos").mkdir(parents=True)
    (manual / "list.csv").write_text("x\n")
  with pytest.raises(builders.ManualDirError, match="Expected layout:(.|\n)*L2_10"):
    builders.prepare("dcc2022", tmp_path / "tfds", manual)


def test_not_prepared_without_manual_dir_is_a_clear_error(tmp_path):
  with pytest.raises(builders.ManualDirError, match="needs manual_dir"):
    builders.prepare("aihub_abstract", tmp_path / "tfds")


def test_aihub_every_bad_input(tmp_path):
  expected = manual_fixtures.make_aihub(tmp_path / "manual")
  builder = builders.prepare(
    "aihub_abstract", tmp_path / "tfds", tmp_path / "manual", stored_short_side=SIDE
  )
  _check_report(builder, expected)
  train = _records(builder, "train")
  prefix = "1.Training/원천데이터/TS3/ABSTRACT_SKETCH/L1_6/"
  earrings = train[prefix + "L2_46/s_0816_1_1.jpg"]
  assert earrings["label"] == taxonomy.class_index("L2_46")
  assert earrings["l3_object"].decode() == "earrings"
  assert earrings["image"].shape == (32, 40, 3)  # not cropped by default
  horse = train[prefix + "flat/s_0554_6_1.jpg"]
  assert (horse["label"], horse["l3_object"].decode()) == (taxonomy.class_index("L2_33"), "horse")
  domains = {name.rsplit("/", 1)[1][0]: int(r["domain"]) for name, r in train.items()}
  assert domains == {"s": 0, "i": 1, "p": 2}
  (validation,) = _records(builder, "validation").values()
  assert validation["label"] == taxonomy.class_index("L2_3")


def test_aihub_crop_to_bbox(tmp_path):
  manual_fixtures.make_aihub(tmp_path / "manual")
  builder = builders.prepare(
    "aihub_abstract",
    tmp_path / "tfds",
    tmp_path / "manual",
    stored_short_side=SIDE,
    crop_to_bbox=True,
  )
  assert builder.data_dir.endswith(f"aihub_abstract/crop_s{SIDE}/1.0.0")
  train = _records(builder, "train")
  # abs_bbox "[2, 3, 20, 10]" on a 40x32 image -> 10 rows x 20 columns.
  image = train["1.Training/원천데이터/TS3/ABSTRACT_SKETCH/L1_6/L2_46/s_0816_1_1.jpg"]["image"]
  assert image.shape == (10, 20, 3)
  assert np.asarray(image).dtype == np.uint8


def test_reading_a_prepared_dataset_needs_no_manual_dir(tmp_path):
  manual_fixtures.make_dcc2022(tmp_path / "manual", split_layout=False)
  builders.prepare("dcc2022", tmp_path / "tfds", tmp_path / "manual", stored_short_side=SIDE)
  builder = builders.prepare("dcc2022", tmp_path / "tfds", stored_short_side=SIDE)
  assert builder.split_counts() == {"train": 12}


@pytest.mark.parametrize(
  "name, make",
  [("dcc2022", manual_fixtures.make_dcc2022), ("aihub_abstract", manual_fixtures.make_aihub)],
)
def test_committed_dummy_data_matches_the_fixture(tmp_path, name, make):
  """dummy_data/ was written by manual_fixtures; git drops empty folders, nothing else."""
  expected = make(tmp_path / "regenerated")
  expected["skipped"] = {f: r for f, r in expected["skipped"].items() if r != "empty class folder"}
  dummy = pathlib.Path(builders.BUILDERS[name].code_path).parent / "dummy_data"
  _check_report(builders.prepare(name, tmp_path / "tfds", dummy, stored_short_side=SIDE), expected)


def test_file_names_that_are_not_utf8_are_kept_with_escapes(tmp_path):
  import os  # pylint: disable=import-outside-toplevel

  import image_fixtures  # pylint: disable=import-outside-toplevel

  folder = tmp_path / "manual" / "L2_52"
  folder.mkdir(parents=True)
  # "가.png" in CP949, as an archive unpacked with the wrong code page leaves it.
  with open(os.path.join(os.fsencode(folder), b"\xb0\xa1.png"), "wb") as f:
    f.write(image_fixtures.rgb(20, 20))
  builder = builders.prepare(
    "dcc2022", tmp_path / "tfds", tmp_path / "manual", stored_short_side=SIDE
  )
  assert list(_records(builder, "train")) == ["L2_52/\\xb0\\xa1.png"]


def test_dcc2022_accepts_one_wrapper_folder(tmp_path):
  expected = manual_fixtures.make_dcc2022(tmp_path / "manual" / "DCC2022_data")
  builder = builders.prepare(
    "dcc2022", tmp_path / "tfds", tmp_path / "manual", stored_short_side=SIDE
  )
  assert builder.split_counts() == expected["kept"]
  assert all(name.startswith("DCC2022_data/train/") for name in _records(builder, "train"))


def test_split_without_a_usable_image_is_dropped_and_reported(tmp_path):
  import image_fixtures  # pylint: disable=import-outside-toplevel

  manual = tmp_path / "manual"
  (manual / "train" / "L2_10").mkdir(parents=True)
  (manual / "train" / "L2_10" / "a.png").write_bytes(image_fixtures.rgb())
  (manual / "valid" / "L2_10").mkdir(parents=True)
  (manual / "valid" / "L2_10" / "b.png").write_bytes(b"")
  builder = builders.prepare("dcc2022", tmp_path / "tfds", manual, stored_short_side=SIDE)
  assert builder.split_counts() == {"train": 1}
  report = builders.read_report(builder.data_dir)
  assert report["dropped_splits"] == ["validation"]
  assert report["skipped"] == [
    {"file": "valid/L2_10/b.png", "reason": "empty file", "detail": "0 bytes"}
  ]


def test_no_usable_image_at_all_is_one_clear_error(tmp_path):
  (tmp_path / "manual" / "L2_10").mkdir(parents=True)
  (tmp_path / "manual" / "L2_10" / "a.jpg").write_bytes(b"")
  with pytest.raises(ValueError, match="no usable image at all(.|\n)*L2_10/a.jpg: empty file"):
    builders.prepare("dcc2022", tmp_path / "tfds", tmp_path / "manual")


def test_aihub_bad_bboxes_keep_the_image_and_are_reported(tmp_path):
  import json  # pylint: disable=import-outside-toplevel

  import image_fixtures  # pylint: disable=import-outside-toplevel

  folder = tmp_path / "manual" / "1.Training" / "L2_46"
  folder.mkdir(parents=True)
  bboxes = {
    "s_0816_1_1": "[30, 20, 50, 50]",
    "s_0816_2_1": "[x, y]",
    "s_0816_3_1": "[100, 100, 10, 10]",
  }
  for stem, bbox in bboxes.items():
    (folder / f"{stem}.png").write_bytes(image_fixtures.rgb(40, 32))
    (folder / f"{stem}.json").write_text(
      json.dumps({"abstract_image": {"abs_domain": "SKETCH", "abs_bbox": bbox}})
    )
  builder = builders.prepare(
    "aihub_abstract", tmp_path / "tfds", tmp_path / "manual", crop_to_bbox=True
  )
  shapes = {
    name.rsplit("/", 1)[1]: r["image"].shape for name, r in _records(builder, "train").items()
  }
  assert shapes == {
    "s_0816_1_1.png": (12, 10, 3),
    "s_0816_2_1.png": (32, 40, 3),
    "s_0816_3_1.png": (32, 40, 3),
  }
  fixed = {
    e["file"].rsplit("/", 1)[1]: e["what"] for e in builders.read_report(builder.data_dir)["fixed"]
  }
  assert "clipped" in fixed["s_0816_1_1.png"]
  assert "malformed; whole image kept" in fixed["s_0816_2_1.png"]
  assert "outside" in fixed["s_0816_3_1.png"]


def test_plain_tfds_api_prepares_without_tensorflow(tmp_path):
  import sys  # pylint: disable=import-outside-toplevel

  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

  dummy = pathlib.Path(builders.BUILDERS["dcc2022"].code_path).parent / "dummy_data"
  builder = tfds.builder("dcc2022", data_dir=tmp_path, file_format="array_record")
  builder.download_and_prepare(
    file_format="array_record", download_config=tfds.download.DownloadConfig(manual_dir=dummy)
  )
  assert builder.info.splits["train"].num_examples == 12
  assert builders.read_report(builder.data_dir)["kept"] == 14
  assert "tensorflow" not in sys.modules


def _label_json(domain: str = "SKETCH") -> bytes:
  import json  # pylint: disable=import-outside-toplevel

  return json.dumps({"abstract_image": {"abs_domain": domain, "abs_bbox": "[1, 1, 5, 5]"}}).encode()


@pytest.mark.parametrize("layout", ["images_and_labels", "zips_side_by_side"])
def test_aihub_without_split_folders_is_one_train_split(tmp_path, layout):
  import image_fixtures  # pylint: disable=import-outside-toplevel

  manual = tmp_path / "manual"
  if layout == "images_and_labels":
    image_dir, label_dir = manual / "images", manual / "labels"
  else:  # TS3.zip and TL3.zip unpacked into one folder
    image_dir = manual / "TS3" / "ABSTRACT_SKETCH" / "L1_6" / "L2_46"
    label_dir = manual / "TL3" / "ABSTRACT_SKETCH" / "L1_6" / "L2_46"
  image_dir.mkdir(parents=True)
  label_dir.mkdir(parents=True)
  for stem in ("s_0816_1_1", "i_0554_2_1"):  # earrings (L2_46), horse (L2_33)
    (image_dir / f"{stem}.jpg").write_bytes(image_fixtures.rgb(40, 32, "JPEG"))
    (label_dir / f"{stem}.json").write_bytes(_label_json())
  (image_dir / "s_0816_3_1.jpg").write_bytes(image_fixtures.rgb(40, 32, "JPEG"))
  builder = builders.prepare("aihub_abstract", tmp_path / "tfds", manual, stored_short_side=SIDE)
  assert builder.split_counts() == {"train": 2}
  skipped = {
    e["file"].rsplit("/", 1)[1]: e["reason"]
    for e in builders.read_report(builder.data_dir)["skipped"]
  }
  assert skipped == {"s_0816_3_1.jpg": "missing JSON label"}


def test_aihub_folder_without_any_label_pair_is_the_layout_error(tmp_path):
  import image_fixtures  # pylint: disable=import-outside-toplevel

  manual = tmp_path / "manual"
  (manual / "images").mkdir(parents=True)
  (manual / "images" / "s_0816_1_1.jpg").write_bytes(image_fixtures.rgb(40, 32, "JPEG"))
  (manual / "labels").mkdir()
  (manual / "labels" / "other_name.json").write_bytes(_label_json())
  with pytest.raises(builders.ManualDirError, match="no image with a JSON label(.|\n)*Expected"):
    builders.prepare("aihub_abstract", tmp_path / "tfds", manual)


def test_dcc2022_all_split_is_the_whole_labelled_folder(tmp_path):
  from abstract_cls.data import config as config_lib  # pylint: disable=import-outside-toplevel
  from abstract_cls.data import sources  # pylint: disable=import-outside-toplevel

  expected = manual_fixtures.make_dcc2022(tmp_path / "manual", split_layout=False)
  c = config_lib.data_config()
  c.name, c.data_dir, c.manual_dir = "dcc2022", str(tmp_path / "tfds"), str(tmp_path / "manual")
  c.builder_options.stored_short_side = SIDE

  def names_of(split):
    source = sources.open_source(c, split)
    return {sources.record_metadata(source[i])[2] for i in range(len(source))}

  names = {split: names_of(split) for split in ("all", "train", "validation")}
  assert len(names["all"]) == expected["kept"]["train"]
  assert names["train"] | names["validation"] == names["all"]
  assert not names["train"] & names["validation"]
  split_layout = manual_fixtures.make_dcc2022(tmp_path / "manual2")  # train/ + valid/
  c.manual_dir, c.data_dir = str(tmp_path / "manual2"), str(tmp_path / "tfds2")
  assert len(sources.open_source(c, "all")) == sum(split_layout["kept"].values())
