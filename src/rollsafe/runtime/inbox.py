"""The inbox processor: stored webhook bodies -> alerts -> observations -> the judge.

Role in the loop (runtime): the API (``interfaces/api``) authenticates a webhook, stores its
body in the store's inbox and only then answers 202. This processor reads the pending rows in
the order they arrived, parses each with its endpoint's parser (``detect/intake``), maps the
alerts to observations of configured targets and hands them to the daemon's sink, which judges
them at once; then it marks the row processed, saving those observations in the same
transaction. One transaction per payload.

Why this order is crash-safe: killed before the row is marked, the row is still pending and is
processed again on start, and judging the same observations again changes nothing (decisions
are stored only when their severity changes, and the executor never opens a second run while
one is open for the target); killed after, everything is in the store and the daemon's warm-up
reads the observations back. A body that parses but names no configured target is marked
``unmapped`` and audited; one that no longer parses (the endpoint's configuration changed
since) is marked ``rejected``. Neither is retried, and neither stops the processor.

The API wakes the processor after each commit; it also polls, so rows stored by another
controller process sharing the store are not left waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rollsafe.config import models
from rollsafe.detect.intake import mapping, payloads, sources
from rollsafe.domain import audit_events, clocks, observations
from rollsafe.storage import repositories

__all__ = ["InboxProcessor", "Processed"]

log = logging.getLogger("rollsafe.inbox")

OBSERVED = "observed"
UNMAPPED = "unmapped"
EMPTY = "empty"
REJECTED = "rejected"
_AUDITED_ALERTS = 20  # alerts listed in one audit event; the count says how many there were


@dataclass(frozen=True, slots=True)
class Processed:
    """What became of one inbox row."""

    inbox_id: int
    outcome: str
    observations: int = 0
    unmapped: int = 0
    finished: bool = True  # False when another processor had finished it first


class InboxProcessor:
    """Processes pending inbox rows (see the module notes). ``await run()`` until cancelled."""

    def __init__(
        self,
        config: models.RollsafeConfig,
        store: repositories.Store,
        *,
        sink: Callable[[observations.Observation], None],
        clock: clocks.Clock,
        batch: int = 100,
        poll_interval: float = 1.0,
        prune_interval: float = 3600.0,
    ) -> None:
        self._store = store
        self._sink = sink
        self._clock = clock
        self._batch = batch
        self._poll_interval = poll_interval
        self._prune_interval = prune_interval
        self._retention = config.policy.observation_retention
        self._endpoints = {endpoint.name: endpoint for endpoint in config.intake}
        self._mappers = {
            endpoint.name: mapping.Mapper(endpoint, config.targets) for endpoint in config.intake
        }
        self._wakeup = asyncio.Event()
        self.processed = 0

    def wake(self) -> None:
        """Something was stored: process it now rather than at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        """Process pending rows as they come, until cancelled."""
        next_prune = self._clock.now()
        while True:
            self._wakeup.clear()
            done = await self.process_pending()
            if self._clock.now() >= next_prune:
                next_prune = self._clock.now() + self._prune_interval
                await self._prune()
            if len(done) >= self._batch:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)

    async def process_pending(self) -> list[Processed]:
        """Process up to one batch of pending rows, oldest first."""
        pending = await asyncio.to_thread(
            self._store.list_inbox, pending_only=True, limit=self._batch
        )
        # The sink (the judge) runs here, on the event loop; the store writes in a thread.
        return [
            await asyncio.to_thread(self._finish, record, self._judge(record)) for record in pending
        ]

    def process(self, record: repositories.InboxRecord) -> Processed:
        """Process one row synchronously (the sink is called on this thread)."""
        return self._finish(record, self._judge(record))

    # ------------------------------------------------------------------ internals

    def _judge(self, record: repositories.InboxRecord) -> _Evaluated:
        """Parse and map one row, and hand its observations to the sink."""
        evaluated = self._evaluate(record)
        for obs in evaluated.observations:
            self._sink(obs)
        return evaluated

    def _evaluate(self, record: repositories.InboxRecord) -> _Evaluated:
        endpoint = self._endpoints.get(record.endpoint)
        if endpoint is None:
            reason = f"endpoint {record.endpoint!r} is no longer configured"
            return _Evaluated(outcome=REJECTED, reason=reason)
        try:
            found = sources.parse(
                endpoint,
                record.body,
                headers=record.headers,
                received_at=record.received_at,
            )
            mapped = self._mappers[endpoint.name].map(found, received_at=record.received_at)
        except payloads.Malformed as exc:
            return _Evaluated(outcome=REJECTED, reason=exc.reason)
        except Exception as exc:  # a bug must not make one payload stop the loop forever
            log.exception("inbox %d (%s): cannot process", record.id, record.endpoint)
            return _Evaluated(outcome=REJECTED, reason=f"internal error: {exc!r}")
        if not found:
            return _Evaluated(outcome=EMPTY)
        outcome = OBSERVED if mapped.observations else UNMAPPED
        return _Evaluated(
            outcome=outcome, observations=mapped.observations, unmapped=mapped.unmapped
        )

    def _finish(self, record: repositories.InboxRecord, evaluated: _Evaluated) -> Processed:
        audit = []
        if evaluated.unmapped:
            audit.append(_unmapped_entry(record, evaluated.unmapped, at=self._clock.now()))
            log.warning(
                "inbox %d (%s): %d alert(s) name no configured target: %s",
                record.id,
                record.endpoint,
                len(evaluated.unmapped),
                evaluated.unmapped[0].reason,
            )
        if evaluated.outcome == REJECTED:
            audit.append(_rejected_entry(record, evaluated.reason, at=self._clock.now()))
            log.warning("inbox %d (%s): rejected: %s", record.id, record.endpoint, evaluated.reason)
        outcome = evaluated.outcome
        if evaluated.reason:
            outcome = f"{outcome}: {evaluated.reason}"
        finished = self._store.finish_inbox(
            record.id,
            outcome=outcome,
            at=self._clock.now(),
            observations=evaluated.observations,
            audit=audit,
        )
        self.processed += 1
        if evaluated.observations:
            log.info(
                "inbox %d (%s): %d observation(s)",
                record.id,
                record.endpoint,
                len(evaluated.observations),
            )
        return Processed(
            inbox_id=record.id,
            outcome=evaluated.outcome,
            observations=len(evaluated.observations),
            unmapped=len(evaluated.unmapped),
            finished=finished,
        )

    async def _prune(self) -> None:
        cutoff = self._clock.now() - self._retention
        removed = await asyncio.to_thread(self._store.prune_inbox, older_than=cutoff)
        if removed:
            log.info("pruned %d processed inbox rows older than retention", removed)


@dataclass(frozen=True, slots=True)
class _Evaluated:
    outcome: str
    reason: str = ""
    observations: list[observations.Observation] = field(default_factory=list)
    unmapped: list[mapping.Unmapped] = field(default_factory=list)


def _unmapped_entry(
    record: repositories.InboxRecord, unmapped: list[mapping.Unmapped], *, at: float
) -> audit_events.AuditEntry:
    listed: list[dict[str, Any]] = [
        {"name": u.alert.name, "labels": dict(u.alert.labels), "reason": u.reason}
        for u in unmapped[:_AUDITED_ALERTS]
    ]
    return audit_events.AuditEntry(
        time=at,
        actor="intake",
        action="intake.unmapped",
        reason=f"{len(unmapped)} alert(s) from {record.endpoint} name no configured target",
        details={"endpoint": record.endpoint, "inbox_id": record.id, "alerts": listed},
        result=UNMAPPED,
    )


def _rejected_entry(
    record: repositories.InboxRecord, reason: str, *, at: float
) -> audit_events.AuditEntry:
    return audit_events.AuditEntry(
        time=at,
        actor="intake",
        action="intake.rejected",
        reason=reason,
        details={"endpoint": record.endpoint, "inbox_id": record.id},
        result=REJECTED,
    )
