"""configs/dcc2022.py trains a few steps on CPU on a tiny competition folder and reports under
the official protocol."""

import json

from manual_fixtures import make_dcc2022

from abstract_cls.train import evaluate, loop
from configs import dcc2022


def test_dcc2022_config_smoke(tmp_path):
  make_dcc2022(tmp_path / "folder")
  config = dcc2022.get_config()
  config.data.manual_dir = str(tmp_path / "folder")
  config.data.data_dir = str(tmp_path / "tfds")
  config.data.num_workers = 0
  config.model.options.width = 0.25  # the recipe's net, narrower: seconds on a CPU
  config.train.batch_size = 8
  config.eval.batch_size = 8
  config.train.max_steps = 2
  config.train.progress_bar = False
  config.train.compilation_cache_dir = str(tmp_path / "cache")
  workdir = str(tmp_path / "run")
  result = loop.train_and_evaluate(config, workdir)
  assert result["step"] == 2
  config.eval.split = "validation"
  metrics = evaluate.run_eval(config, workdir)
  assert 0.0 <= metrics["accuracy"] <= 1.0
  report = json.loads(
    (tmp_path / "run" / "dcc2022_validation_official" / "report.json").read_text()
  )
  assert report["macro_f1"] == metrics["macro_f1"]
