"""Decisions: what the judge concluded about a target, with the evidence that explains it.

Severity ``ok`` means nothing to do, ``warning`` means notify only, ``critical`` means roll
back. Evidence holds the values, thresholds, window and rule version, so a decision can be
explained to a person and replayed by ``rollsafe backtest``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rollsafe.domain import ids


class Severity(enum.IntEnum):
    """Ordered so that ``max()`` picks the worst."""

    OK = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True, slots=True)
class Decision:
    """The judge's conclusion for one rule on one target at one time."""

    time: float
    target: ids.TargetId
    rule: ids.RuleId
    severity: Severity
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    pending: bool = False
    """The rule's condition starts to hold but is not confirmed yet (a first failure of the
    several it needs): the judge asks to look at the target again soon. Not stored."""

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "target": self.target,
            "rule": self.rule,
            "severity": self.severity.label,
            "summary": self.summary,
            "evidence": dict(self.evidence),
        }
