"""What a shipping sink is: the ``Sink`` protocol, its errors, and the record it ships.

Role in the loop (audit, outward): the shipper hands a sink a batch of ``Record`` s in sequence
order; the sink delivers them or raises. The errors carry ``acked``, how many records at the
front of the batch the platform did take, so the cursor can advance over those and a retry
starts exactly at the first one that did not make it.

Every record carries the event's ``seq`` and ``hash`` and the ``chain`` it belongs to, so a
duplicate (shipping is at least once) can always be recognised downstream.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any, Protocol

from rollsafe.domain import audit_events, errors

__all__ = [
    "CHAIN_ID_LENGTH",
    "Record",
    "Sink",
    "SinkRefused",
    "SinkUnavailable",
    "chain_id",
]

CHAIN_ID_LENGTH = 16
"""Hex digits of event 1's hash that name a chain (a wiped state directory starts a new one)."""


class SinkUnavailable(errors.TemporaryError):
    """The platform could not be reached or asked us to slow down: retry later.

    ``acked`` records at the front of the batch were delivered before the failure.
    """

    def __init__(self, message: str, *, acked: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.acked = acked


class SinkRefused(errors.PermanentError):
    """The platform refused a record (bad credentials, mapping conflict, missing index ...).

    Retrying the same request will not help until a person fixes the cause, but the record
    is never skipped: the sink waits at it, and says why, until it goes through.
    """

    def __init__(self, message: str, *, acked: int = 0) -> None:
        super().__init__(message)
        self.acked = acked


@dataclass(frozen=True, slots=True)
class Record:
    """One audit event as shipped: the event itself plus the chain it belongs to."""

    event: audit_events.AuditEvent
    chain: str

    @property
    def seq(self) -> int:
        return self.event.seq

    @property
    def key(self) -> str:
        """``<chain>-<seq>``: unique per event everywhere, the document id where ids exist."""
        return f"{self.chain}-{self.event.seq}"

    @property
    def time(self) -> float:
        return self.event.entry.time

    def document(self) -> dict[str, Any]:
        """The event as exported (``AuditEvent.to_json``) plus ``chain``."""
        document = self.event.to_json()
        document["chain"] = self.chain
        return document

    def line(self) -> str:
        """``document()`` as one line of compact JSON with sorted keys (stable bytes)."""
        return to_json(self.document())

    def utc(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.time, tz=datetime.UTC)


class Sink(Protocol):
    """A log platform. One instance per configured sink; used by one shipper at a time."""

    name: str

    async def send(self, records: list[Record]) -> None:
        """Deliver every record, in order, or raise SinkUnavailable / SinkRefused."""

    async def close(self) -> None:
        """Release connections; the sink may be used again after (it reconnects)."""


def chain_id(first: audit_events.AuditEvent) -> str:
    """The name of the chain whose oldest stored event is ``first`` (normally event 1)."""
    return first.hash[:CHAIN_ID_LENGTH]


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
