"""The command line: train, --mode=eval (official report), --mode=predict (CSV), and the
one-line errors for a bad config key, a missing checkpoint and an unknown data set."""

import csv
import os

import numpy as np
import pytest
from PIL import Image
from test_train_support import run_main, write_config_file


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("cli")
  config_file = write_config_file(root / "tiny.py", train=dict(max_steps=4))
  workdir = str(root / "w")
  done = run_main(config_file, workdir)
  assert done.returncode == 0, done.stderr[-3000:]
  return config_file, workdir, done


def test_train_prints_final_metrics(cli_run):
  _, workdir, done = cli_run
  assert "Finished at step 4: validation accuracy" in done.stdout
  assert os.path.exists(os.path.join(workdir, "metrics.jsonl"))


def test_eval_prints_official_report(cli_run):
  config_file, workdir, _ = cli_run
  done = run_main(config_file, workdir, "--mode=eval", "--config.eval.checkpoint=latest")
  assert done.returncode == 0, done.stderr[-3000:]
  out = done.stdout
  for word in ("precision", "acc", "f1-score", "support", "macro avg", "L2_10", "L2_52"):
    assert word in out, word
  report_dir = os.path.join(workdir, "synthetic_validation")
  assert f"to {report_dir}" in out
  for name in ("report.json", "report.md", "confusion.png"):
    assert os.path.exists(os.path.join(report_dir, name)), name


def test_predict_writes_csv(cli_run, tmp_path):
  config_file, workdir, _ = cli_run
  images = tmp_path / "images"
  images.mkdir()
  for i in range(3):
    pixels = np.full((40, 30, 3), 255, np.uint8)
    pixels[10:30, 5:25] = (i * 80, 0, 0)
    Image.fromarray(pixels).save(images / f"img{i}.png")
  (images / "broken.png").write_bytes(b"not a png")
  output = tmp_path / "out.csv"
  done = run_main(config_file, workdir, "--mode=predict", f"--input={images}", f"--output={output}")
  assert done.returncode == 0, done.stderr[-3000:]
  with open(output, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  assert [os.path.basename(r["file"]) for r in rows] == ["img0.png", "img1.png", "img2.png"]
  for row in rows:
    probs = [float(row[f"top{k}_prob"]) for k in (1, 2, 3)]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
    assert row["top1_code"].startswith("L2_")
  assert "skipped" in done.stdout and "broken.png" in done.stdout


def test_bad_config_key_is_one_clear_error(cli_run):
  config_file, workdir, _ = cli_run
  done = run_main(config_file, workdir, "--config.optimizer.lrr=0.1")
  assert done.returncode == 2
  assert "error: bad config override (--config.optimizer.lrr)" in done.stderr
  assert 'Did you mean "lr"' in done.stderr and "Traceback" not in done.stderr


def test_missing_checkpoint_is_one_clear_error(cli_run, tmp_path):
  config_file, _, _ = cli_run
  done = run_main(config_file, str(tmp_path / "empty"), "--mode=eval")
  assert done.returncode == 1
  assert "error: no checkpoint in" in done.stderr
  assert "Traceback" not in done.stderr


def test_unknown_data_set_is_one_clear_error(cli_run, tmp_path):
  config_file, _, _ = cli_run
  done = run_main(config_file, str(tmp_path / "w2"), "--config.data.name=imagenet")
  assert done.returncode == 1
  assert "error: data.name='imagenet' is not a known data set" in done.stderr
  assert "Traceback" not in done.stderr
