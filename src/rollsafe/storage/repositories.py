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
from typing import Protocol

from rollsafe.audit import chain
from rollsafe.domain import audit_events, ids, observations, restore_points, runs, verdicts


@dataclass(frozen=True, slots=True)
class TargetRecord:
    id: ids.TargetId
    address: str
    labels: dict[str, str]
    driver: str | None
    quarantined: bool = False
    quarantine_reason: str | None = None


class OpenRunExistsError(Exception):
    """A run is already open for this target; carries its id (no second run is opened)."""

    def __init__(self, run_id: ids.RunId) -> None:
        super().__init__(f"run {run_id} is already open for this target")
        self.run_id = run_id


class Store(Protocol):
    # ----------------------------------------------------------------- lifecycle
    def migrate(self) -> None:
        """Create or upgrade the schema to the latest migration."""

    def close(self) -> None: ...

    # ----------------------------------------------------------------- targets
    def sync_targets(self, targets: Sequence[TargetRecord]) -> None:
        """Insert or update targets from the config; keeps quarantine flags of known ones."""

    def list_targets(self) -> list[TargetRecord]: ...

    def set_quarantine(
        self,
        target: ids.TargetId,
        *,
        reason: str | None,
        audit: audit_events.AuditEntry | None = None,
    ) -> None:
        """Quarantine (reason given) or release (reason None) a target."""

    # ----------------------------------------------------------------- observations
    def add_observations(self, batch: Sequence[observations.Observation]) -> None:
        """One transaction for the whole batch."""

    def list_observations(
        self,
        *,
        target: ids.TargetId | None = None,
        source: str | None = None,
        since: float | None = None,
        limit: int = 1000,
    ) -> list[observations.Observation]:
        """Newest last."""

    def prune_observations(self, *, older_than: float) -> int:
        """Delete observations older than the time; returns how many."""

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
        self, *, target: ids.TargetId | None = None, limit: int = 100
    ) -> list[verdicts.Decision]:
        """Newest last."""

    # ----------------------------------------------------------------- restore points
    def add_restore_point(
        self, point: restore_points.RestorePoint, *, audit: audit_events.AuditEntry | None = None
    ) -> None: ...

    def list_restore_points(self, target: ids.TargetId) -> list[restore_points.RestorePoint]:
        """Newest last."""

    def get_restore_point(
        self, point_id: ids.RestorePointId
    ) -> restore_points.RestorePoint | None: ...

    # ----------------------------------------------------------------- runs
    def open_run(
        self, run: runs.RollbackRun, *, audit: audit_events.AuditEntry | None = None
    ) -> runs.RollbackRun:
        """Persist a new run. Raises OpenRunExistsError if the target already has an open run."""

    def save_run(
        self, run: runs.RollbackRun, *, audit: audit_events.AuditEntry | None = None
    ) -> None:
        """Persist the run's new state (after ``RollbackRun.moved``)."""

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
        self, step: runs.StepRecord, *, audit: audit_events.AuditEntry | None = None
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
