"""Recipe levers of the default run: each lever an A/B against configs/resnet.py, 2 seeds.

Command: python -m experiments.recipes --preset=cpu   (report: results/recipes.md)
Every arm trains from configs/resnet.py with one change. Arms that change the cost of a step
(resolution, width, batch) get the number of epochs that fits the default's wall-clock budget
(EPOCH_COST, measured img/s relative to the default on the 2-core CPU), so each A/B is at
equal compute time; the table shows each arm's measured training minutes beside it. Flip
test-time augmentation needs no training: every run is evaluated with and without it.
"""

from __future__ import annotations

import dataclasses
import sys

from experiments import checkpoint_eval, cli, convergence, sweep, tables
from experiments import findings as findings_lib
from experiments import presets as presets_lib

STUDY = "recipes"
TITLE = "Recipe levers"
CONFIG_FILE = "configs/resnet.py"
CRITERION = convergence.Plateau()
DEFAULT_EPOCHS = 60.0

# Training images/s of an arm relative to the default (resnet18, width 0.5, 64 px, batch 128)
# on the 2-core CPU: `python benchmarks/train_step.py --suite=one` per arm.
# Oversampling lengthens an epoch (rare classes repeated): cap it at the default's steps
# (4159 images / batch 128 -> 32 steps an epoch).
DEFAULT_STEPS = int(DEFAULT_EPOCHS) * 32
EPOCH_COST = {"32px": 1 / 3.5, "48px": 1 / 1.7, "80px": 1 / 0.44, "width0.75": 1 / 0.62}


@dataclasses.dataclass(frozen=True)
class Lever:
  name: str
  question: str
  arms: dict  # arm name -> overrides on top of the default recipe


def _equal_budget(arm: str, overrides: dict) -> dict:
  return dict(overrides, **{"train.num_epochs": round(DEFAULT_EPOCHS / EPOCH_COST[arm])})


_STRONG_AUG = {
  "data.augment.crop_scale": (0.2, 1.0),
  "data.augment.rotation_degrees": 20.0,
  "data.augment.shear_degrees": 10.0,
  "data.augment.translate_fraction": 0.1,
}
_WEAK_AUG = {
  "data.augment.crop_scale": (0.7, 1.0),
  "data.augment.rotation_degrees": 0.0,
  "data.augment.shear_degrees": 0.0,
  "data.augment.translate_fraction": 0.0,
  "data.augment.ink_strength": 0.0,
  "data.augment.saturation": 0.0,
  "data.augment.hue_degrees": 0.0,
  "data.augment.grayscale_probability": 0.0,
}

LEVERS = (
  Lever(
    "resolution",
    "epochs vs resolution at equal time (same stride-4 stem)",
    {
      "32px": _equal_budget("32px", {"data.image_size": 32, "model.options.input_size": 32}),
      "48px": _equal_budget("48px", {"data.image_size": 48, "model.options.input_size": 48}),
      "80px": _equal_budget("80px", {"data.image_size": 80, "model.options.input_size": 80}),
    },
  ),
  Lever(
    "width",
    "wider net, fewer epochs",
    {"width0.75": _equal_budget("width0.75", {"model.options.width": 0.75})},
  ),
  Lever(
    "sampling",
    "class-balanced sampling for macro-F1",
    {
      "sqrt_sampling": {"data.balance": "sqrt"},
      "oversample": {"data.balance": "oversample", "train.max_steps": DEFAULT_STEPS},
    },
  ),
  Lever(
    "augmentation",
    "augmentation strength (per-domain F1 tells line art from flat icons)",
    {"weak_augment": _WEAK_AUG, "strong_augment": _STRONG_AUG},
  ),
  Lever(
    "label_smoothing",
    "label smoothing 0.1 (default) vs none",
    {"no_smoothing": {"loss.label_smoothing": 0.0}},
  ),
  Lever(
    "mixing",
    "mixup / cutmix",
    {"mixup": {"data.mixup_alpha": 0.2}, "cutmix": {"data.cutmix_alpha": 1.0}},
  ),
  Lever(
    "averaging",
    "weight averaging (averaged batch statistics)",
    {"ema": {"optimizer.ema_decay": 0.998}, "swa": {"optimizer.swa_start_epoch": 45.0}},
  ),
  Lever(
    "schedule",
    "cosine (default) vs one-cycle-like warm-up vs restarts",
    {
      "long_warmup": {"optimizer.warmup_epochs": 18.0},
      "cosine_restarts": {"optimizer.schedule": "cosine_restarts", "optimizer.restart_epochs": 8.5},
    },
  ),
  Lever(
    "batch",
    "batch size (learning rate scaled linearly)",
    {
      "batch64": {"train.batch_size": 64, "optimizer.lr": 0.05},
      "batch256": {"train.batch_size": 256, "optimizer.lr": 0.2},
    },
  ),
  Lever(
    "optimizer",
    "SGD Nesterov (default) vs AdamW",
    {"adamw": {"optimizer.name": "adamw", "optimizer.lr": 2e-3, "optimizer.weight_decay": 0.05}},
  ),
)

SMOKE = {
  **presets_lib.SMOKE,
  "model.name": "resnet18",
  "model.options.width": 0.125,
}
PRESETS = {
  "smoke": sweep.Preset(
    "smoke",
    "synthetic set, 16 px, 2 steps",
    presets_lib.SMOKE_SEEDS,
    SMOKE,
    split_alias=presets_lib.SMOKE_ALIAS,
  ),
  "cpu": sweep.Preset(
    "cpu",
    "abstract_icons, configs/resnet.py (resnet18 width 0.5, 64 px, 60 epochs) with one change",
    (0, 1),
    {"train.progress_bar": False, "train.keep_checkpoints": 1, "train.layer_norms_every": 0},
  ),
}
BASELINE = "default"
PUBLISHED = {"cpu": "results/recipes.md"}  # preset -> copy of its report
DOMAINS = ("SKETCH", "ILLUSTRATION", "PICTOGRAM")


def arms() -> dict[str, tuple[str, dict]]:
  """arm name -> (lever name, overrides); the default recipe first."""
  out = {BASELINE: ("", {})}
  for lever in LEVERS:
    for name, overrides in lever.arms.items():
      out[name] = (lever.name, overrides)
  return out


def variants(preset: sweep.Preset) -> list[sweep.Variant]:
  smoke = preset.name == "smoke"
  out = []
  for name, (lever, overrides) in arms().items():
    if smoke:  # the smoke run keeps every arm's kind of change, not its size or length
      overrides = {k: v for k, v in overrides.items() if k not in _SIZE_KEYS}
    out.append(sweep.Variant(name, overrides, labels=dict(lever=lever)))
  return out


_SIZE_KEYS = ("data.image_size", "model.options.input_size", "train.num_epochs", "train.batch_size")


def eval_specs(preset: sweep.Preset) -> list[sweep.EvalSpec]:
  del preset
  specs = [sweep.EvalSpec(s, (s,)) for s in ("validation", "test", "test_unseen_style")]
  return specs + [sweep.EvalSpec(f"test_{d.lower()}", ("test",), (d,)) for d in DOMAINS]


def extra(config, workdir: str) -> dict:
  """The same checkpoint evaluated with flip test-time augmentation."""
  tta = config.copy_and_resolve_references()
  tta.eval.flip_tta = True
  specs = [sweep.EvalSpec(s, (s,)) for s in ("test", "test_unseen_style")]
  if config.data.name == "synthetic":
    specs = [sweep.EvalSpec("test", ("validation",))]
  evals = checkpoint_eval.evaluate_checkpoint(tta, workdir, specs)
  evals.pop("_best_step", None)
  return {"flip_tta": evals}


def _train_minutes(runs) -> str:
  """Mean training minutes of the runs trained in one go (a resumed run's cover its last part)."""
  whole = tables.trained_in_one_go(runs)
  m = tables.mean_std(tables.column(whole, lambda r: r["train_wall_s"] / 60))[0]
  return f"{m:.1f}" if whole else "resumed"


def _f1(spec):
  return lambda r: r["evals"][spec]["macro_f1"]


def _acc(spec):
  return lambda r: r["evals"][spec]["accuracy"]


def _train_acc(r):
  return r["final_train_row"]["accuracy"]


def _tta_f1(r):
  return r["flip_tta"]["test"]["macro_f1"]


def verdict(base: list[dict], arm: list[dict]) -> str:
  """'helps' / 'hurts' when every seed of one arm beats every seed of the other on test
  macro-F1 (with 2 seeds: beyond the seed spread), else 'no clear effect'."""
  if len(base) < 2 or len(arm) < 2:
    return "pending (needs 2 seeds)"
  b, a = tables.column(base, _f1("test")), tables.column(arm, _f1("test"))
  if min(a) > max(b):
    return "helps"
  if max(a) < min(b):
    return "hurts"
  return "no clear effect"


def lever_rows(results: list[dict]) -> list[list[str]]:
  groups = tables.by_variant(results)
  base = groups.get(BASELINE, [])
  base_f1 = tables.mean_std(tables.column(base, _f1("test")))[0]
  rows = []
  for name, (lever, overrides) in arms().items():
    runs = groups.get(name, [])
    if not runs:
      continue
    f1 = tables.mean_std(tables.column(runs, _f1("test")))[0]
    changes = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in overrides.items()) or "—"
    rows.append(
      [
        lever or "**default**",
        name,
        changes,
        str(len(runs)),
        _train_minutes(runs),
        tables.fmt(tables.column(runs, _train_acc)),
        tables.fmt(tables.column(runs, _acc("test"))),
        tables.fmt(tables.column(runs, _f1("test"))),
        f"{(f1 - base_f1) * 100:+.1f}" if name != BASELINE else "",
        tables.fmt(tables.column(runs, _f1("test_unseen_style"))),
        " / ".join(
          tables.fmt(tables.column(runs, _f1(f"test_{d.lower()}")), digits=0) for d in DOMAINS
        ),
        "" if name == BASELINE else verdict(base, runs),
      ]
    )
  return rows


def tta_line(results: list[dict]) -> str:
  with_tta = [r for r in results if "flip_tta" in r]
  if not with_tta:
    return ""
  gain = [_tta_f1(r) - r["evals"]["test"]["macro_f1"] for r in with_tta]
  better = sum(g > 0 for g in gain)
  return (
    f"**Flip test-time augmentation** (evaluation only, every run above): test macro-F1 "
    f"{tables.fmt(gain, digits=1)} points with it; better in {better} of {len(gain)} runs."
  )


HEADERS = (
  "lever",
  "arm",
  "change",
  "seeds",
  "train min",
  "train acc % (last logged)",
  "test acc %",
  "test macro-F1 %",
  "Δ F1",
  "unseen-style macro-F1 %",
  "test F1 % S / I / P",
  "verdict",
)


def family_section() -> str:
  """The family recipes as users run them (tools.family_recipes), when any has finished."""
  from tools import family_recipes  # pylint: disable=g-import-not-at-top

  runs = family_recipes.load_all()
  if not runs:
    return ""
  return (
    "## Family recipes (configs/*.py as a user runs them)\n\n"
    + family_recipes.family_table(runs)
    + "\n"
    + family_recipes.provenance(runs)
    + "\n## Levers of the default recipe\n\n"
  )


def report(runs, meta, out_dir) -> str:
  del meta, out_dir
  text = family_section() + (
    "Each arm is configs/resnet.py with the change shown, trained to the default's time "
    "budget (arms that change the cost of a step get the epochs that fit it); test and "
    "unseen-style figures are the checkpoint with the best validation macro-F1. Verdict: "
    "every seed of one arm above every seed of the other on test macro-F1, else no clear "
    "effect. S / I / P: sketch, illustration, pictogram test images. Every run is in the "
    "table; the findings below use the converged runs only.\n\n"
  )
  return text + tables.markdown_table(HEADERS, lever_rows(runs)) + "\n\n" + tta_line(runs) + "\n"


# arm -> (the verdict the literature predicts against the default, the claim with its source)
CLAIMS = {
  "32px": ("hurts", "Resolution is worth more than epochs at equal compute (Tan & Le 2019)"),
  "48px": ("hurts", "Resolution is worth more than epochs at equal compute (Tan & Le 2019)"),
  "80px": ("helps", "Higher input resolution helps at equal compute (Tan & Le 2019)"),
  "width0.75": ("helps", "Wider residual nets generalise better (Zagoruyko & Komodakis 2016)"),
  "sqrt_sampling": ("helps", "Class-balanced sampling raises macro-F1 (Buda et al. 2018)"),
  "oversample": ("helps", "Oversampling rare classes raises macro-F1 (Buda et al. 2018)"),
  "weak_augment": ("hurts", "Augmentation helps small data sets (Shorten & Khoshgoftaar 2019)"),
  "strong_augment": ("helps", "Stronger augmentation helps small data sets (Cubuk et al. 2020)"),
  "no_smoothing": ("hurts", "Label smoothing 0.1 improves accuracy (Szegedy et al. 2016)"),
  "mixup": ("helps", "Mixup improves generalisation (Zhang et al. 2018)"),
  "cutmix": ("helps", "CutMix improves generalisation (Yun et al. 2019)"),
  "ema": (
    "helps",
    "An exponential moving average of the weights generalises better (Polyak & Juditsky 1992)",
  ),
  "swa": ("helps", "Stochastic weight averaging generalises better (Izmailov et al. 2018)"),
  "long_warmup": (
    "no clear effect",
    "A long warm-up then annealing trains as well (Smith & Topin 2019)",
  ),
  "cosine_restarts": (
    "no clear effect",
    "Warm restarts match a single cosine at equal epochs (Loshchilov & Hutter 2017)",
  ),
  "batch64": (
    "no clear effect",
    "Linear learning-rate scaling keeps accuracy across batch sizes (Goyal et al. 2017)",
  ),
  "batch256": (
    "no clear effect",
    "Linear learning-rate scaling keeps accuracy across batch sizes (Goyal et al. 2017)",
  ),
  "adamw": (
    "hurts",
    "Adaptive optimisers generalise worse than SGD on image classification (Wilson et al. 2017)",
  ),
}


def findings(runs, out_dir) -> list[findings_lib.Finding]:
  """One finding per arm: its verdict against the default (converged runs only)."""
  del out_dir
  groups = tables.by_variant(runs)
  base = groups.get(BASELINE, [])
  out = []
  for arm, (expected, claim) in CLAIMS.items():
    got = verdict(base, groups.get(arm, []))
    f1 = tables.fmt(tables.column(groups.get(arm, []), _f1("test")), unit="%")
    base_f1 = tables.fmt(tables.column(base, _f1("test")), unit="%")
    evidence = f"{arm} test macro-F1 {f1} vs default {base_f1}: {got} (predicted: {expected})"
    holds = None if got.startswith("pending") else got == expected
    out.append(
      findings_lib.Finding(f"{claim}: {arm} {expected} against the default", holds, evidence)
    )
  return out


def key_figure(runs, out_dir) -> str:
  del out_dir
  groups = tables.by_variant(runs)
  base = groups.get(BASELINE, [])
  helping = [a for a in arms() if a != BASELINE and verdict(base, groups.get(a, [])) == "helps"]
  return (
    f"default test macro-F1 {tables.fmt(tables.column(base, _f1('test')), unit='%')}; "
    "arms that help: "
    f"{', '.join(helping) or 'none'} ({len(groups)} arms in results/recipes.md)."
  )


if __name__ == "__main__":
  sys.exit(cli.main(sys.modules[__name__]))
