"""Restore points: what a driver captured before an upgrade, so the upgrade can be undone.

A restore point belongs to one target. ``data`` is the driver's own description (a snapshot
id, a directory copy and its manifest); ``checks`` holds values measured at checkpoint time
(row counts, file hashes) that verification compares against after a rollback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rollsafe.domain import ids


@dataclass(frozen=True, slots=True)
class RestorePoint:
    id: ids.RestorePointId
    target: ids.TargetId
    driver: str
    created_at: float
    data: Mapping[str, Any] = field(default_factory=dict)
    checks: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "driver": self.driver,
            "created_at": self.created_at,
            "label": self.label,
            "data": dict(self.data),
            "checks": dict(self.checks),
        }
