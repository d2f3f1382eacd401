"""The convolution / pooling output-size rule, checked against a model trace.

For an input of size I, kernel K, stride S and padding P on each side the
output size is O = floor((I - K + 2P) / S) + 1. 'SAME' padding pads just enough
that O = ceil(I / S); its effective padding (possibly uneven, so 2P may be odd)
is max((ceil(I / S) - 1) * S + K - I, 0) in total. 'VALID' means P = 0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

Padding = str | int | Sequence[int] | Sequence[Sequence[int]]


def _pair(value: Any, what: str, layer: str) -> tuple[int, int]:
  if isinstance(value, int):
    return value, value
  values = tuple(value)
  if len(values) == 1:
    return int(values[0]), int(values[0])
  if len(values) == 2 and all(isinstance(v, int) for v in values):
    return int(values[0]), int(values[1])
  raise ValueError(f"layer {layer!r}: cannot read {what}={value!r} as one or two ints")


def padding_totals(
  padding: Padding,
  size: tuple[int, int],
  kernel: tuple[int, int],
  stride: tuple[int, int],
  layer: str = "?",
) -> tuple[int, int]:
  """Total padding (before + after) per spatial dim, i.e. the 2P of the rule."""
  if isinstance(padding, str):
    mode = padding.upper()
    if mode == "VALID":
      return 0, 0
    if mode == "SAME":
      return tuple(
        max((math.ceil(i / s) - 1) * s + k - i, 0) for i, k, s in zip(size, kernel, stride)
      )
    raise ValueError(f"layer {layer!r}: unknown padding {padding!r} (want SAME, VALID or ints)")
  if isinstance(padding, int):
    return 2 * padding, 2 * padding
  items = tuple(padding)
  if len(items) == 2 and all(isinstance(p, int) for p in items):
    return 2 * items[0], 2 * items[1]  # symmetric (P_h, P_w)
  if len(items) == 2 and all(len(tuple(p)) == 2 for p in items):
    return tuple(int(lo) + int(hi) for lo, hi in items)  # ((lo, hi), (lo, hi))
  raise ValueError(f"layer {layer!r}: cannot read padding {padding!r}")


def output_size(size: int, kernel: int, stride: int, pad_total: int) -> int:
  """O = floor((I - K + 2P) / S) + 1, with pad_total = 2P."""
  return (size - kernel + pad_total) // stride + 1


@dataclasses.dataclass(frozen=True)
class LayerCheck:
  """One trace entry checked against the rule; sizes are (height, width)."""

  name: str
  kind: str
  input_hw: tuple[int, int]
  kernel: tuple[int, int]
  stride: tuple[int, int]
  padding: str  # as written in the trace, e.g. "SAME" or "1"
  pad_total: tuple[int, int]  # the effective 2P
  expected_hw: tuple[int, int]
  actual_hw: tuple[int, int]
  channels: int

  @property
  def ok(self) -> bool:
    return self.expected_hw == self.actual_hw

  @property
  def effective_padding(self) -> str:
    """P per side as used in the rule; '.5' marks uneven SAME padding."""
    return "x".join(f"{t / 2:g}" for t in _dedupe(self.pad_total))

  def formula(self) -> str:
    """The rule with this layer's numbers, e.g. 'floor((32-3+2)/1)+1 = 32'."""
    parts = []
    for i, k, s, t, o in zip(
      self.input_hw, self.kernel, self.stride, self.pad_total, self.expected_hw
    ):
      parts.append(f"floor(({i}-{k}+{t})/{s})+1 = {o}")
    return parts[0] if len(set(parts)) == 1 else " ; ".join(parts)


def _padding_text(padding: Padding) -> str:
  if isinstance(padding, str):
    return padding.upper()
  if isinstance(padding, int):
    return str(padding)
  flat = tuple(padding)
  if all(isinstance(p, int) for p in flat) and len(set(flat)) == 1:
    return str(flat[0])
  return str(flat)


def _dedupe(pair: tuple) -> tuple:
  return pair[:1] if pair[0] == pair[1] else pair


def _spatial(shape: Sequence[int], layer: str, what: str) -> tuple[int, int]:
  shape = tuple(int(d) for d in shape)
  if len(shape) < 3:
    raise ValueError(f"layer {layer!r}: {what} {shape} is not [..., H, W, C]")
  return shape[-3], shape[-2]


def check_entry(entry: dict) -> LayerCheck:
  """Checks one model.trace() entry (name, kind, shapes, kernel, stride, padding) against the rule."""
  name = str(entry.get("name", "?"))
  missing = [
    k
    for k in ("kind", "input_shape", "output_shape", "kernel", "stride", "padding")
    if k not in entry
  ]
  if missing:
    raise ValueError(f"trace entry {name!r} lacks {missing}; got keys {sorted(entry)}")
  input_hw = _spatial(entry["input_shape"], name, "input_shape")
  actual_hw = _spatial(entry["output_shape"], name, "output_shape")
  kernel = _pair(entry["kernel"], "kernel", name)
  stride = _pair(entry["stride"], "stride", name)
  dilation = _pair(entry.get("dilation", 1) or 1, "dilation", name)
  # A dilated kernel covers d*(K-1)+1 input pixels; the rule uses that extent.
  extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
  pad_total = padding_totals(entry["padding"], input_hw, extent, stride, name)
  expected = tuple(
    output_size(i, k, s, t) for i, k, s, t in zip(input_hw, extent, stride, pad_total)
  )
  padding = entry["padding"]
  return LayerCheck(
    name=name,
    kind=str(entry["kind"]),
    input_hw=input_hw,
    kernel=kernel,
    stride=stride,
    padding=_padding_text(padding),
    pad_total=pad_total,
    expected_hw=expected,
    actual_hw=actual_hw,
    channels=int(tuple(entry["output_shape"])[-1]),
  )


def check_trace(trace: Sequence[dict]) -> list[LayerCheck]:
  """Checks every conv and pool entry of a trace, in depth order."""
  return [check_entry(e) for e in trace if e.get("kind") in ("conv", "pool")]


def markdown_table(checks: Sequence[LayerCheck]) -> str:
  """All checked layers as a Markdown table (one row per layer)."""
  rows = [
    "| # | layer | kind | input HxW | K | S | padding P | "
    "O = floor((I-K+2P)/S)+1 | actual HxWxC | rule |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ]
  for i, c in enumerate(checks):
    padding = (
      c.padding if c.padding == c.effective_padding else (f"{c.padding} (P={c.effective_padding})")
    )
    rows.append(
      f"| {i} | `{c.name}` | {c.kind} | {c.input_hw[0]}x{c.input_hw[1]} | "
      f"{'x'.join(map(str, _dedupe(c.kernel)))} | {'x'.join(map(str, _dedupe(c.stride)))} | "
      f"{padding} | {c.formula()} | "
      f"{c.actual_hw[0]}x{c.actual_hw[1]}x{c.channels} | {'ok' if c.ok else '**MISMATCH**'} |"
    )
  return "\n".join(rows) + "\n"
