"""The hash chain: canonical bytes are stable, and verify names the first broken event."""

from __future__ import annotations

import dataclasses
import enum
import json

import pytest

from rollsafe.audit import chain
from rollsafe.domain import audit_events


def _entry(n: int, **changes: object) -> audit_events.AuditEntry:
    entry = audit_events.AuditEntry(
        time=1_700_000_000.0 + n,
        actor="daemon",
        action="run.step.started",
        target="web-1",
        run_id="run-0001",
        reason=f"step {n}",
        details={"index": n, "ratio": 0.1 + n},
        result="ok",
    )
    return dataclasses.replace(entry, **changes)  # type: ignore[arg-type]


def _build(count: int) -> list[audit_events.AuditEvent]:
    events = []
    prev = chain.GENESIS
    for seq in range(1, count + 1):
        entry = _entry(seq)
        digest = chain.link(entry, seq=seq, prev_hash=prev)
        events.append(audit_events.AuditEvent(seq=seq, entry=entry, prev_hash=prev, hash=digest))
        prev = digest
    return events


def _head(events: list[audit_events.AuditEvent]) -> chain.ChainHead:
    return chain.ChainHead(seq=events[-1].seq, hash=events[-1].hash)


def test_canonical_is_sorted_compact_json_with_float_repr() -> None:
    entry = _entry(1, details={"b": 0.1, "a": [1, 2.5], "c": {"z": None, "y": True}})
    text = chain.canonical(entry, seq=7, prev_hash=chain.GENESIS).decode()
    assert " " not in text.replace("step 1", "")
    document = json.loads(text)
    assert list(document) == sorted(document)
    assert document["seq"] == 7
    assert document["prev_hash"] == chain.GENESIS
    assert '"details":{"a":[1,2.5],"b":0.1,"c":{"y":true,"z":null}}' in text
    assert '"time":1700000001.0' in text


def test_canonical_does_not_depend_on_key_order_or_time_type() -> None:
    one = _entry(1, details={"x": 1, "y": 2}, time=1_700_000_000)
    two = _entry(1, details={"y": 2, "x": 1}, time=1_700_000_000.0)
    assert chain.canonical(one, seq=1, prev_hash=chain.GENESIS) == chain.canonical(
        two, seq=1, prev_hash=chain.GENESIS
    )


def test_link_binds_content_sequence_and_previous_hash() -> None:
    entry = _entry(1)
    base = chain.link(entry, seq=1, prev_hash=chain.GENESIS)
    assert len(base) == 64
    assert base == chain.link(entry, seq=1, prev_hash=chain.GENESIS)
    assert base != chain.link(entry, seq=2, prev_hash=chain.GENESIS)
    assert base != chain.link(entry, seq=1, prev_hash="1" * 64)
    assert base != chain.link(_entry(1, reason="other"), seq=1, prev_hash=chain.GENESIS)


class _Color(enum.StrEnum):
    RED = "red"


def test_normalized_survives_a_json_round_trip() -> None:
    details = {
        "nan": float("nan"),
        "inf": float("-inf"),
        "tuple": (1, 2),
        "set": {"b", "a"},
        "enum": _Color.RED,
        1: "int key",
        "nested": {"deep": [{"x": 1.5}]},
        "other": object,
    }
    once = chain.normalized(details)
    assert once["nan"] == "nan"
    assert once["inf"] == "-inf"
    assert once["tuple"] == [1, 2]
    assert once["set"] == ["a", "b"]
    assert once["enum"] == "red"
    assert once["1"] == "int key"
    assert json.loads(json.dumps(once)) == once
    assert chain.normalized(once) == once


def test_an_intact_chain_verifies() -> None:
    events = _build(20)
    result = chain.verify(events, head=_head(events))
    assert result == chain.VerifyResult(ok=True, count=20)
    assert str(result) == "audit chain ok: 20 events"


def test_an_empty_chain_verifies_against_an_empty_head() -> None:
    assert chain.verify([], head=chain.ChainHead(seq=0, hash=chain.GENESIS)).ok


def test_an_altered_event_is_named() -> None:
    events = _build(20)
    bad = events[16]
    events[16] = dataclasses.replace(bad, entry=_entry(17, details={"index": 999}))
    result = chain.verify(events)
    assert not result.ok
    assert result.first_bad_seq == 17
    assert result.count == 16
    assert result.reason == "event 17 was altered (hash mismatch)"


def test_an_altered_event_with_a_recomputed_hash_breaks_the_next_link() -> None:
    events = _build(20)
    forged = _entry(17, result="forged")
    events[16] = dataclasses.replace(
        events[16], entry=forged, hash=chain.link(forged, seq=17, prev_hash=events[15].hash)
    )
    result = chain.verify(events)
    assert result.first_bad_seq == 18
    assert result.reason == "event 18 does not link to 17"


def test_a_missing_middle_event_is_named() -> None:
    events = _build(20)
    del events[11]
    result = chain.verify(events)
    assert result.first_bad_seq == 12
    assert result.reason == "event 12 is missing (sequence jumps 11 -> 13)"


def test_several_missing_events_are_named_as_a_range() -> None:
    events = _build(20)
    del events[4:7]
    result = chain.verify(events)
    assert result.first_bad_seq == 5
    assert result.reason == "events 5..7 are missing (sequence jumps 4 -> 8)"


def test_a_missing_first_event_is_named() -> None:
    result = chain.verify(_build(5)[2:])
    assert result.first_bad_seq == 1
    assert result.reason == "event 1 is missing (the log starts at 3)"


def test_a_first_event_that_does_not_start_from_genesis_is_named() -> None:
    events = _build(3)
    entry = events[0].entry
    prev = "f" * 64
    events[0] = audit_events.AuditEvent(
        seq=1, entry=entry, prev_hash=prev, hash=chain.link(entry, seq=1, prev_hash=prev)
    )
    result = chain.verify(events)
    assert result.first_bad_seq == 1
    assert "does not link to the start" in result.reason


def test_a_relinked_event_is_named() -> None:
    events = _build(50)
    entry = events[39].entry
    events[39] = audit_events.AuditEvent(
        seq=40, entry=entry, prev_hash="a" * 64, hash=chain.link(entry, seq=40, prev_hash="a" * 64)
    )
    result = chain.verify(events)
    assert result.first_bad_seq == 40
    assert result.reason == "event 40 does not link to 39"


def test_swapped_events_break_at_the_first_one_out_of_place() -> None:
    events = _build(5)
    events[3], events[4] = events[4], events[3]
    result = chain.verify(events)
    assert result.first_bad_seq == 4
    assert result.reason == "event 4 is missing (sequence jumps 3 -> 5)"


def test_a_repeated_event_is_named() -> None:
    events = _build(5)
    events.insert(3, events[2])
    result = chain.verify(events)
    assert result.first_bad_seq == 3
    assert result.reason == "event 3 is out of order (it follows 3)"


def test_removing_the_newest_events_is_caught_by_the_head() -> None:
    events = _build(20)
    head = _head(events)
    assert chain.verify(events[:-1]).ok  # without the head it cannot be seen
    result = chain.verify(events[:-1], head=head)
    assert result.first_bad_seq == 20
    assert result.reason == "event 20 is missing (the log ends at 19, the chain head is at 20)"
    result = chain.verify(events[:-3], head=head)
    assert result.first_bad_seq == 18
    assert result.reason.startswith("events 18..20 are missing")
    assert chain.verify([], head=head).first_bad_seq == 1


def test_replacing_the_newest_event_is_caught_by_the_head() -> None:
    events = _build(5)
    head = _head(events)
    forged = _entry(5, result="forged")
    events[4] = audit_events.AuditEvent(
        seq=5,
        entry=forged,
        prev_hash=events[3].hash,
        hash=chain.link(forged, seq=5, prev_hash=events[3].hash),
    )
    result = chain.verify(events, head=head)
    assert result.first_bad_seq == 5
    assert "does not match the chain head" in result.reason


def test_events_appended_after_the_head_was_read_are_fine() -> None:
    events = _build(10)
    head = chain.ChainHead(seq=events[6].seq, hash=events[6].hash)
    assert chain.verify(events, head=head) == chain.VerifyResult(ok=True, count=10)


@pytest.mark.parametrize("count", [1, 2, 100])
def test_verify_accepts_any_iterable(count: int) -> None:
    assert chain.verify(iter(_build(count))).count == count
