"""The browser demo without a browser: the served checkpoint, agreement with --mode=predict,
the page's answers to drawings, empty canvases and bad uploads, and concurrent users.

The checkpoint is the trainer's own (lenet5 at 16 px on the synthetic data, 4 steps)."""

import base64
import concurrent.futures
import csv
import html
import io
import re
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_train_support import REPO, eval_rows, tiny_config

from abstract_cls import taxonomy
from abstract_cls.data import decode
from abstract_cls.demo import __main__ as demo_main
from abstract_cls.demo import app, inputs, render, sketch_pad
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


SENT_SIZE = sketch_pad.sent_size(16)  # the side of the drawings the pad sends the tiny model


def drawing_png(kind: str) -> bytes:
  """A drawing as the sketch pad sends it: black strokes on an opaque white RGBA PNG."""
  sheet = Image.new("RGBA", (SENT_SIZE, SENT_SIZE), "white")
  pen = ImageDraw.Draw(sheet)
  n = SENT_SIZE
  if kind == "circle":
    pen.ellipse((n // 5, n // 5, 4 * n // 5, 4 * n // 5), outline="black", width=4)
  elif kind == "cross":
    pen.line((n // 6, n // 2, 5 * n // 6, n // 2), fill="black", width=4)
    pen.line((n // 2, n // 6, n // 2, 5 * n // 6), fill="black", width=4)
  buffer = io.BytesIO()
  sheet.save(buffer, format="PNG")
  return buffer.getvalue()


def data_url(png: bytes) -> str:
  return inputs.PNG_DATA_URL + base64.b64encode(png).decode("ascii")


def drawing(kind: str) -> str:
  """The sketch pad's value for a drawing ('blank': a white sheet)."""
  return data_url(drawing_png(kind))


def status_text(answer: str) -> str:
  """The answer's status line as the page shows it (tags dropped)."""
  line = re.search(r'<p class="status">(.*?)</p>', answer).group(1)
  return html.unescape(re.sub(r"<[^>]+>", "", line))


def answer_images(answer: str) -> list[np.ndarray]:
  """The answer's images in page order: Grad-CAM's input and heat map, then the input."""
  urls = re.findall(r'src="data:image/png;base64,([^"]+)"', answer)
  return [np.asarray(Image.open(io.BytesIO(base64.b64decode(u)))) for u in urls]


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
  pixels = inputs.sketch_pixels(drawing("cross"))
  from_array = predict.model_input(pixels, served.config)
  from_png = predict.model_input(decode.encode_png(pixels), served.config)
  np.testing.assert_array_equal(from_array, from_png)


def test_drawing_shows_top5_gradcam_and_model_input(handlers, served):
  answer = handlers.sketch(drawing("circle"))
  assert status_text(answer).startswith("Your drawing: the network's best guess is L2_")
  probs = [float(p) for p in _attribute(answer, "data-prob")]
  codes = _attribute(answer, "data-code")
  assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
  assert len(set(codes)) == 5 and set(codes) <= set(taxonomy.class_codes())
  first = taxonomy.classes()[taxonomy.class_index(codes[0])]
  assert first.name_ko in answer and first.name in answer and first.l3_objects[0] in answer
  under_cam, heat, seen = answer_images(answer)
  expected = served.predict(inputs.sketch_pixels(drawing("circle")))
  np.testing.assert_array_equal(seen, expected.model_input)
  np.testing.assert_array_equal(under_cam, expected.model_input)
  np.testing.assert_array_equal(heat, render.heat_colours(expected.cam))
  assert seen.shape == (served.info.image_size,) * 2 + (3,)


def test_drawing_gets_the_same_answer_as_predict_mode_for_its_png(trained, handlers, tmp_path):
  config, workdir = trained
  path = tmp_path / "drawing.png"
  path.write_bytes(drawing_png("cross"))
  output = predict.run_predict(config, workdir, [str(path)], str(tmp_path / "p.csv"))
  with open(output, newline="", encoding="utf-8") as f:
    row = next(csv.DictReader(f))
  answer = handlers.sketch(drawing("cross"))
  assert _attribute(answer, "data-code")[0] == row["top1_code"]
  assert float(_attribute(answer, "data-prob")[0]) == pytest.approx(
    float(row["top1_prob"]), abs=2e-6
  )


def _attribute(answer: str, name: str) -> list[str]:
  return [part.split('"')[1] for part in answer.split(f"{name}=")[1:]]


def test_empty_canvas_gets_a_message_not_a_guess(handlers):
  for value in ("", None, drawing("blank")):
    answer = handlers.sketch(value)
    assert answer == app.EMPTY_ANSWER and status_text(answer) == app.EMPTY_CANVAS


def _cut_png() -> str:
  png = drawing_png("cross")
  return data_url(png[: len(png) // 2])


@pytest.mark.parametrize(
  "value, reason",
  [
    ("a drawing", "not a PNG data URL"),
    ("data:image/jpeg;base64,/9j/4AAQ", "not a PNG data URL"),
    ("data:image/png;base64,iVBOR@@w0K", "bad base64"),
    (data_url(b"GIF89a" + bytes(40)), "not a PNG"),
    (data_url(inputs.PNG_SIGNATURE), "not an image"),
    (_cut_png(), "truncated or corrupt image"),
    (inputs.PNG_DATA_URL + "A" * inputs.MAX_SKETCH_CHARS, "too large"),
  ],
)
def test_bad_sketch_value_is_one_clear_message(handlers, value, reason):
  answer = handlers.sketch(value)
  status = status_text(answer)
  assert status.startswith("Cannot read the drawing. <drawing>: ") and reason in status
  assert "Traceback" not in answer and "top-classes" not in answer


def test_sketch_pad_sends_at_least_twice_the_model_input_and_at_most_the_canvas():
  assert sketch_pad.sent_size(16) == sketch_pad.sent_size(64) == inputs.MIN_SENT_SIZE
  assert sketch_pad.sent_size(128) == 256
  assert sketch_pad.sent_size(224) == inputs.CANVAS_SIZE
  # Gradio evaluates the template as a JS template string.
  assert "`" not in sketch_pad.TEMPLATE and "${" not in sketch_pad.TEMPLATE


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
  answer = handlers.upload(str(path))
  status = status_text(answer)
  assert status.startswith("Cannot use this file.") and name in status and reason in status
  assert "Traceback" not in answer and "top-classes" not in answer


def test_very_long_upload_is_downscaled_and_classified(handlers, served, tmp_path):
  path = tmp_path / "banner.png"
  path.write_bytes(_png(10_000, 300))
  answer = handlers.upload(str(path))
  assert status_text(answer).startswith("banner.png: the network's best guess is")
  assert answer.count("data-code=") == 5
  assert answer_images(answer)[-1].shape == (served.info.image_size,) * 2 + (3,)


def test_concurrent_users_get_their_own_answers(handlers):
  values = [drawing("circle"), drawing("cross")] * 4
  alone = [handlers.sketch(v) for v in values[:2]]
  with concurrent.futures.ThreadPoolExecutor(max_workers=len(values)) as pool:
    together = list(pool.map(handlers.sketch, values))
  assert _attribute(alone[0], "data-prob") != _attribute(alone[1], "data-prob")  # told apart
  for value_index, answer in enumerate(together):
    assert answer == alone[value_index % 2]


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
