"""python -m abstract_cls.diagnostics --workdir=W [--split=...] [--step=...] [--inspect.*=...]

Writes W/inspect/{filters,feature_maps,shape_profile,saliency,errors_by_class,
errors_by_domain,confusion_by_domain,embedding_*,training_curves}.png, index.md
and summary.json. The checkpoint's own config is used unless --config names a
config file (then --config.data.* etc. override it, e.g. a moved data_dir).
"""

from absl import app, flags
from ml_collections import config_flags

from abstract_cls.diagnostics import run

_WORKDIR = flags.DEFINE_string(
  "workdir", None, "Training workdir with checkpoints/.", required=True
)
_SPLIT = flags.DEFINE_string("split", "", "Evaluation split; '' -> config.eval.split.")
_STEP = flags.DEFINE_string("step", "", "Checkpoint: best | latest | a step; '' -> best.")
_CONFIG = config_flags.DEFINE_config_file(
  "config",
  None,
  "Optional run config file; default: the checkpoint's own config.",
  lock_config=False,
)
_INSPECT = config_flags.DEFINE_config_dict(
  "inspect", run.inspect_config(), "Inspect options (run.inspect_config)."
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = _CONFIG.value
  summary = run.run_inspect(
    config, _WORKDIR.value, split=_SPLIT.value, step=_STEP.value or None, options=_INSPECT.value
  )
  print(f"wrote {len(summary['artefacts'])} figures and index.md to {summary['out_dir']}")


if __name__ == "__main__":
  app.run(main)
