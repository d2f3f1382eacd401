"""Audit figures on the embedded set with injected contamination.

  python benchmarks/audit.py [--embedded_dir=abstract_cls/data/embedded] [--total=10000]
      [--num_photos=300] [--work_dir=/tmp/audit_bench]

Injects re-encoded / resized / cropped (<= 10%) / flipped copies of random embedded images
(enough to reach --total files) and random crops of the photographs scikit-image and
scikit-learn ship, audits the result with the default options and prints:
- duplicates: recall (injected copy grouped with its source) and pairwise precision over the
  group pairs that involve an injected copy. A pair counts as correct when both files belong to
  the same family: a copy's family is its source's, and an original's family is its natural
  duplicate group (found by the audit among originals only), so linking a copy to a natural
  duplicate of its source is not an error. Natural groups (no injected file) are reported
  separately;
- photos: recall at the score threshold that keeps the false-positive rate on the drawings
  (originals and copies) <= 2%, and recall / FPR at the audit's suggested cut;
- the wall time of the whole audit (read, hash, embed, group, score, write report).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import pathlib
import pickle
import platform
import shutil
import time

import numpy as np

from abstract_cls.audit import inject, report, runner, sources

DEFAULT_EMBEDDED = pathlib.Path(__file__).resolve().parents[1] / "abstract_cls/data/embedded"


def natural_groups(result, truth, options: runner.AuditOptions) -> list[list[str]]:
  """Duplicate groups the audit finds among the original (un-injected) files alone."""
  originals = set(truth["originals"])
  coll = result.collected
  keep = np.array([result.items[i].file_name in originals for i in coll.index])
  sub = dataclasses.replace(
    coll,
    index=coll.index[keep],
    sizes=coll.sizes[keep],
    num_bytes=coll.num_bytes[keep],
    content=coll.content[keep],
    stats=coll.stats[keep],
    model_features=None if coll.model_features is None else coll.model_features[:, keep],
  )
  groups, *_ = runner.find_groups(result.items, sub, options)
  return [[result.items[sub.index[m]].file_name for m in g.members] for g in groups]


def _families(natural: list[list[str]], truth) -> dict[str, object]:
  """file -> family id: an original's natural group (or itself), shared by its copies."""
  family = {o: o for o in truth["originals"]}
  for files in natural:
    for f in files:
      family[f] = files[0]
  for d in truth["duplicates"]:
    family[d["file"]] = family[d["source"]]
  for p in truth["photos"]:
    family[p["file"]] = ("photo", p["file"])
  return family


def duplicate_figures(result, truth, options: runner.AuditOptions) -> dict:
  names = [result.items[i].file_name for i in result.collected.index]
  split_of = {it.file_name: it.split for it in result.items}
  natural = natural_groups(result, truth, options)
  family = _families(natural, truth)
  copies = {d["file"] for d in truth["duplicates"]}
  photo_files = {p["file"] for p in truth["photos"]}
  group_of = {}
  for gid, group in enumerate(result.groups):
    for m in group.members:
      group_of[names[m]] = gid
  found = {t: 0 for t in inject.DUPLICATE_TRANSFORMS}
  total = collections.Counter(d["transform"] for d in truth["duplicates"])
  members_by_group = [[names[m] for m in g.members] for g in result.groups]
  for d in truth["duplicates"]:
    gid = group_of.get(d["file"])
    if gid is not None and any(
      family.get(x) == family[d["file"]] and x != d["file"] for x in members_by_group[gid]
    ):
      found[d["transform"]] += 1
  correct = wrong = photo_pairs = 0
  for files in members_by_group:
    for a_idx, a in enumerate(files):
      for b in files[a_idx + 1 :]:
        if a in photo_files and b in photo_files:
          photo_pairs += 1
        elif a in copies or b in copies or a in photo_files or b in photo_files:
          if family[a] == family[b]:
            correct += 1
          else:
            wrong += 1
  recall = sum(found.values()) / max(1, len(copies))
  return {
    "injected_copies": len(copies),
    "recall": recall,
    "recall_by_transform": {t: found[t] / max(1, total[t]) for t in total},
    "pairs_with_injected_correct": correct,
    "pairs_with_injected_wrong": wrong,
    "precision": correct / max(1, correct + wrong),
    "photo_photo_pairs": photo_pairs,
    "natural_groups_in_clean_set": len(natural),
    "natural_files_in_groups": sum(len(f) for f in natural),
    "natural_groups_crossing_splits": sum(
      len({split_of[f] for f in files}) > 1 for files in natural
    ),
  }


def photo_figures(result, truth, max_fpr: float = 0.02) -> dict:
  names = [result.items[i].file_name for i in result.collected.index]
  is_photo = np.array([n in {p["file"] for p in truth["photos"]} for n in names])
  scores = result.photo_scores
  drawing_scores = np.sort(scores[~is_photo])
  # Smallest threshold whose false-positive rate (score > threshold) is <= max_fpr.
  allowed = int(np.floor(max_fpr * len(drawing_scores)))
  threshold = drawing_scores[len(drawing_scores) - allowed - 1]
  cut = result.photo_cut["cut"]
  by_source = collections.defaultdict(list)
  for p, s in zip(truth["photos"], scores[is_photo]):
    by_source[p["photo"]].append(bool(s > threshold))
  return {
    "photos": int(is_photo.sum()),
    "drawings": int((~is_photo).sum()),
    "threshold_at_fpr": float(threshold),
    "max_fpr": max_fpr,
    "recall_at_fpr": float((scores[is_photo] > threshold).mean()),
    "suggested_cut": cut,
    "cut_rule": result.photo_cut["rule"],
    "recall_of_candidates": float(result.photo_flags[is_photo].mean()),
    "fpr_of_candidates": float(result.photo_flags[~is_photo].mean()),
    "missed_at_fpr_by_photo": {k: v.count(False) for k, v in by_source.items() if v.count(False)},
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--embedded_dir", default=str(DEFAULT_EMBEDDED))
  parser.add_argument("--total", type=int, default=10_000)
  parser.add_argument("--num_photos", type=int, default=300)
  parser.add_argument("--min_duplicates", type=int, default=1000)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--work_dir", default="/tmp/audit_bench")
  parser.add_argument(
    "--reuse_injected",
    action="store_true",
    help="audit WORK_DIR/data from an earlier run instead of injecting again",
  )
  args = parser.parse_args()
  work = pathlib.Path(args.work_dir)
  source = sources.EmbeddedSource(args.embedded_dir)
  t = time.perf_counter()
  if args.reuse_injected and (work / "data" / "injected.json").exists():
    truth = json.loads((work / "data" / "injected.json").read_text())
  else:
    shutil.rmtree(work, ignore_errors=True)
    num_dups = max(args.min_duplicates, args.total - len(source.items) - args.num_photos)
    truth = inject.inject(
      source,
      work / "data",
      inject.InjectOptions(num_duplicates=num_dups, num_photos=args.num_photos, seed=args.seed),
    )
  inject_s = time.perf_counter() - t
  folder = sources.FolderSource(work / "data")
  load_before = os.getloadavg()[0]
  t, cpu = time.perf_counter(), time.process_time()
  options = runner.AuditOptions()
  result = runner.run_audit(folder, options)
  report.write_outputs(result, work / "audit", folder)
  audit_s, audit_cpu_s = time.perf_counter() - t, time.process_time() - cpu
  figures = {
    "machine": f"{platform.processor() or platform.machine()}, "
    f"{len(os.sched_getaffinity(0))} cores",
    # The dev machine is shared: wall time depends on the other jobs (1-min load average
    # below); process CPU time (all threads) is what the audit itself costs.
    "load_average_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    "audit_cpu_s": round(audit_cpu_s, 1),
    "original_images": len(truth["originals"]),
    "audited_images": len(folder.items),
    "inject_s": round(inject_s, 1),
    "audit_s": round(audit_s, 1),
    "audit_stage_s": {k: round(v, 1) for k, v in result.timings.items()},
    "thresholds": result.thresholds,
    "feature_kind": result.feature_kind,
    "duplicates": duplicate_figures(result, truth, options),
    "photos": photo_figures(result, truth),
  }
  (work / "figures.json").write_text(json.dumps(figures, indent=1))
  with (work / "collected.pkl").open("wb") as f:  # lets analysis variants rerun without reading
    pickle.dump(result.collected, f)
  print(json.dumps(figures, indent=1))


if __name__ == "__main__":
  main()
