"""A study's findings: each names the literature claim it checks, whether it holds, and why."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Finding:
  claim: str  # the literature's claim, with its source
  holds: bool | None  # None: not checked (a run it needs is missing or did not converge)
  evidence: str  # the numbers it rests on
  undecided: bool = False  # with holds None: the runs are there but within their seed spread

  @property
  def verdict(self) -> str:
    if self.holds is None:
      return "undecided" if self.undecided else "not checked"
    return "holds" if self.holds else "does not hold"

  def markdown(self) -> str:
    return f"- {self.claim} — **{self.verdict}**: {self.evidence}"

  def as_dict(self) -> dict:
    return dict(claim=self.claim, holds=self.holds, evidence=self.evidence, verdict=self.verdict)


def check(condition: bool, *values: float) -> bool | None:
  """`condition` as a verdict, or None when a value it rests on is missing (nan)."""
  if not all(v is not None and np.isfinite(v) for v in values):
    return None
  return bool(condition)


def unchecked(finding: Finding, why: str) -> Finding:
  return Finding(finding.claim, None, f"{why}. {finding.evidence}")
