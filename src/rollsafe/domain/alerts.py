"""Alert details: what an alert observation says beyond "firing" or "resolved".

An alert received from a monitoring system (detect/intake) becomes an ``Observation`` with
``alert_state`` set, ``value`` 1.0 (firing) or 0.0 (resolved), and ``text`` holding these
details as compact JSON: which alert it is (``identity``, stable across resends, e.g. the
Alertmanager fingerprint), its name, its severity as mapped by the intake endpoint, its labels
and a one-line summary. The judge (``judge/alerts``) reads them back to know *which* alerts are
firing on a target, so that one alert resolving does not hide another that still fires.

Pure: JSON from the standard library, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rollsafe.domain import observations

__all__ = [
    "SEVERITIES",
    "AlertDetails",
    "AlertSeverity",
    "details_of",
    "severity_rank",
]

AlertSeverity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[AlertSeverity, ...] = ("info", "warning", "critical")
"""Alert severities in increasing order (the intake endpoint maps source labels onto these)."""


_RANKS: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for critical; unknown names rank as warning."""
    return _RANKS.get(severity, 1)


@dataclass(frozen=True, slots=True)
class AlertDetails:
    """Which alert an alert observation is about (see the module notes)."""

    identity: str
    name: str
    severity: AlertSeverity = "warning"
    labels: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""

    def to_text(self) -> str:
        """Compact, key-sorted JSON: equal details always give the same text."""
        data: dict[str, Any] = {
            "id": self.identity,
            "name": self.name,
            "severity": self.severity,
            "labels": dict(sorted(self.labels.items())),
        }
        if self.summary:
            data["summary"] = self.summary
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_text(cls, text: str | None) -> AlertDetails | None:
        """The details in ``text``, or None when it is not such a JSON object."""
        if not text or not text.startswith("{"):
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        labels = data.get("labels")
        severity = data.get("severity")
        return cls(
            identity=str(data.get("id", "")),
            name=str(data.get("name", "")),
            severity=severity if severity in SEVERITIES else "warning",
            labels=(
                {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
            ),
            summary=str(data.get("summary", "")),
        )


def details_of(obs: observations.Observation) -> AlertDetails:
    """The alert details of ``obs``; an observation without them is one anonymous alert."""
    found = AlertDetails.from_text(obs.text)
    if found is not None:
        return found
    return AlertDetails(identity="", name=obs.source)
