"""The store's interface: what the loop persists and how it reads it back.

The SQLAlchemy implementation (``rollsafe.storage.sql``) serves SQLite (default, WAL) and
PostgreSQL. Everything above the store depends only on this Protocol; tests may use the
in-memory SQLite store, which is the real implementation.

Writes that must be atomic with their audit event take an optional ``audit`` entry and write
both in one transaction: a controller killed between them cannot leave one without the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rollsafe.audit import chain
from rollsafe.domain import (
    audit_events,
    errors,
    ids,
    observations,
    restore_points,
    rollouts,
    runs,
    verdicts,
)


@dataclass(frozen=True, slots=True)
class TargetRecord:
    id: ids.TargetId
    address: str
    labels: dict[str, str]
    driver: str | None
    quarantined: bool = False
    quarantine_reason: str | None = None
    pinned: bool = False  # a rollout rolled it back: rollouts skip it until a person unpins it
    pin_reason: str | None = None


class OpenRunExistsError(errors.ConflictError):
    """A run is already open for this target; carries its id (no second run is opened)."""

    def __init__(self, run_id: ids.RunId) -> None:
        super().__init__(f"run {run_id} is already open for this target")
        self.run_id = run_id


class StaleRunError(errors.ConflictError):
    """The run changed in the store since the caller read it; nothing was written."""

    def __init__(self, run_id: ids.RunId) -> None:
        super().__init__(f"run {run_id} changed meanwhile")
        self.run_id = run_id


class ActiveRolloutExistsError(errors.ConflictError):
    """A rollout is already in progress; carries its id (no second one is opened)."""

    def __init__(self, rollout_id: str) -> None:
        super().__init__(f"rollout {rollout_id} is already in progress")
        self.rollout_id = rollout_id


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A webhook body as received, to be stored before it is answered (headers redacted)."""

    received_at: float
    endpoint: str
    headers: dict[str, str]
    body: bytes
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """A stored webhook body; ``processed_at`` and ``outcome`` are None while pending."""

    id: int
    received_at: float
    endpoint: str
    headers: dict[str, str]
    body: bytes
    dedupe_key: str
    processed_at: float | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class InboxReceipt:
    """Where a received body is: its row, or (``duplicate``) the row of the same body."""

    id: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Flag:
    """A controller-wide switch shared by every replica (the fleet circuit breaker's state)."""

    name: str
    value: dict[str, Any]
    updated_at: float
    updated_by: str


LEADER_LEASE = "leader"
"""The lease whose holder drives runs; its token is the fence the executor writes with."""


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a named lease, until when, and its fencing token (grows with each holder)."""

    name: str
    holder: str
    token: int
    acquired_at: float
    renewed_at: float
    expires_at: float

    def live(self, now: float) -> bool:
        """True while the lease has not expired at ``now``."""
        return now < self.expires_at


class Store(Protocol):
    # ----------------------------------------------------------------- lifecycle
    def migrate(self) -> None:
        """Create or upgrade the schema to the latest migration."""

    def close(self) -> None: ...

    # ----------------------------------------------------------------- targets
    def sync_targets(self, targets: Sequence[TargetRecord]) -> None:
        """Insert or update targets from the config; keeps quarantine flags of known ones."""

    def list_targets(self) -> list[TargetRecord]: ...

    def get_target(self, target: ids.TargetId) -> TargetRecord | None:
        """One target by id (None when the store has not seen it)."""

    def set_quarantine(
        self,
        target: ids.TargetId,
        *,
        reason: str | None,
        audit: audit_events.AuditEntry | None = None,
        fence: int | None = None,
    ) -> None:
        """Quarantine (reason given) or release (reason None) a target.

        ``fence`` (here, on ``save_run`` and on ``save_step``): the writer's leader-lease token;
        FencedOut, and nothing written, when the lease's token is newer. None: the token of
        the leader term the caller runs in (``storage.fencing``), which every other write
        method checks as well; outside a term, no check.
        """

    # ----------------------------------------------------------------- observations
    def add_observations(self, batch: Sequence[observations.Observation]) -> None:
        """One transaction for the whole batch."""

    def list_observations(
        self,
        *,
        target: ids.TargetId | None = None,
        source: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[observations.Observation]:
        """Newest last: the newest ``limit`` made at or after ``since`` and before ``until``."""

    def prune_observations(self, *, older_than: float, keep: Sequence[str] = ()) -> int:
        """Delete observations older than the time, except those of the ``keep`` sources;
        returns how many."""

    # ----------------------------------------------------------------- decisions
    def add_decisions(
        self,
        batch: Sequence[verdicts.Decision],
        *,
        audit: Sequence[audit_events.AuditEntry] = (),
    ) -> None: ...

    def latest_decisions(self) -> dict[ids.TargetId, list[verdicts.Decision]]:
        """Per target, the latest decision of each rule that ever decided on it."""

    def list_decisions(
        self,
        *,
        target: ids.TargetId | None = None,
        limit: int = 100,
        since: float | None = None,
        severity: verdicts.Severity | None = None,
    ) -> list[verdicts.Decision]:
        """Newest last; only those made at or after ``since`` and of ``severity`` if given."""

    # ----------------------------------------------------------------- restore points
    def add_restore_point(
        self, point: restore_points.RestorePoint, *, audit: audit_events.AuditEntry | None = None
    ) -> None: ...

    def list_restore_points(self, target: ids.TargetId | None) -> list[restore_points.RestorePoint]:
        """Newest last (``target`` None: every target's); points retention deleted are left out."""

    def mark_restore_point_deleted(
        self,
        point_id: ids.RestorePointId,
        *,
        at: float,
        audit: audit_events.AuditEntry | None = None,
    ) -> bool:
        """Record that the point is gone from its back end (with ``audit`` in the same write).

        Returns False, writing nothing, when it was already marked or is unknown.
        """

    def get_restore_point(self, point_id: ids.RestorePointId) -> restore_points.RestorePoint | None:
        """None when unknown or deleted by retention (a deleted point cannot be restored)."""

    # ----------------------------------------------------------------- runs
    def open_run(
        self, run: runs.RollbackRun, *, audit: audit_events.AuditEntry | None = None
    ) -> runs.RollbackRun:
        """Persist a new run. Raises OpenRunExistsError if the target already has an open run."""

    def save_run(
        self,
        run: runs.RollbackRun,
        *,
        audit: audit_events.AuditEntry | None = None,
        expected: runs.RollbackRun | None = None,
        fence: int | None = None,
    ) -> None:
        """Persist the run's new state (after ``RollbackRun.moved``).

        With ``expected`` (the run as the caller read it), the write happens only if the stored
        run still has that state and approval decision; otherwise StaleRunError and nothing is
        written (two people, or a person and a deadline, deciding at the same moment).
        """

    def get_run(self, run_id: ids.RunId) -> runs.RollbackRun | None: ...

    def list_runs(
        self,
        *,
        target: ids.TargetId | None = None,
        open_only: bool = False,
        since: float | None = None,
        limit: int = 100,
    ) -> list[runs.RollbackRun]:
        """Oldest first."""

    def save_step(
        self,
        step: runs.StepRecord,
        *,
        audit: audit_events.AuditEntry | None = None,
        fence: int | None = None,
    ) -> None:
        """Insert or update the step identified by (run_id, index)."""

    def list_steps(self, run_id: ids.RunId) -> list[runs.StepRecord]:
        """In index order."""

    # ----------------------------------------------------------------- audit
    def append_audit(self, entry: audit_events.AuditEntry) -> audit_events.AuditEvent: ...

    def list_audit_events(
        self, *, since_seq: int = 0, target: str | None = None
    ) -> Iterator[audit_events.AuditEvent]:
        """In sequence order."""

    def audit_head(self) -> chain.ChainHead | None:
        """The last appended sequence number and hash (seq 0 when nothing was appended).

        Kept apart from the events and updated with each append, so ``chain.verify`` can tell
        when the newest events were removed. None only if the record itself was deleted.
        """

    # ----------------------------------------------------------------- audit shipping
    def get_cursor(self, name: str) -> int:
        """The last audit seq the shipping sink ``name`` acknowledged (0: nothing shipped yet)."""

    def set_cursor(self, name: str, seq: int, *, at: float | None = None) -> None:
        """Record that sink ``name`` acknowledged every event up to ``seq`` (``at``: when,
        default now). Setting a lower seq is allowed: that is how an operator re-ships."""

    # ----------------------------------------------------------------- webhook replays
    def first_use(self, key: str, *, now: float, keep_until: float) -> bool:
        """Remember ``key`` (a signature's digest) until ``keep_until``; False when it is
        remembered already (a replay). Forgets expired keys first.

        Atomic across processes: of two concurrent uses, exactly one gets True.
        """
        ...

    # ----------------------------------------------------------------- approval links
    def use_link(
        self,
        link_id: str,
        *,
        run_id: ids.RunId,
        action: str,
        used_by: str,
        at: float,
    ) -> bool:
        """Record the signed link ``link_id`` (its nonce) as used; False if it already was.

        Atomic across processes: of two concurrent uses, exactly one gets True.
        """

    # ----------------------------------------------------------------- rollouts
    def set_pin(
        self,
        target: ids.TargetId,
        *,
        reason: str | None,
        audit: audit_events.AuditEntry | None = None,
    ) -> None:
        """Pin (reason given) or unpin (reason None) a target; an unknown target is added."""

    def open_rollout(
        self,
        rollout: rollouts.Rollout,
        targets: Sequence[rollouts.RolloutTarget],
        *,
        audit: audit_events.AuditEntry | None = None,
    ) -> rollouts.Rollout:
        """Persist a new rollout and its targets in one transaction.

        Raises ActiveRolloutExistsError if another rollout is in progress.
        """

    def save_rollout(
        self, rollout: rollouts.Rollout, *, audit: audit_events.AuditEntry | None = None
    ) -> None:
        """Persist the controller's view (state, wave, log); ``desired`` is left as stored."""

    def set_rollout_desired(
        self,
        rollout_id: rollouts.RolloutId,
        desired: rollouts.Desired,
        *,
        audit: audit_events.AuditEntry | None = None,
    ) -> None:
        """Record what a person asked for (run, pause, abort); nothing else changes."""

    def get_rollout(self, rollout_id: rollouts.RolloutId) -> rollouts.Rollout | None: ...

    def list_rollouts(self, *, open_only: bool = False, limit: int = 100) -> list[rollouts.Rollout]:
        """The newest ``limit`` rollouts, oldest first."""

    def save_rollout_target(
        self,
        target: rollouts.RolloutTarget,
        *,
        audit: audit_events.AuditEntry | None = None,
        pin: str | None = None,
    ) -> None:
        """Update one target's progress; with ``pin``, pin the target in the same transaction."""

    def list_rollout_targets(self, rollout_id: rollouts.RolloutId) -> list[rollouts.RolloutTarget]:
        """In wave order, then position (targets left out of every wave last)."""

    # ----------------------------------------------------------------- webhook inbox
    def add_inbox(self, entry: InboxEntry, *, dedupe_since: float | None = None) -> InboxReceipt:
        """Store a received body, committed on return.

        When a body with the same ``dedupe_key`` was received at or after ``dedupe_since``,
        nothing is stored and the receipt names that row with ``duplicate=True``.
        """

    def add_inbox_many(
        self, entries: Sequence[tuple[InboxEntry, float | None]]
    ) -> list[InboxReceipt]:
        """``add_inbox`` for each ``(entry, dedupe_since)``, in order, in ONE transaction.

        One commit (one fsync) for many webhook bodies: the intake's group commit. A body
        repeated within the batch is a duplicate of its first copy.
        """

    def list_inbox(
        self,
        *,
        pending_only: bool = False,
        endpoint: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[InboxRecord]:
        """Rows with id above ``after_id``, oldest first."""

    def finish_inbox(
        self,
        inbox_id: int,
        *,
        outcome: str,
        at: float,
        observations: Sequence[observations.Observation] = (),
        audit: Sequence[audit_events.AuditEntry] = (),
    ) -> bool:
        """Mark a row processed with ``outcome``, saving ``observations`` and ``audit`` in the
        same transaction. False, and nothing written, when it was already processed."""

    def prune_inbox(self, *, older_than: float) -> int:
        """Delete processed rows received before ``older_than`` (pending ones are kept)."""

    # ----------------------------------------------------------------- flags
    def get_flag(self, name: str) -> Flag | None:
        """The flag ``name`` (None when it was never set)."""

    def set_flag(
        self,
        name: str,
        value: dict[str, Any],
        *,
        by: str,
        now: float,
        audit: audit_events.AuditEntry | None = None,
    ) -> Flag:
        """Create or replace the flag ``name``, with ``audit`` in the same transaction."""

    # ----------------------------------------------------------------- leader lease
    def acquire_lease(self, name: str, *, holder: str, ttl: float, now: float) -> int | None:
        """Take lease ``name`` for ``ttl`` seconds if it is free, expired or already ours.

        Returns the fencing token, None when another holder's lease is live. The token grows
        by one whenever the lease changes hands (or is taken again after it expired), never
        when a live holder takes it again.
        """

    def renew_lease(self, name: str, *, holder: str, token: int, ttl: float, now: float) -> bool:
        """Extend our lease to ``now + ttl``; False (nothing changed) once another holder took
        it (its token then differs). An expired lease nobody took yet is still ours to renew:
        whoever takes it next gets a new token, so the two can never both write."""

    def release_lease(self, name: str, *, holder: str, token: int) -> bool:
        """Let the lease expire now, so a follower takes over at once; the token is kept."""

    def lease(self, name: str) -> Lease | None:
        """The lease as stored (None when nobody ever took it)."""
