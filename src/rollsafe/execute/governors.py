"""Safety governors: the brakes in front of the executor (execute stage of the loop).

A rollback is itself a risky change, so before a run may act rollsafe asks:

- **quarantine**: has a person been asked to look at this target (a run failed, or a
  governor tripped)? Then nothing automatic happens to it until someone releases it, and a
  person's rollback only when forced.
- **rate limit** (automatic runs only: a person's rollback is the way out of a loop, never
  stopped by it): has this target already been rolled back ``policy.max_rollbacks_per_target``
  times within ``policy.rollback_window``? Counted are runs that reached ``executing`` (the
  driver acted), not runs that were blocked or failed their prechecks. A target that keeps
  needing rollbacks has a problem a rollback does not fix: the governor trips, quarantines the
  target and asks for a person.
- **dry run**: ``policy.dry_run`` records the decision and acts on nothing.
- **max concurrent runs**: at most ``policy.max_concurrent_runs`` runs hold a slot at once
  (``ConcurrencyLimit``); the executor takes a slot before leaving ``pending``, so excess runs
  wait there, in the store, and are never dropped.

The checks are pure functions of the store's contents and the policy; the executor applies
their verdicts (see ``rollsafe.execute.runs``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rollsafe.config import models
from rollsafe.domain import audit_events, ids, runs
from rollsafe.storage import repositories

__all__ = [
    "DRY_RUN",
    "MAX_CONCURRENT",
    "QUARANTINE",
    "RATE_LIMIT",
    "ConcurrencyLimit",
    "Refusal",
    "Slot",
    "check_quarantine",
    "check_rate_limit",
    "dry_run",
    "recent_rollbacks",
    "trip",
]

QUARANTINE = "quarantine"
RATE_LIMIT = "rate_limit"
DRY_RUN = "dry_run"
MAX_CONCURRENT = "max_concurrent_runs"

# States that prove the driver was asked to act. FAILED is decided per run by its steps.
_ACTED = frozenset({runs.RunState.EXECUTING, runs.RunState.VERIFYING, runs.RunState.SUCCEEDED})


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a governor refused a run: which governor, a sentence for people, and numbers."""

    governor: str
    reason: str
    details: dict[str, object]


def check_quarantine(record: repositories.TargetRecord | None) -> Refusal | None:
    """A refusal if the target is quarantined."""
    if record is None or not record.quarantined:
        return None
    why = record.quarantine_reason or "no reason recorded"
    return Refusal(
        governor=QUARANTINE,
        reason=f"target {record.id} is quarantined ({why}); release it to allow rollbacks",
        details={"quarantine_reason": why},
    )


def recent_rollbacks(
    store: repositories.Store, target: ids.TargetId, *, policy: models.Policy, now: float
) -> list[runs.RollbackRun]:
    """Runs of ``target`` inside the rate-limit window that reached ``executing`` or later."""
    since = now - policy.rollback_window
    acted = []
    for run in store.list_runs(target=target, since=since, limit=10_000):
        if run.created_at < since:
            continue
        if run.state in _ACTED or (run.state is runs.RunState.FAILED and store.list_steps(run.id)):
            acted.append(run)
    return acted


def check_rate_limit(
    store: repositories.Store, target: ids.TargetId, *, policy: models.Policy, now: float
) -> Refusal | None:
    """A refusal if one more rollback would exceed the per-target rate limit."""
    done = recent_rollbacks(store, target, policy=policy, now=now)
    limit = policy.max_rollbacks_per_target
    if len(done) < limit:
        return None
    return Refusal(
        governor=RATE_LIMIT,
        reason=(
            f"target {target} was rolled back {len(done)} times within "
            f"{policy.rollback_window:g}s (limit {limit}); quarantined, a person must look"
        ),
        details={
            "limit": limit,
            "window_s": policy.rollback_window,
            "runs": [run.id for run in done],
        },
    )


def trip(
    store: repositories.Store,
    target: ids.TargetId,
    refusal: Refusal,
    *,
    actor: str,
    now: float,
    run_id: ids.RunId | None = None,
) -> audit_events.AuditEntry:
    """Quarantine ``target`` because ``refusal`` tripped, audited as ``governor.tripped``.

    Returns the audit entry written (the executor hands it to its listeners).
    """
    entry = audit_events.AuditEntry(
        time=now,
        actor=actor,
        action="governor.tripped",
        target=target,
        run_id=run_id,
        reason=refusal.reason,
        details={"governor": refusal.governor, "escalate": True, **refusal.details},
        result="quarantined",
    )
    store.set_quarantine(target, reason=refusal.reason, audit=entry)
    return entry


def dry_run(policy: models.Policy) -> Refusal | None:
    """A refusal (of acting, not of recording) when the policy says dry run."""
    if not policy.dry_run:
        return None
    return Refusal(
        governor=DRY_RUN,
        reason="policy.dry_run is on: decided and audited, nothing done",
        details={},
    )


class ConcurrencyLimit:
    """At most ``limit`` runs hold a slot at once, within one event loop.

    The semaphore is created on first use in the running loop (and again if a later
    ``asyncio.run`` brings a new loop), so an executor can be built outside any loop.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.holders = 0  # read by tests and status: runs holding a slot now

    def _sem(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore = asyncio.Semaphore(self.limit)
            self._loop = loop
            self.holders = 0
        return self._semaphore

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Hold a slot for the body; ``Slot.released()`` gives it back for a while."""
        sem = self._sem()
        await sem.acquire()
        self.holders += 1
        held = Slot(self, sem)
        try:
            yield held
        finally:
            if held.held:
                self.holders -= 1
                sem.release()


class Slot:
    """One held slot of a ``ConcurrencyLimit``."""

    def __init__(self, limit: ConcurrencyLimit, sem: asyncio.Semaphore) -> None:
        self._limit = limit
        self._sem = sem
        self.held = True

    @contextlib.asynccontextmanager
    async def released(self) -> AsyncIterator[None]:
        """Give the slot back for the body (a run waiting for a person) and take it again."""
        self.held = False
        self._limit.holders -= 1
        self._sem.release()
        # No try/finally: a body that raises (or is cancelled) must not wait for a slot again.
        yield
        await self._sem.acquire()
        self._limit.holders += 1
        self.held = True
