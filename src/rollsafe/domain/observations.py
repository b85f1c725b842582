"""Observations: what detection saw, the input of the judge.

An observation is either a fact about the target (a value, an HTTP status, a log line, an
alert state) or, when the probe could not look, an *error*. A probe error is never turned
into a made-up value: "the detector is blind" and "the service is broken" stay different facts
all the way through the judge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rollsafe.domain import ids


class AlertState(enum.StrEnum):
    """State of an alert received from a monitoring system."""

    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Observation:
    """One look at one target by one source (probe name or alert source).

    ``value`` is the primary number: 1.0/0.0 for up/down checks (http, tcp), the measured
    quantity for host/data/command probes, the count of matching lines for log probes.
    ``status`` is an HTTP status or a process exit code; ``latency_s`` how long the check took.
    ``text`` carries non-numeric results: a file hash, the last matching log line.
    ``error`` is set when the probe could not observe; then no other field is trusted.
    """

    time: float
    target: ids.TargetId
    source: str
    value: float | None = None
    status: int | None = None
    latency_s: float | None = None
    text: str | None = None
    alert_state: AlertState | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the probe managed to observe (whatever it saw)."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class Mark:
    """An event on a target's timeline that rules may refer to, e.g. "upgrade finished"."""

    time: float
    target: ids.TargetId
    name: str
