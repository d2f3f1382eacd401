"""The browser demo without a browser: the served checkpoint, agreement with --mode=predict,
the page's answers to drawings, empty canvases and bad uploads, and concurrent users.

The checkpoint is the trainer's own (lenet5 at 16 px on the synthetic data, 4 steps)."""

import concurrent.futures
import csv
import io
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_train_support import REPO, eval_rows, tiny_config

from abstract_cls import taxonomy
from abstract_cls.data import decode
from abstract_cls.demo import __main__ as demo_main
from abstract_cls.demo import app, inputs, render
from abstract_cls.demo.served_model import ServedModel
from abstract_cls.train import errors, loop, predict

EMBEDDED = REPO / "abstract_cls" / "data" / "embedded" / "images.zip"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("demo_run"))
  config = tiny_config(train=dict(max_steps=4))
  loop.train_and_evaluate(config, workdir)
  return config, workdir


@pytest.fixture(scope="module")
def served(trained):
  return ServedModel(trained[1])


@pytest.fixture(scope="module")
def handlers(served):
  return app.Handlers(served)


def embedded_png(index: int = 0) -> tuple[str, bytes]:
  with zipfile.ZipFile(EMBEDDED) as z:
    name = sorted(n for n in z.namelist() if n.startswith("test/"))[index]
    return name.split("/")[-1], z.read(name)


def drawing(kind: str) -> dict:
  """A sketch pad value with black strokes on the white sheet."""
  value = inputs.empty_sketch()
  sheet = Image.fromarray(value["composite"])
  pen = ImageDraw.Draw(sheet)
  n = inputs.CANVAS_SIZE
  if kind == "circle":
    pen.ellipse((n // 5, n // 5, 4 * n // 5, 4 * n // 5), outline="black", width=8)
  else:
    pen.line((n // 6, n // 2, 5 * n // 6, n // 2), fill="black", width=8)
    pen.line((n // 2, n // 6, n // 2, 5 * n // 6), fill="black", width=8)
  value["composite"] = np.asarray(sheet)
  return value


def test_serves_the_best_checkpoint_with_its_validation_score(trained, served):
  config, workdir = trained
  f1 = {r["step"]: r["eval"]["validation"]["macro_f1"] for r in eval_rows(workdir)}
  best = max(f1, key=lambda s: (f1[s], s))
  assert served.info.step in f1 and f1[served.info.step] == f1[best]
  assert served.info.validation["macro_f1"] == pytest.approx(f1[served.info.step])
  assert served.info.image_size == config.data.image_size
  text = served.info.describe()
  assert f"step {served.info.step}" in text and "lenet5 at 16 px" in text
  assert f"{f1[served.info.step]:.3f}" in text


def test_same_top1_and_probabilities_as_predict_mode(trained, served, tmp_path):
  config, workdir = trained
  files = []
  for i in range(4):
    name, data = embedded_png(i)
    (tmp_path / name).write_bytes(data)
    files.append(tmp_path / name)
  output = predict.run_predict(config, workdir, [str(tmp_path)], str(tmp_path / "p.csv"))
  with open(output, newline="", encoding="utf-8") as f:
    rows = {r["file"]: r for r in csv.DictReader(f)}
  for path in files:
    prediction = served.predict(path.read_bytes(), name=path.name)
    row = rows[str(path)]
    assert taxonomy.classes()[prediction.top[0]].code == row["top1_code"]
    assert prediction.probs[prediction.top[0]] == pytest.approx(float(row["top1_prob"]), abs=2e-6)


def test_an_array_is_preprocessed_as_its_png_file(served):
  pixels = drawing("cross")["composite"]
  from_array = predict.model_input(pixels, served.config)
  from_png = predict.model_input(decode.encode_png(pixels), served.config)
  np.testing.assert_array_equal(from_array, from_png)


def test_drawing_shows_top5_gradcam_and_model_input(handlers, served):
  status, table, cam, seen = handlers.sketch(drawing("circle"))
  assert status.startswith("Your drawing: the network's best guess is **L2_")
  probs = [float(p) for p in _attribute(table, "data-prob")]
  codes = _attribute(table, "data-code")
  assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
  assert len(set(codes)) == 5 and set(codes) <= set(taxonomy.class_codes())
  first = taxonomy.classes()[taxonomy.class_index(codes[0])]
  assert first.name_ko in table and first.name in table and first.l3_objects[0] in table
  assert cam.shape == seen.shape == (render.DISPLAY_SIZE, render.DISPLAY_SIZE, 3)
  assert cam.dtype == seen.dtype == np.uint8
  assert not np.array_equal(cam, seen)  # the heat map is blended in


def _attribute(table: str, name: str) -> list[str]:
  return [part.split('"')[1] for part in table.split(f"{name}=")[1:]]


def test_empty_canvas_gets_a_message_not_a_guess(handlers):
  assert handlers.sketch(inputs.empty_sketch()) == (app.EMPTY_CANVAS, "", None, None)
  assert handlers.sketch(None) == (app.EMPTY_CANVAS, "", None, None)
  assert handlers.sketch(handlers.clear())[0] == app.EMPTY_CANVAS


def _png(width: int, height: int) -> bytes:
  buffer = io.BytesIO()
  Image.new("L", (width, height), 255).save(buffer, format="PNG")
  return buffer.getvalue()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # huge.png: refused
@pytest.mark.parametrize(
  "name, data, reason",
  [
    ("notes.png", lambda: b"these are words, not pixels", "not an image"),
    ("cut.png", lambda: _png(300, 300)[:120], "truncated or corrupt image"),
    ("empty.png", lambda: b"", "empty file"),
    ("huge.png", lambda: _png(10_000, 10_000), "decompression bomb"),
  ],
)
def test_bad_upload_is_one_clear_message(handlers, tmp_path, name, data, reason):
  path = tmp_path / name
  path.write_bytes(data())
  status, table, cam, seen = handlers.upload(str(path))
  assert status.startswith("**Cannot use this file.**") and name in status and reason in status
  assert "Traceback" not in status and (table, cam, seen) == ("", None, None)


def test_very_long_upload_is_downscaled_and_classified(handlers, tmp_path):
  path = tmp_path / "banner.png"
  path.write_bytes(_png(10_000, 300))
  status, table, _, seen = handlers.upload(str(path))
  assert status.startswith("`banner.png`: the network's best guess is")
  assert table.count("data-code=") == 5 and seen.shape[:2] == (render.DISPLAY_SIZE,) * 2


def test_concurrent_users_get_their_own_answers(handlers):
  values = [drawing("circle"), drawing("cross")] * 4
  alone = [handlers.sketch(v) for v in values[:2]]
  with concurrent.futures.ThreadPoolExecutor(max_workers=len(values)) as pool:
    together = list(pool.map(handlers.sketch, values))
  assert alone[0][1] != alone[1][1]  # the two drawings are told apart
  for value_index, result in enumerate(together):
    expected = alone[value_index % 2]
    assert result[:2] == expected[:2]
    np.testing.assert_array_equal(result[3], expected[3])


def test_default_workdir_without_checkpoint_gives_the_training_command(tmp_path, monkeypatch):
  monkeypatch.setattr(demo_main, "DEFAULT_WORKDIR", tmp_path / "runs" / "resnet")
  served, notice = demo_main.load(None)
  assert served is None
  assert "`./launch.sh`" in notice and str(tmp_path / "runs" / "resnet") in notice
  page = app.build(None, notice)
  assert any(getattr(block, "value", None) == notice for block in page.blocks.values())


def test_other_workdir_without_checkpoint_is_an_error(tmp_path):
  with pytest.raises(errors.CheckpointNotFoundError, match="no checkpoint in"):
    demo_main.load(str(tmp_path / "elsewhere"))
