"""How train_step.py's worker times a compiled step, and the figures it reports beside the time.

Seconds per step over timed windows, the images/s and FLOP rates derived from them, XLA's
FLOPs and all-reduces of the compiled program, process CPU seconds, the host's peak RSS,
persistent-cache events and the input path timed alone.
"""

import os
import statistics
import time


def count_cache_events():
  """Counts persistent-cache hits and misses (jax.monitoring events) from now on."""
  import jax  # pylint: disable=g-import-not-at-top

  counts = {"cache_hits": 0, "cache_misses": 0}

  def listener(event, **kwargs):
    del kwargs
    for name in counts:
      if event == f"/jax/compilation_cache/{name}":
        counts[name] += 1

  jax.monitoring.register_event_listener(listener)
  return counts


def compiled_step_figures(compiled):
  """(XLA's FLOPs per step of one device's program, all-reduces in the compiled step)."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops_per_step = float(cost.get("flops", 0.0)) if cost else 0.0
  # The gradient all-reduce plus one per batch-norm reduction when the batch is sharded
  # (synchronised batch norm); 0 on one device.
  all_reduces = sum(
    1
    for line in compiled.as_text().splitlines()
    if " all-reduce(" in line or " all-reduce-start(" in line
  )
  return flops_per_step, all_reduces


def time_steps(run, warmup, steps, windows, phases):
  """The first step, the warm-up and the timed windows, in that order; adds the first step's
  seconds to phases. -> (first_step_done_at, cpu_s_to_first_step, windows' seconds per step,
  cpu_s_per_step)."""
  tick = time.time()
  run(1, 0)
  first_step_done_at = time.time()
  # Process CPU seconds (all threads): on a shared machine this moves far less with the
  # load than wall time does, so it is reported beside it.
  cpu_s_to_first_step = cpu_seconds()
  phases["first_step_s"] = round(first_step_done_at - tick, 2)
  run(warmup, 1)
  seconds, cpu_s_per_step = timed_windows(run, 1 + warmup, steps, windows)
  return first_step_done_at, cpu_s_to_first_step, seconds, cpu_s_per_step


def timed_windows(run, first_step, steps, windows):
  """Seconds per step of each window of `steps` steps, and process CPU seconds per step."""
  seconds, cpu_before, step = [], cpu_seconds(), first_step
  for _ in range(windows):
    tick = time.perf_counter()
    run(steps, step)
    seconds.append((time.perf_counter() - tick) / steps)
    step += steps
  return seconds, (cpu_seconds() - cpu_before) / (steps * windows)


def rates(batch_size, windows, flops_per_step, peak):
  """Images/s and FLOP rates from the windows' seconds per step. flops_per_step counts every
  device (under SPMD, cost_analysis counts one device's program)."""
  step_s = statistics.median(windows)
  return dict(
    img_per_s=round(batch_size / step_s, 1),
    step_ms=round(step_s * 1e3, 2),
    window_img_per_s=[round(batch_size / w, 1) for w in windows],
    xla_flops_per_image=round(flops_per_step / batch_size / 1e9, 3),
    achieved_tflops=round(flops_per_step / step_s / 1e12, 4),
    mfu=round(flops_per_step / step_s / peak, 4) if peak else None,
    peak_tflops_assumed=peak / 1e12 if peak else None,
  )


def time_input_alone(train_input, steps):
  """Milliseconds per batch of the input path alone (pick + augment on the device)."""
  import jax  # pylint: disable=g-import-not-at-top

  @jax.jit
  def batch(device_data, step):
    key = jax.random.fold_in(jax.random.key(0), step)
    return train_input.batch(device_data, {}, step, key)

  if not train_input.device_data:
    return None  # streaming mode: the host feeds the batch
  train_input.prepare_epoch(0)
  jax.block_until_ready(batch(train_input.device_data, 0))
  tick = time.perf_counter()
  for step in range(1, steps + 1):
    train_input.prepare_epoch(step)
    out = batch(train_input.device_data, step)
  jax.block_until_ready(out)
  return round((time.perf_counter() - tick) / steps * 1e3, 2)


def cpu_seconds():
  times = os.times()
  return times.user + times.system


def max_rss_bytes():
  import resource  # pylint: disable=g-import-not-at-top

  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
