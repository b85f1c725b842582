"""Exporting the audit log as JSON Lines, and reading an export back.

One event per line, exactly ``AuditEvent.to_json()``: an export carries every hash, so it can
be verified on its own (``rollsafe audit verify --file``) after it has left the host, and fed
to log pipelines that expect one JSON document per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from rollsafe.domain import audit_events

__all__ = ["from_json", "read_jsonl", "to_line", "write_jsonl"]


def to_line(event: audit_events.AuditEvent) -> str:
    """One event as one line of JSON (no trailing newline)."""
    return json.dumps(event.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_jsonl(events: Iterable[audit_events.AuditEvent], stream: TextIO) -> int:
    """Write ``events`` to ``stream``, one per line; returns how many were written."""
    written = 0
    for event in events:
        stream.write(to_line(event))
        stream.write("\n")
        written += 1
    return written


def read_jsonl(lines: Iterable[str]) -> Iterator[audit_events.AuditEvent]:
    """Events from an export, in file order; blank lines are skipped.

    Raises ValueError naming the line number when a line is not an exported event.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield from_json(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number}: not an audit event ({exc})") from exc


def from_json(document: dict[str, Any]) -> audit_events.AuditEvent:
    """The inverse of ``AuditEvent.to_json``."""
    details = document["details"]
    if not isinstance(details, dict):
        raise TypeError("details must be an object")
    entry = audit_events.AuditEntry(
        time=float(document["time"]),
        actor=str(document["actor"]),
        action=str(document["action"]),
        target=_optional_text(document["target"]),
        run_id=_optional_text(document["run_id"]),
        reason=str(document["reason"]),
        details=details,
        result=str(document["result"]),
    )
    return audit_events.AuditEvent(
        seq=int(document["seq"]),
        entry=entry,
        prev_hash=str(document["prev_hash"]),
        hash=str(document["hash"]),
    )


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)
