"""Messages: what a notifier sends, built from decisions and run transitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rollsafe.domain import verdicts


@dataclass(frozen=True, slots=True)
class Message:
    """One notification. ``event`` names what happened (``decision.critical``, ``run.failed``)."""

    event: str
    severity: verdicts.Severity
    title: str
    text: str
    target: str | None = None
    run_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "severity": self.severity.label,
            "title": self.title,
            "text": self.text,
            "target": self.target,
            "run_id": self.run_id,
            "details": dict(self.details),
        }
