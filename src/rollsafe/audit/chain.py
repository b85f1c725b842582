"""The audit hash chain: how each stored event is bound to the one before it.

Every audit event's ``hash`` is SHA-256 over the previous event's hash followed by the
event's canonical bytes (its content, its sequence number and that previous hash). Changing a
stored field breaks the event's own hash; removing an event leaves a gap in the sequence or a
link that points nowhere; removing the newest events is caught against the chain head, which
the store updates in the same transaction as each append.

Everything here is pure: the store calls ``normalized`` and ``link`` when it appends, and
``rollsafe audit verify`` feeds stored events (or an exported file) to ``verify``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rollsafe.domain import audit_events

__all__ = ["GENESIS", "ChainHead", "VerifyResult", "canonical", "link", "normalized", "verify"]

GENESIS = "0" * 64
"""The ``prev_hash`` of the first event: a chain always starts from the same known point."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last sequence number and hash the store has appended (``seq`` 0 when empty)."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of ``verify``.

    ``count`` is the number of events that were checked and found sound before the first
    problem (all of them when ``ok``); ``first_bad_seq`` names the event where the chain
    breaks and ``reason`` says how, in words an operator can act on.
    """

    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain ok: {self.count} events"
        return f"audit chain broken at event {self.first_bad_seq}: {self.reason}"


def normalized(value: Any) -> Any:
    """``value`` as plain JSON data that survives a round trip through JSON unchanged.

    The store saves details in exactly this form and hashes exactly this form, so the hash
    recomputed from what the database gives back is the hash computed at append time.
    Mappings get string keys, tuples and sets become lists, enums their plain values,
    non-finite floats (which JSON cannot carry) the strings "nan", "inf" and "-inf", and
    anything else its ``str()``.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # a StrEnum member becomes its plain value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if isinstance(value, Mapping):
        return {str(key): normalized(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [normalized(item) for item in value]
    if isinstance(value, set | frozenset):
        # Sets have no order of their own; sort their JSON forms so the bytes are stable.
        items = [normalized(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return str(value)


def canonical(entry: audit_events.AuditEntry, *, seq: int, prev_hash: str) -> bytes:
    """The exact bytes that are hashed for one event.

    JSON with sorted keys and no whitespace; floats are written as ``repr`` (the shortest
    text that reads back as the same float), which ``json`` does for every float.
    """
    document = {
        "seq": seq,
        "prev_hash": prev_hash,
        "time": normalized(float(entry.time)),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "run_id": entry.run_id,
        "reason": entry.reason,
        "details": normalized(entry.details),
        "result": entry.result,
    }
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def link(entry: audit_events.AuditEntry, *, seq: int, prev_hash: str) -> str:
    """The hash of the event at ``seq`` that follows the event whose hash is ``prev_hash``."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical(entry, seq=seq, prev_hash=prev_hash))
    return digest.hexdigest()


def verify(
    events: Iterable[audit_events.AuditEvent], *, head: ChainHead | None = None
) -> VerifyResult:
    """Check a whole chain, oldest first, and name the first event where it breaks.

    ``head`` is the store's chain head read *before* the events: the chain must reach it and
    agree with its hash there, which is how removing the newest events is caught. Events
    after the head are allowed (another process may have appended meanwhile) and are
    checked like the others.
    """
    count = 0
    previous: audit_events.AuditEvent | None = None
    for event in events:
        problem = _problem(event, previous)
        if problem is not None:
            return VerifyResult(ok=False, count=count, first_bad_seq=problem[0], reason=problem[1])
        if head is not None and event.seq == head.seq and event.hash != head.hash:
            return VerifyResult(
                ok=False,
                count=count,
                first_bad_seq=event.seq,
                reason=(
                    f"event {event.seq} does not match the chain head"
                    " (the newest events were replaced)"
                ),
            )
        count += 1
        previous = event
    last = previous.seq if previous is not None else 0
    if head is not None and last < head.seq:
        missing = (
            f"event {head.seq} is missing"
            if last + 1 == head.seq
            else f"events {last + 1}..{head.seq} are missing"
        )
        return VerifyResult(
            ok=False,
            count=count,
            first_bad_seq=last + 1,
            reason=f"{missing} (the log ends at {last}, the chain head is at {head.seq})",
        )
    return VerifyResult(ok=True, count=count)


def _problem(
    event: audit_events.AuditEvent, previous: audit_events.AuditEvent | None
) -> tuple[int, str] | None:
    """What is wrong with ``event`` following ``previous``, as (seq to blame, reason)."""
    if previous is None:
        if event.seq != 1:
            return 1, f"event 1 is missing (the log starts at {event.seq})"
        if event.prev_hash != GENESIS:
            return 1, "event 1 does not link to the start of the chain"
    else:
        expected = previous.seq + 1
        if event.seq < expected:
            return event.seq, f"event {event.seq} is out of order (it follows {previous.seq})"
        if event.seq > expected:
            missing = (
                f"event {expected} is missing"
                if event.seq == expected + 1
                else f"events {expected}..{event.seq - 1} are missing"
            )
            return expected, f"{missing} (sequence jumps {previous.seq} -> {event.seq})"
        if event.prev_hash != previous.hash:
            return event.seq, f"event {event.seq} does not link to {previous.seq}"
    if link(event.entry, seq=event.seq, prev_hash=event.prev_hash) != event.hash:
        return event.seq, f"event {event.seq} was altered (hash mismatch)"
    return None
