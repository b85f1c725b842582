"""Audit events: the append-only record of every transition in the loop.

``hash`` chains each event to the one before it (see ``rollsafe.audit.chain``), so altering or
removing any stored event is detectable by ``rollsafe audit verify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a caller asks to record; the store assigns sequence and hashes."""

    time: float
    actor: str  # "rollsafe", "cli:alice", "daemon", ...
    action: str  # "decision.critical", "run.opened", "run.step.started", ...
    target: str | None = None
    run_id: str | None = None
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    result: str = ""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A stored audit entry with its place in the chain."""

    seq: int
    entry: AuditEntry
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        e = self.entry
        return {
            "seq": self.seq,
            "time": e.time,
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "run_id": e.run_id,
            "reason": e.reason,
            "details": dict(e.details),
            "result": e.result,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }
