"""JSON Lines export: one event per line, read back identical, verifiable on its own."""

from __future__ import annotations

import io

import pytest

from rollsafe.audit import chain, exporting
from rollsafe.domain import audit_events


def _events(count: int) -> list[audit_events.AuditEvent]:
    events = []
    prev = chain.GENESIS
    for seq in range(1, count + 1):
        entry = audit_events.AuditEntry(
            time=1_700_000_000.123456 + seq / 3,
            actor="cli:alice",
            action="run.opened",
            target="db-1" if seq % 2 else None,
            details={"ratio": 1 / 3, "name": "ünïcode", "list": [1, 2.0]},
        )
        digest = chain.link(entry, seq=seq, prev_hash=prev)
        events.append(audit_events.AuditEvent(seq=seq, entry=entry, prev_hash=prev, hash=digest))
        prev = digest
    return events


def test_export_round_trips_and_still_verifies() -> None:
    events = _events(25)
    stream = io.StringIO()
    assert exporting.write_jsonl(events, stream) == 25
    lines = stream.getvalue().splitlines()
    assert len(lines) == 25
    back = list(exporting.read_jsonl(lines))
    assert [event.to_json() for event in back] == [event.to_json() for event in events]
    assert chain.verify(back) == chain.VerifyResult(ok=True, count=25)


def test_a_line_edited_after_export_is_detected() -> None:
    stream = io.StringIO()
    exporting.write_jsonl(_events(5), stream)
    lines = stream.getvalue().splitlines()
    lines[2] = lines[2].replace("cli:alice", "cli:mallory")
    result = chain.verify(exporting.read_jsonl(lines))
    assert result.first_bad_seq == 3


def test_a_line_that_is_not_an_event_names_its_number() -> None:
    with pytest.raises(ValueError, match="line 2"):
        list(exporting.read_jsonl(["", "not json"]))
    with pytest.raises(ValueError, match="line 1"):
        list(exporting.read_jsonl(['{"seq": 1}']))
