"""Where a step's time goes: the XLA ops of a few traced steps, by thread time.

Used by train_step.py --profile_steps=N. On CPU, XLA's ops (fusions, dots, sorts,
convolutions) appear as events on the thread-pool lines of a jax.profiler trace; this sums
them by name. Thread time, not wall time: ops on the two threads overlap. Some work is not in
the events at all: in LeNet-5's step the first conv's forward pass showed as a gap with no
event on any line (RESULTS.md 1e), so compare op_ms_per_step with step_ms before trusting the list.
"""

import collections
import glob
import os
import tempfile

# Executor bookkeeping and thread-pool markers, not ops.
_NOT_OPS = ("ThunkExecutor", "ThreadpoolListener", "end: ")


def top_ops(run_steps, steps: int, limit: int = 15) -> dict:
  """Traces run_steps(steps) -> dict(op_ms_per_step, top_ops=[[name, ms per step], ...])."""
  import jax  # pylint: disable=g-import-not-at-top
  from jax.profiler import ProfileData  # pylint: disable=g-import-not-at-top

  with tempfile.TemporaryDirectory(prefix="step_profile_") as trace_dir:
    jax.profiler.start_trace(trace_dir)
    try:
      run_steps(steps)
    finally:
      jax.profiler.stop_trace()
    files = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)
    if not files:
      return dict(error=f"no trace written under {trace_dir}")
    profile = ProfileData.from_file(files[-1])
    totals = collections.Counter()
    for plane in profile.planes:
      for line in plane.lines:
        if line.name == "python" or "PjRt" in line.name:
          continue
        for event in line.events:
          if not event.name.startswith(_NOT_OPS):
            totals[event.name] += event.duration_ns
  per_step = {name: ns / steps / 1e6 for name, ns in totals.items()}
  return dict(
    op_ms_per_step=round(sum(per_step.values()), 2),
    top_ops=[
      [name, round(ms, 3)] for name, ms in sorted(per_step.items(), key=lambda kv: -kv[1])[:limit]
    ],
  )
