"""Where a result came from: the commit (with any uncommitted code) and the machine."""

from __future__ import annotations

import os
import pathlib
import platform
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]


def git_commit() -> str:
  """Short commit, plus the code files that differed from it when the sweep started."""
  try:
    commit = subprocess.run(
      ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
      ["git", "status", "--porcelain", "--", "abstract_cls", "configs", "experiments/*.py"],
      cwd=ROOT,
      text=True,
      capture_output=True,
      check=True,
    ).stdout.split("\n")
  except (OSError, subprocess.CalledProcessError):
    return "unknown"
  dirty = [line[3:] for line in dirty if line.strip() and not line.startswith("??")]
  return commit + (
    f" + uncommitted changes to {len(dirty)} files ({', '.join(dirty[:4])}"
    f"{', ...' if len(dirty) > 4 else ''})"
    if dirty
    else ""
  )


def machine() -> str:
  """'2-core <CPU model>' (or the accelerator and its host), with the load at the start."""
  import jax  # pylint: disable=g-import-not-at-top

  model = platform.processor() or platform.machine()
  try:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        model = line.split(":", 1)[1].strip()
        break
  except OSError:
    pass
  backend = jax.default_backend()
  if backend != "cpu":
    model = f"{jax.devices()[0].device_kind} ({backend}); host {model}"
  # A shared machine: the load says how much of it a sweep had.
  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  return f"{os.cpu_count()}-core {model}, load average {load:.0f} at sweep start"


def cores_used() -> int:
  """The cores this process may run on (taskset pins a sweep to fewer than the machine has):
  a run's minutes depend on it."""
  if hasattr(os, "sched_getaffinity"):
    return len(os.sched_getaffinity(0))
  return os.cpu_count() or 1
