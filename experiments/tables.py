"""Report helpers shared by the studies: mean ± std over seeds, Markdown tables, the stamp.

Every table a study writes starts with `stamp(meta)`: which preset, machine and commit
produced it and the command that reproduces it.
"""

from __future__ import annotations

import collections
import pathlib
from collections.abc import Callable, Iterable, Sequence

import matplotlib

matplotlib.use("Agg")  # Files only; no display on the dev box or in tests.
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

# One colour per line, in order (matplotlib's default cycle).
COLORS = tuple(plt.rcParams["axes.prop_cycle"].by_key()["color"])


def by_variant(results: Iterable[dict]) -> dict[str, list[dict]]:
  """Results grouped by variant name, in first-seen order."""
  groups: dict[str, list[dict]] = collections.OrderedDict()
  for r in results:
    groups.setdefault(r["study_variant"], []).append(r)
  return groups


def mean_std(values: Sequence[float]) -> tuple[float, float]:
  """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
  v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
  if not len(v):
    return float("nan"), float("nan")
  return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def compare(a: Sequence[dict], b: Sequence[dict], getter: Callable[[dict], float]) -> int:
  """+1 / -1 when runs `a` score above / below runs `b` by more than their two seed spreads
  (sample stds, summed; a single run counts as spread 0), else 0: the studies' findings call
  a smaller difference no change."""
  (ma, sa), (mb, sb) = mean_std(column(a, getter)), mean_std(column(b, getter))
  spread = float(np.nan_to_num(sa) + np.nan_to_num(sb))
  return 1 if ma - mb > spread else -1 if mb - ma > spread else 0


def fmt(values: Sequence[float], scale: float = 100.0, digits: int = 1, unit: str = "") -> str:
  """'71.2 ± 1.3 (n=3)', or with unit='%' '71.2 ± 1.3% (n=3)': mean ± sample std over seeds
  (scaled to percent by default), and n."""
  m, s = mean_std(values)
  if not np.isfinite(m):
    return "n/a"
  n = sum(1 for x in values if x is not None and np.isfinite(x))
  if n == 1:
    return f"{m * scale:.{digits}f}{unit} (n=1)"
  return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}{unit} (n={n})"


def minutes(runs: Sequence[dict], key: str = "wall_s") -> str:
  """Mean ± std of a run time in minutes over the runs trained in one go (a resumed run's
  times cover only its last part), e.g. '17 ± 1 (n=2)'."""
  return fmt(column(trained_in_one_go(runs), lambda r: r[key] / 60), 1, 0)


def trained_in_one_go(runs: Sequence[dict]) -> list[dict]:
  """The runs whose wall times cover their whole training (not resumed)."""
  return [r for r in runs if not r.get("resumed_from_step")]


def column(runs: Sequence[dict], getter: Callable[[dict], float]) -> list[float]:
  out = []
  for r in runs:
    try:
      out.append(float(getter(r)))
    except (KeyError, TypeError, IndexError):
      out.append(float("nan"))
  return out


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
  lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines) + "\n"


def stamp(meta: dict, runs_done: int | None = None, run_commits=()) -> str:
  """One italic line naming preset, machine, commits, date and command."""
  seeds = ", ".join(str(s) for s in meta.get("seeds", []))
  done = f"; {runs_done} runs" if runs_done is not None else ""
  commits = f"commit {meta.get('commit')}"
  if run_commits:
    commits = f"runs trained at commit {', '.join(run_commits)} (sweep started at {commits})"
  return (
    f"_Preset `{meta.get('preset')}` ({meta.get('preset_description', '')}); seeds "
    f"{seeds}{done}; machine: {meta.get('machine')}; {commits}; "
    f"started {meta.get('started')}, last run finished {meta.get('updated', 'not yet')}. "
    f"Command: `{meta.get('command')}`._\n"
  )


def save_figure(fig, path: pathlib.Path) -> str:
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path.name


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.6):
  fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
  return fig, axes


def hours_minutes(seconds: float) -> str:
  minutes = seconds / 60
  return f"{minutes:.1f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def run_commits(runs) -> list[str]:
  """The commits that trained these runs (records older than the field have none)."""
  return sorted({str(r["commit"]).split(" ")[0] for r in runs if r.get("commit")})


def short_commit(meta: dict) -> str:
  """The commit without the list of uncommitted files (the full stamp is in report.md)."""
  commit = str(meta.get("commit", "unknown"))
  sha = commit.split(" ")[0]
  return sha + (" + local changes" if " + " in commit else "")
