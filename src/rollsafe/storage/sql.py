"""The durable store on SQLAlchemy: SQLite in the state directory by default, PostgreSQL for HA.

Implements ``rollsafe.storage.repositories.Store``. Each public method is one transaction;
a method that takes ``audit=`` appends the audit event in that same transaction, so the data
change and its record commit or vanish together. Appending takes the chain head under the
write lock (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` elsewhere), so any number
of processes can append and the chain stays gap-free.

Every write transaction is fenced (``rollsafe.storage.fencing``): inside a leader term, or
with an explicit ``fence=``, a write whose token is older than the leader lease's raises
``FencedOut`` in the same transaction and writes nothing.

Database errors are translated here into ``errors.StoreError``; nothing above the store sees
a SQLAlchemy exception.

``close`` closes every connection the store opened. SQLAlchemy's ``Engine.dispose`` closes only
the connections resting in the pool; one in use at that moment (a daemon task cancelled at
shutdown leaves its worker thread running a query) would go back to a pool nobody holds, stay
open on the server until garbage collection, and PostgreSQL counts it against
``max_connections`` all the while. So the store counts the transactions in flight, ``close``
waits for them (at most ``CLOSE_GRACE_S``), and a closed store refuses new ones instead of
opening a connection nobody would close.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from rollsafe.audit import chain, redacting
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
from rollsafe.storage import (
    engines,
    fencing,
    migrating,
    repositories,
    revisions,
    rows,
    schema,
    sqlite_read,
)

__all__ = ["DB_FILE", "SqlStore", "default_url", "open_reading", "open_store"]

log = logging.getLogger("rollsafe.storage")

DB_FILE = sqlite_read.DB_FILE
"""Name of the SQLite database inside the state directory."""

_AUDIT_PAGE = 1000  # events read per transaction while iterating: short reads, bounded memory
_PRUNE_CHUNK = 5000  # observations deleted per transaction: the write lock is held briefly

CLOSE_GRACE_S = 30.0
"""How long ``close`` waits for transactions in flight: longer than a writer's lock wait
(``engines.BUSY_TIMEOUT_MS``), so a writer queued on the write lock ends before it."""


def default_url(state_dir: Path) -> str:
    """The SQLite URL of the store in ``state_dir``."""
    return f"sqlite:///{(state_dir / DB_FILE).resolve()}"


def open_store(
    state_dir: Path, url: str | None = None, *, password_env: str | None = None
) -> SqlStore:
    """Create the state directory if needed, open the store and migrate it to the latest schema.

    ``url`` defaults to SQLite in ``state_dir``; give a PostgreSQL URL to share the store
    (``postgresql://`` means psycopg 3). ``password_env`` names the environment variable
    holding the database password (``store.password_env`` in the configuration).
    """
    try:
        # Private by default: the audit log and evidence may say more than they should.
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise errors.StoreError(f"cannot create the state directory {state_dir}: {reason}") from exc
    with _opening_lock(state_dir, url):
        store = SqlStore(url or default_url(state_dir), password_env=password_env)
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


def open_reading(url: str, *, password_env: str | None = None) -> SqlStore:
    """Open an existing store for commands that only read: never created, never migrated.

    The read path for stores the standard-library reader does not take (PostgreSQL): a store
    at another schema than this rollsafe's is ``revisions.SchemaMismatch``, as in
    ``sqlite_read``; one never migrated is an error too (the caller checks that a store is
    there first, to say "no store" in its words).
    """
    store = SqlStore(url, password_env=password_env)
    try:
        revisions.check_readable(store.url, store.reachable_schema_version())
    except BaseException:
        store.close()
        raise
    return store


@contextlib.contextmanager
def _opening_lock(state_dir: Path, url: str | None) -> Iterator[None]:
    """Processes opening the same SQLite store create and migrate it one at a time.

    A fresh SQLite file is switched to WAL and migrated by whoever opens it first; SQLite
    can answer "database is locked" at once (without waiting for ``busy_timeout``) when two
    processes switch journal modes together, so the daemon and a CLI command starting at the
    same moment take turns here instead. Other databases serialise migrations themselves.
    """
    if url is not None and not url.startswith("sqlite"):
        yield
        return
    with (state_dir / ".open.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Conflict(errors.StoreError):
    """The database refused a write because of a constraint (unique or foreign key)."""


class SqlStore:
    """``repositories.Store`` over any SQLAlchemy URL. Call ``migrate()`` before first use."""

    def __init__(self, url: str | sa.URL, *, password_env: str | None = None) -> None:
        try:
            resolved = engines.resolve(url, password_env=password_env)
        except errors.ConfigError as exc:
            raise errors.StoreError(str(exc)) from exc
        self._shown = resolved.render_as_string(hide_password=True)
        # What may be shown or logged: the password, from the URL or the environment, is not.
        self.url = self._shown
        self._secrets = tuple(p for p in (resolved.password,) if isinstance(p, str) and p)
        try:
            self._engine = engines.create(resolved)
        except (ImportError, sa.exc.ArgumentError) as exc:  # NoSuchModuleError is both
            if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("psycopg"):
                # PostgreSQL's driver is an extra: say which, not "No module named 'psycopg'".
                raise errors.StoreError(
                    f"{self._shown}: needs the extra: pip install 'rollsafe[postgres]' "
                    f"(not installed: {exc.name})"
                ) from exc
            raise errors.StoreError(
                f"{self._shown}: not a database rollsafe can use (expected sqlite:///PATH or "
                "postgresql://USER@HOST/DB)"
            ) from exc
        # An in-memory database is one shared connection: threads must take turns on it.
        # Files and servers give each caller its own connection and lock in the database.
        self._turns: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if engines.is_memory(url) else contextlib.nullcontext()
        )
        # Connections checked out now (see the module doc: ``close`` waits for them).
        self._in_use = 0
        self._closed = False
        self._idle = threading.Condition()

    def __repr__(self) -> str:
        return f"SqlStore({self._shown!r})"

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- lifecycle

    def migrate(self) -> None:
        with self._turns, self._checked_out():
            try:
                migrating.upgrade(self._engine)
            except migrating.MigrationError as exc:
                raise errors.StoreError(f"cannot migrate {self._shown}: {exc}") from exc
            except sa_exc.SQLAlchemyError as exc:
                raise errors.StoreError(
                    f"cannot migrate {self._shown}: {_why(exc, self._secrets)}"
                ) from exc

    def schema_version(self) -> str | None:
        """The store's schema version: its Alembic revision (``rollsafe status`` shows it)."""
        with self._turns, self._checked_out():
            return migrating.stored_revision(self._engine)

    def reachable_schema_version(self) -> str | None:
        """``schema_version``, after making sure the database answers at all.

        ``stored_revision`` reads a missing version table as "never migrated"; an unreachable
        database or a refused password must say so instead.
        """
        with self._turns, self._checked_out():
            try:
                with self._engine.connect():
                    pass
            except sa_exc.SQLAlchemyError as exc:
                raise errors.StoreError(
                    f"cannot read {self._shown}: {_why(exc, self._secrets)}"
                ) from exc
            return migrating.stored_revision(self._engine)

    def close(self) -> None:
        """Close every connection: wait for transactions in flight, then refuse new ones.

        Idempotent. A transaction still running after ``CLOSE_GRACE_S`` (a query hung on a
        dead network) is logged and its connection left to end on its own: ``close`` must
        not hang a shutdown.
        """
        with self._idle:
            self._closed = True
            drained = self._idle.wait_for(lambda: self._in_use == 0, timeout=CLOSE_GRACE_S)
            left = self._in_use
        if not drained:
            log.warning(
                "%s: closed with %d transaction(s) still running after %.0fs; their "
                "connections close when they end or when the process exits",
                self._shown,
                left,
                CLOSE_GRACE_S,
            )
        self._engine.dispose()

    # ----------------------------------------------------------------- targets

    def sync_targets(self, targets: Sequence[repositories.TargetRecord]) -> None:
        """Make the table match the configuration, keeping quarantine flags of known targets.

        A target no longer configured is removed unless it is quarantined: a quarantine is a
        safety decision and outlives a configuration edit until someone releases it. Runs,
        decisions and observations of removed targets stay (history does not reference this
        table).
        """
        table = schema.targets
        with self._session(write=True) as connection:
            # A pin is a safety decision too: a pinned target outlives a configuration edit.
            known = {
                row.id: bool(row.quarantined) or bool(row.pinned)
                for row in connection.execute(
                    sa.select(table.c.id, table.c.quarantined, table.c.pinned)
                )
            }
            wanted = {target.id for target in targets}
            gone = sorted(
                id_ for id_, quarantined in known.items() if id_ not in wanted and not quarantined
            )
            if gone:
                connection.execute(sa.delete(table).where(table.c.id.in_(gone)))
            updates = [
                {
                    "b_id": target.id,
                    "address": target.address,
                    "labels": dict(target.labels),
                    "driver": target.driver,
                }
                for target in targets
                if target.id in known
            ]
            if updates:
                connection.execute(
                    sa.update(table).where(table.c.id == sa.bindparam("b_id")), updates
                )
            inserts = [rows.target_values(target) for target in targets if target.id not in known]
            if inserts:
                connection.execute(sa.insert(table), inserts)

    def list_targets(self) -> list[repositories.TargetRecord]:
        with self._session(write=False) as connection:
            result = connection.execute(sa.select(schema.targets).order_by(schema.targets.c.id))
            return [rows.target(row) for row in result]

    def get_target(self, target: ids.TargetId) -> repositories.TargetRecord | None:
        with self._session(write=False) as connection:
            row = connection.execute(
                sa.select(schema.targets).where(schema.targets.c.id == target)
            ).first()
            return rows.target(row) if row is not None else None

    def set_quarantine(
        self,
        target: ids.TargetId,
        *,
        reason: str | None,
        audit: audit_events.AuditEntry | None = None,
        fence: int | None = None,
    ) -> None:
        """Quarantine (``reason`` given) or release (None); an unknown target is added."""
        table = schema.targets
        with self._session(write=True, fence=fence) as connection:
            result = connection.execute(
                sa.update(table)
                .where(table.c.id == target)
                .values(quarantined=reason is not None, quarantine_reason=reason)
            )
            if result.rowcount == 0 and reason is not None:
                # Not configured (yet): quarantine it anyway, refusing would be less safe.
                placeholder = repositories.TargetRecord(
                    id=target,
                    address="",
                    labels={},
                    driver=None,
                    quarantined=True,
                    quarantine_reason=reason,
                )
                connection.execute(sa.insert(table).values(rows.target_values(placeholder)))
            if audit is not None:
                self._append(connection, audit)

    # ----------------------------------------------------------------- observations

    def add_observations(self, batch: Sequence[observations.Observation]) -> None:
        if not batch:
            return
        values = [rows.observation_values(observation) for observation in batch]
        with self._session(write=True) as connection:
            # One executemany for the whole batch, in one transaction.
            connection.execute(sa.insert(schema.observations), values)

    def list_observations(
        self,
        *,
        target: ids.TargetId | None = None,
        source: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[observations.Observation]:
        table = schema.observations
        query = sa.select(table)
        if target is not None:
            query = query.where(table.c.target == target)
        if source is not None:
            query = query.where(table.c.source == source)
        if since is not None:
            query = query.where(table.c.time >= since)
        if until is not None:
            query = query.where(table.c.time < until)
        # The newest ``limit``, handed back oldest first.
        query = query.order_by(table.c.time.desc(), table.c.id.desc()).limit(limit)
        with self._session(write=False) as connection:
            found = [rows.observation(row) for row in connection.execute(query)]
        found.reverse()
        return found

    def prune_observations(self, *, older_than: float, keep: Sequence[str] = ()) -> int:
        """Delete in chunks, one short transaction each (``keep``: sources never deleted).

        A single huge DELETE would hold the write lock for seconds and make a run step or
        an audit append wait (or time out); chunks let those writes in between.
        """
        table = schema.observations
        oldest = (
            sa.select(table.c.id)
            .where(table.c.time < older_than, table.c.source.not_in(keep))
            .order_by(table.c.time)
            .limit(_PRUNE_CHUNK)
            .scalar_subquery()
        )
        deleted = 0
        while True:
            with self._session(write=True) as connection:
                result = connection.execute(sa.delete(table).where(table.c.id.in_(oldest)))
            deleted += int(result.rowcount)
            if result.rowcount < _PRUNE_CHUNK:
                return deleted

    # ----------------------------------------------------------------- decisions

    def add_decisions(
        self,
        batch: Sequence[verdicts.Decision],
        *,
        audit: Sequence[audit_events.AuditEntry] = (),
    ) -> None:
        if not batch and not audit:
            return
        values = [rows.decision_values(decision) for decision in batch]
        with self._session(write=True) as connection:
            if values:
                connection.execute(sa.insert(schema.decisions), values)
            for entry in audit:
                self._append(connection, entry)

    def latest_decisions(self) -> dict[ids.TargetId, list[verdicts.Decision]]:
        table = schema.decisions
        rank = (
            sa.func.row_number()
            .over(
                partition_by=(table.c.target, table.c.rule),
                order_by=(table.c.time.desc(), table.c.id.desc()),
            )
            .label("rank")
        )
        ranked = sa.select(table, rank).subquery()
        query = sa.select(ranked).where(ranked.c.rank == 1).order_by(ranked.c.target, ranked.c.rule)
        latest: dict[ids.TargetId, list[verdicts.Decision]] = {}
        with self._session(write=False) as connection:
            for row in connection.execute(query):
                decision = rows.decision(row)
                latest.setdefault(decision.target, []).append(decision)
        return latest

    def list_decisions(
        self,
        *,
        target: ids.TargetId | None = None,
        limit: int = 100,
        since: float | None = None,
        severity: verdicts.Severity | None = None,
    ) -> list[verdicts.Decision]:
        table = schema.decisions
        query = sa.select(table)
        if target is not None:
            query = query.where(table.c.target == target)
        if since is not None:
            query = query.where(table.c.time >= since)
        if severity is not None:
            query = query.where(table.c.severity == severity.label)
        query = query.order_by(table.c.time.desc(), table.c.id.desc()).limit(limit)
        with self._session(write=False) as connection:
            found = [rows.decision(row) for row in connection.execute(query)]
        found.reverse()
        return found

    # ----------------------------------------------------------------- restore points

    def add_restore_point(
        self, point: restore_points.RestorePoint, *, audit: audit_events.AuditEntry | None = None
    ) -> None:
        try:
            with self._session(write=True) as connection:
                connection.execute(
                    sa.insert(schema.restore_points).values(rows.restore_point_values(point))
                )
                if audit is not None:
                    self._append(connection, audit)
        except _Conflict as exc:
            raise errors.StoreError(f"restore point {point.id} already exists") from exc

    def list_restore_points(self, target: ids.TargetId | None) -> list[restore_points.RestorePoint]:
        table = schema.restore_points
        query = sa.select(table).where(table.c.deleted_at.is_(None))
        if target is not None:
            query = query.where(table.c.target == target)
        query = query.order_by(table.c.created_at, table.c.id)
        with self._session(write=False) as connection:
            return [rows.restore_point(row) for row in connection.execute(query)]

    def mark_restore_point_deleted(
        self,
        point_id: ids.RestorePointId,
        *,
        at: float,
        audit: audit_events.AuditEntry | None = None,
    ) -> bool:
        table = schema.restore_points
        with self._session(write=True) as connection:
            changed = connection.execute(
                sa.update(table)
                .where(table.c.id == point_id, table.c.deleted_at.is_(None))
                .values(deleted_at=at)
            ).rowcount
            if changed and audit is not None:
                self._append(connection, audit)
        return bool(changed)

    def get_restore_point(self, point_id: ids.RestorePointId) -> restore_points.RestorePoint | None:
        table = schema.restore_points
        with self._session(write=False) as connection:
            row = connection.execute(
                sa.select(table).where(table.c.id == point_id, table.c.deleted_at.is_(None))
            ).first()
        return None if row is None else rows.restore_point(row)

    # ----------------------------------------------------------------- runs

    def open_run(
        self, run: runs.RollbackRun, *, audit: audit_events.AuditEntry | None = None
    ) -> runs.RollbackRun:
        try:
            with self._session(write=True) as connection:
                if run.open:
                    # Under the write lock this check is exact on SQLite; on other databases
                    # the unique open_target constraint settles a race (handled below).
                    existing = self._open_run_id(connection, run.target)
                    if existing is not None:
                        raise repositories.OpenRunExistsError(existing)
                connection.execute(sa.insert(schema.runs).values(rows.run_values(run)))
                if audit is not None:
                    self._append(connection, audit)
        except _Conflict as exc:
            self._raise_open_run_exists(run.target)
            raise errors.StoreError(f"run {run.id} already exists") from exc
        return run

    def save_run(
        self,
        run: runs.RollbackRun,
        *,
        audit: audit_events.AuditEntry | None = None,
        expected: runs.RollbackRun | None = None,
        fence: int | None = None,
    ) -> None:
        table = schema.runs
        values = rows.run_values(run)
        del values["id"]
        fence = fence if fence is not None else fencing.current()
        if fence is not None:
            values["fence"] = fence  # which leader's term wrote it, for the post-mortem
        update = sa.update(table).where(table.c.id == run.id)
        if expected is not None:
            # Compare-and-set: only over the state and decision the caller saw.
            decision = table.c.approval_decision
            update = update.where(
                table.c.state == expected.state.value,
                decision.is_(None)
                if expected.approval.decision is None
                else decision == expected.approval.decision,
            )
        try:
            with self._session(write=True, fence=fence) as connection:
                result = connection.execute(update.values(values))
                if result.rowcount == 0 and expected is not None:
                    raise repositories.StaleRunError(run.id)
                if result.rowcount == 0:
                    raise errors.StoreError(f"run {run.id} is not in the store")
                if audit is not None:
                    self._append(connection, audit)
        except _Conflict as exc:
            self._raise_open_run_exists(run.target)
            raise errors.StoreError(f"cannot save run {run.id}: {exc}") from exc

    def get_run(self, run_id: ids.RunId) -> runs.RollbackRun | None:
        table = schema.runs
        with self._session(write=False) as connection:
            row = connection.execute(sa.select(table).where(table.c.id == run_id)).first()
        return None if row is None else rows.run(row)

    def list_runs(
        self,
        *,
        target: ids.TargetId | None = None,
        open_only: bool = False,
        since: float | None = None,
        limit: int = 100,
    ) -> list[runs.RollbackRun]:
        """The newest ``limit`` matching runs (``since`` compares creation time), oldest first."""
        table = schema.runs
        query = sa.select(table)
        if target is not None:
            query = query.where(table.c.target == target)
        if open_only:
            query = query.where(table.c.open_target.is_not(None))
        if since is not None:
            query = query.where(table.c.created_at >= since)
        query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
        with self._session(write=False) as connection:
            found = [rows.run(row) for row in connection.execute(query)]
        found.reverse()
        return found

    def save_step(
        self,
        step: runs.StepRecord,
        *,
        audit: audit_events.AuditEntry | None = None,
        fence: int | None = None,
    ) -> None:
        table = schema.run_steps
        fence = fence if fence is not None else fencing.current()
        values = {**rows.step_values(step), "fence": fence}  # the term that wrote it
        try:
            with self._session(write=True, fence=fence) as connection:
                result = connection.execute(
                    sa.update(table)
                    .where(table.c.run_id == step.run_id, table.c.step_index == step.index)
                    .values(values)
                )
                if result.rowcount == 0:
                    connection.execute(sa.insert(table).values(values))
                if audit is not None:
                    self._append(connection, audit)
        except _Conflict as exc:
            raise errors.StoreError(
                f"cannot save step {step.key}: run {step.run_id} is not in the store"
            ) from exc

    def list_steps(self, run_id: ids.RunId) -> list[runs.StepRecord]:
        table = schema.run_steps
        query = sa.select(table).where(table.c.run_id == run_id).order_by(table.c.step_index)
        with self._session(write=False) as connection:
            return [rows.step(row) for row in connection.execute(query)]

    # ----------------------------------------------------------------- audit

    def append_audit(self, entry: audit_events.AuditEntry) -> audit_events.AuditEvent:
        with self._session(write=True) as connection:
            return self._append(connection, entry)

    def list_audit_events(
        self, *, since_seq: int = 0, target: str | None = None
    ) -> Iterator[audit_events.AuditEvent]:
        """Events with ``seq`` above ``since_seq``, read a page per short transaction."""
        table = schema.audit_events
        after = since_seq
        while True:
            query = sa.select(table).where(table.c.seq > after)
            if target is not None:
                query = query.where(table.c.target == target)
            query = query.order_by(table.c.seq).limit(_AUDIT_PAGE)
            with self._session(write=False) as connection:
                page = [rows.audit_event(row) for row in connection.execute(query)]
            yield from page
            if len(page) < _AUDIT_PAGE:
                return
            after = page[-1].seq

    def audit_head(self) -> chain.ChainHead | None:
        table = schema.audit_head
        with self._session(write=False) as connection:
            row = connection.execute(
                sa.select(table.c.seq, table.c.hash).where(table.c.id == schema.AUDIT_HEAD_ROW)
            ).first()
        return None if row is None else chain.ChainHead(seq=row.seq, hash=row.hash)

    # ----------------------------------------------------------------- audit shipping

    def get_cursor(self, name: str) -> int:
        table = schema.shipping_cursors
        with self._session(write=False) as connection:
            seq = connection.scalar(sa.select(table.c.seq).where(table.c.name == name))
        return 0 if seq is None else int(seq)

    def set_cursor(self, name: str, seq: int, *, at: float | None = None) -> None:
        table = schema.shipping_cursors
        values = {"seq": int(seq), "updated_at": time.time() if at is None else float(at)}
        with self._session(write=True) as connection:
            # Update, else insert: portable (no dialect upsert), and exact under the write lock.
            result = connection.execute(sa.update(table).where(table.c.name == name).values(values))
            if result.rowcount == 0:
                connection.execute(sa.insert(table).values(name=name, **values))

    # ----------------------------------------------------------------- webhook replays

    def first_use(self, key: str, *, now: float, keep_until: float) -> bool:
        table = schema.intake_replays
        try:
            with self._session(write=True) as connection:
                # Expired keys go first (indexed by keep_until): the table stays as small as
                # the signatures still inside their tolerance window.
                connection.execute(sa.delete(table).where(table.c.keep_until < float(now)))
                connection.execute(sa.insert(table).values(key=key, keep_until=float(keep_until)))
        except _Conflict:
            return False  # the primary key refused it: already used, still remembered
        return True

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
        values = {
            "id": link_id,
            "run_id": run_id,
            "action": action,
            "used_by": used_by,
            "used_at": float(at),
        }
        try:
            with self._session(write=True) as connection:
                connection.execute(sa.insert(schema.approval_links).values(values))
        except _Conflict:
            return False  # the primary key refused it: this link was used before
        return True

    # ----------------------------------------------------------------- webhook inbox

    def add_inbox(
        self, entry: repositories.InboxEntry, *, dedupe_since: float | None = None
    ) -> repositories.InboxReceipt:
        return self.add_inbox_many([(entry, dedupe_since)])[0]

    def add_inbox_many(
        self, entries: Sequence[tuple[repositories.InboxEntry, float | None]]
    ) -> list[repositories.InboxReceipt]:
        """One write transaction, so the dedupe check and the insert are exact: under
        ``BEGIN IMMEDIATE`` on SQLite, under the write lock (see ``engines``) on PostgreSQL."""
        table = schema.inbox
        receipts: list[repositories.InboxReceipt] = []
        # Bodies stored by this batch (not visible to the query below until we commit).
        stored: dict[str, tuple[int, float]] = {}
        with self._session(write=True) as connection:
            for entry, dedupe_since in entries:
                if dedupe_since is not None:
                    earlier = stored.get(entry.dedupe_key)
                    if earlier is not None and earlier[1] >= dedupe_since:
                        receipts.append(repositories.InboxReceipt(id=earlier[0], duplicate=True))
                        continue
                    existing = connection.scalar(
                        sa.select(table.c.id)
                        .where(table.c.dedupe_key == entry.dedupe_key)
                        .where(table.c.received_at >= dedupe_since)
                        .order_by(table.c.id)
                        .limit(1)
                    )
                    if existing is not None:
                        receipts.append(repositories.InboxReceipt(id=int(existing), duplicate=True))
                        continue
                result = connection.execute(sa.insert(table).values(rows.inbox_values(entry)))
                key = result.inserted_primary_key
                if key is None:
                    raise errors.StoreError(f"{self._shown}: the inbox row got no id")
                stored.setdefault(entry.dedupe_key, (int(key[0]), entry.received_at))
                receipts.append(repositories.InboxReceipt(id=int(key[0]), duplicate=False))
        return receipts

    def list_inbox(
        self,
        *,
        pending_only: bool = False,
        endpoint: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[repositories.InboxRecord]:
        table = schema.inbox
        query = sa.select(table).where(table.c.id > after_id)
        if pending_only:
            query = query.where(table.c.processed_at.is_(None))
        if endpoint is not None:
            query = query.where(table.c.endpoint == endpoint)
        query = query.order_by(table.c.id).limit(limit)
        with self._session(write=False) as connection:
            return [rows.inbox_record(row) for row in connection.execute(query)]

    def finish_inbox(
        self,
        inbox_id: int,
        *,
        outcome: str,
        at: float,
        observations: Sequence[observations.Observation] = (),
        audit: Sequence[audit_events.AuditEntry] = (),
    ) -> bool:
        table = schema.inbox
        with self._session(write=True) as connection:
            result = connection.execute(
                sa.update(table)
                .where(table.c.id == inbox_id, table.c.processed_at.is_(None))
                .values(processed_at=float(at), outcome=outcome)
            )
            if result.rowcount == 0:
                return False  # already processed (or gone): write nothing twice
            if observations:
                connection.execute(
                    sa.insert(schema.observations),
                    [rows.observation_values(o) for o in observations],
                )
            for entry in audit:
                self._append(connection, entry)
        return True

    def prune_inbox(self, *, older_than: float) -> int:
        table = schema.inbox
        with self._session(write=True) as connection:
            result = connection.execute(
                sa.delete(table).where(
                    table.c.received_at < older_than, table.c.processed_at.is_not(None)
                )
            )
        return int(result.rowcount)

    # ----------------------------------------------------------------- rollouts

    def set_pin(
        self,
        target: ids.TargetId,
        *,
        reason: str | None,
        audit: audit_events.AuditEntry | None = None,
    ) -> None:
        """Pin (``reason`` given) or unpin (None); an unknown target is added when pinned."""
        with self._session(write=True) as connection:
            self._pin(connection, target, reason)
            if audit is not None:
                self._append(connection, audit)

    def open_rollout(
        self,
        rollout: rollouts.Rollout,
        targets: Sequence[rollouts.RolloutTarget],
        *,
        audit: audit_events.AuditEntry | None = None,
    ) -> rollouts.Rollout:
        try:
            with self._session(write=True) as connection:
                if rollout.open:
                    # Exact on SQLite under the write lock; elsewhere the unique ``active``
                    # column settles a race (handled below).
                    existing = self._active_rollout_id(connection)
                    if existing is not None:
                        raise repositories.ActiveRolloutExistsError(existing)
                values = rows.rollout_values(rollout)
                values["desired"] = rollout.desired.value
                connection.execute(sa.insert(schema.rollouts).values(values))
                if targets:
                    connection.execute(
                        sa.insert(schema.rollout_targets),
                        [rows.rollout_target_values(t) for t in targets],
                    )
                if audit is not None:
                    self._append(connection, audit)
        except _Conflict as exc:
            with self._session(write=False) as connection:
                existing = self._active_rollout_id(connection)
            if existing is not None:
                raise repositories.ActiveRolloutExistsError(existing) from exc
            raise errors.StoreError(f"rollout {rollout.id} already exists") from exc
        return rollout

    def save_rollout(
        self, rollout: rollouts.Rollout, *, audit: audit_events.AuditEntry | None = None
    ) -> None:
        table = schema.rollouts
        values = rows.rollout_values(rollout)
        del values["id"]
        with self._session(write=True) as connection:
            result = connection.execute(
                sa.update(table).where(table.c.id == rollout.id).values(values)
            )
            if result.rowcount == 0:
                raise errors.StoreError(f"rollout {rollout.id} is not in the store")
            if audit is not None:
                self._append(connection, audit)

    def set_rollout_desired(
        self,
        rollout_id: rollouts.RolloutId,
        desired: rollouts.Desired,
        *,
        audit: audit_events.AuditEntry | None = None,
    ) -> None:
        table = schema.rollouts
        with self._session(write=True) as connection:
            result = connection.execute(
                sa.update(table).where(table.c.id == rollout_id).values(desired=desired.value)
            )
            if result.rowcount == 0:
                raise errors.StoreError(f"rollout {rollout_id} is not in the store")
            if audit is not None:
                self._append(connection, audit)

    def get_rollout(self, rollout_id: rollouts.RolloutId) -> rollouts.Rollout | None:
        table = schema.rollouts
        with self._session(write=False) as connection:
            row = connection.execute(sa.select(table).where(table.c.id == rollout_id)).first()
        return None if row is None else rows.rollout(row)

    def list_rollouts(self, *, open_only: bool = False, limit: int = 100) -> list[rollouts.Rollout]:
        table = schema.rollouts
        query = sa.select(table)
        if open_only:
            query = query.where(table.c.active.is_not(None))
        query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
        with self._session(write=False) as connection:
            found = [rows.rollout(row) for row in connection.execute(query)]
        found.reverse()
        return found

    def save_rollout_target(
        self,
        target: rollouts.RolloutTarget,
        *,
        audit: audit_events.AuditEntry | None = None,
        pin: str | None = None,
    ) -> None:
        table = schema.rollout_targets
        values = rows.rollout_target_values(target)
        with self._session(write=True) as connection:
            result = connection.execute(
                sa.update(table)
                .where(table.c.rollout_id == target.rollout_id, table.c.target == target.target)
                .values(values)
            )
            if result.rowcount == 0:
                raise errors.StoreError(
                    f"target {target.target} is not part of rollout {target.rollout_id}"
                )
            if pin is not None:
                self._pin(connection, target.target, pin)
            if audit is not None:
                self._append(connection, audit)

    def list_rollout_targets(self, rollout_id: rollouts.RolloutId) -> list[rollouts.RolloutTarget]:
        table = schema.rollout_targets
        query = sa.select(table).where(table.c.rollout_id == rollout_id)
        with self._session(write=False) as connection:
            found = [rows.rollout_target(row) for row in connection.execute(query)]
        # Targets left out of every wave (wave NULL) come last, in their own order.
        return sorted(
            found, key=lambda t: (t.wave is None, t.wave if t.wave is not None else 0, t.position)
        )

    # ----------------------------------------------------------------- internals

    @contextlib.contextmanager
    def _session(self, *, write: bool, fence: int | None = None) -> Iterator[sa.Connection]:
        """One transaction; writers take the write lock up front (see ``engines``).

        Every write transaction is fenced: by ``fence`` when given, else by the token of the
        leader term the caller runs in (``fencing.current()``, None outside a term).
        """
        with self._turns, self._checked_out():
            try:
                with self._engine.connect() as connection:
                    if write:
                        connection.execution_options(**engines.WRITE)
                    with connection.begin():
                        if write:
                            self._check_fence(
                                connection, fence if fence is not None else fencing.current()
                            )
                        yield connection
            except sa_exc.IntegrityError as exc:
                raise _Conflict(f"{self._shown}: {_why(exc, self._secrets)}") from exc
            except sa_exc.SQLAlchemyError as exc:
                raise errors.StoreError(f"{self._shown}: {_why(exc, self._secrets)}") from exc

    @contextlib.contextmanager
    def _checked_out(self) -> Iterator[None]:
        """Count a use of the engine, so that ``close`` can wait for it; refused once closed."""
        with self._idle:
            if self._closed:
                raise errors.StoreError(f"{self._shown}: the store is closed")
            self._in_use += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_use -= 1
                self._idle.notify_all()

    def _append(
        self, connection: sa.Connection, entry: audit_events.AuditEntry
    ) -> audit_events.AuditEvent:
        """Append one event inside the caller's write transaction."""
        head_table = schema.audit_head
        row = connection.execute(
            sa.select(head_table.c.seq, head_table.c.hash)
            .where(head_table.c.id == schema.AUDIT_HEAD_ROW)
            .with_for_update()  # PostgreSQL: appenders queue here; SQLite ignores it
        ).first()
        if row is None:
            head = self._rebuild_head(connection, at=entry.time)
        else:
            head = chain.ChainHead(seq=row.seq, hash=row.hash)
        return self._append_after(connection, entry, head=head)

    def _append_after(
        self,
        connection: sa.Connection,
        entry: audit_events.AuditEntry,
        *,
        head: chain.ChainHead,
    ) -> audit_events.AuditEvent:
        # Store exactly what is hashed: redacted, plain JSON, time as a float.
        stored = dataclasses.replace(
            entry,
            time=float(entry.time),
            reason=redacting.redact_text(entry.reason),
            result=redacting.redact_text(entry.result),
            details=redacting.redact(chain.normalized(entry.details)),
        )
        seq = head.seq + 1
        event = audit_events.AuditEvent(
            seq=seq,
            entry=stored,
            prev_hash=head.hash,
            hash=chain.link(stored, seq=seq, prev_hash=head.hash),
        )
        connection.execute(sa.insert(schema.audit_events).values(rows.audit_event_values(event)))
        connection.execute(
            sa.update(schema.audit_head)
            .where(schema.audit_head.c.id == schema.AUDIT_HEAD_ROW)
            .values(seq=event.seq, hash=event.hash)
        )
        return event

    def _rebuild_head(self, connection: sa.Connection, *, at: float) -> chain.ChainHead:
        """Recreate a deleted chain head from the newest event, and say so in the chain.

        Refusing to append would stop every run (their steps are audited), so the loop goes
        on; the marker event keeps the tampering visible in the log itself.
        """
        table = schema.audit_events
        last = connection.execute(
            sa.select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)
        ).first()
        head = (
            chain.ChainHead(seq=0, hash=chain.GENESIS)
            if last is None
            else chain.ChainHead(seq=last.seq, hash=last.hash)
        )
        connection.execute(
            sa.insert(schema.audit_head).values(
                id=schema.AUDIT_HEAD_ROW, seq=head.seq, hash=head.hash
            )
        )
        marker = audit_events.AuditEntry(
            time=at,
            actor="rollsafe",
            action="audit.head_rebuilt",
            reason="the audit chain head was missing; rebuilt from the newest stored event",
            details={"seq": head.seq, "hash": head.hash},
            result="rebuilt",
        )
        event = self._append_after(connection, marker, head=head)
        return chain.ChainHead(seq=event.seq, hash=event.hash)

    def _pin(self, connection: sa.Connection, target: ids.TargetId, reason: str | None) -> None:
        table = schema.targets
        result = connection.execute(
            sa.update(table)
            .where(table.c.id == target)
            .values(pinned=reason is not None, pin_reason=reason)
        )
        if result.rowcount == 0 and reason is not None:
            # Not configured (any more): pin it anyway, forgetting would be less safe.
            placeholder = repositories.TargetRecord(
                id=target, address="", labels={}, driver=None, pinned=True, pin_reason=reason
            )
            connection.execute(sa.insert(table).values(rows.target_values(placeholder)))

    def _active_rollout_id(self, connection: sa.Connection) -> str | None:
        table = schema.rollouts
        found = connection.scalar(sa.select(table.c.id).where(table.c.active.is_not(None)))
        return None if found is None else str(found)

    def _open_run_id(self, connection: sa.Connection, target: ids.TargetId) -> ids.RunId | None:
        table = schema.runs
        found = connection.scalar(sa.select(table.c.id).where(table.c.open_target == target))
        return None if found is None else ids.RunId(found)

    def _raise_open_run_exists(self, target: ids.TargetId) -> None:
        """After a refused write: if an open run holds ``target``, raise OpenRunExistsError."""
        with self._session(write=False) as connection:
            existing = self._open_run_id(connection, target)
        if existing is not None:
            raise repositories.OpenRunExistsError(existing)

    # ----------------------------------------------------------------- flags

    def get_flag(self, name: str) -> repositories.Flag | None:
        table = schema.flags
        with self._session(write=False) as connection:
            row = connection.execute(sa.select(table).where(table.c.name == name)).first()
        if row is None:
            return None
        value = row.value if isinstance(row.value, dict) else {}
        return repositories.Flag(
            name=row.name, value=dict(value), updated_at=row.updated_at, updated_by=row.updated_by
        )

    def set_flag(
        self,
        name: str,
        value: dict[str, Any],
        *,
        by: str,
        now: float,
        audit: audit_events.AuditEntry | None = None,
    ) -> repositories.Flag:
        table = schema.flags
        values = {"value": dict(value), "updated_at": float(now), "updated_by": by}
        with self._session(write=True) as connection:
            # Update, else insert: portable, and exact under the write lock (as set_cursor).
            result = connection.execute(sa.update(table).where(table.c.name == name).values(values))
            if result.rowcount == 0:
                connection.execute(sa.insert(table).values(name=name, **values))
            if audit is not None:
                self._append(connection, audit)
        return repositories.Flag(name=name, value=dict(value), updated_at=float(now), updated_by=by)

    # ----------------------------------------------------------------- leader lease

    def acquire_lease(self, name: str, *, holder: str, ttl: float, now: float) -> int | None:
        table = schema.leases
        try:
            with self._session(write=True) as connection:
                row = connection.execute(
                    sa.select(table).where(table.c.name == name).with_for_update()
                ).first()
                if row is None:
                    connection.execute(
                        sa.insert(table).values(
                            name=name,
                            holder=holder,
                            token=1,
                            acquired_at=now,
                            renewed_at=now,
                            expires_at=now + ttl,
                        )
                    )
                    return 1
                live = now < row.expires_at
                if live and row.holder != holder:
                    return None
                if live:
                    # Ours and live: taking it again is a renewal, the term goes on.
                    connection.execute(
                        sa.update(table)
                        .where(table.c.name == name)
                        .values(renewed_at=now, expires_at=now + ttl)
                    )
                    return int(row.token)
                # Expired: a new term, with a token no earlier writer can carry.
                token = int(row.token) + 1
                connection.execute(
                    sa.update(table)
                    .where(table.c.name == name, table.c.token == row.token)
                    .values(
                        holder=holder,
                        token=token,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + ttl,
                    )
                )
                return token
        except _Conflict:
            return None  # two first takers inserted the row at once: the other one won

    def renew_lease(self, name: str, *, holder: str, token: int, ttl: float, now: float) -> bool:
        table = schema.leases
        with self._session(write=True) as connection:
            result = connection.execute(
                sa.update(table)
                .where(table.c.name == name, table.c.holder == holder, table.c.token == token)
                .values(renewed_at=now, expires_at=now + ttl)
            )
            return bool(result.rowcount == 1)

    def release_lease(self, name: str, *, holder: str, token: int) -> bool:
        table = schema.leases
        with self._session(write=True) as connection:
            result = connection.execute(
                sa.update(table)
                .where(table.c.name == name, table.c.holder == holder, table.c.token == token)
                .values(expires_at=0.0)
            )
            return bool(result.rowcount == 1)

    def lease(self, name: str) -> repositories.Lease | None:
        table = schema.leases
        with self._session(write=False) as connection:
            row = connection.execute(sa.select(table).where(table.c.name == name)).first()
        if row is None:
            return None
        return repositories.Lease(
            name=row.name,
            holder=row.holder,
            token=int(row.token),
            acquired_at=row.acquired_at,
            renewed_at=row.renewed_at,
            expires_at=row.expires_at,
        )

    def _check_fence(self, connection: sa.Connection, fence: int | None) -> None:
        """Refuse, inside the caller's transaction, a write from a leader that was replaced.

        The lease row is read with a share lock: a takeover committing meanwhile is either
        waited for (and then seen) or waits for this write, so the new leader reads the
        store after it. SQLite holds its write lock for the whole transaction anyway.
        """
        if fence is None:
            return
        table = schema.leases
        current = connection.scalar(
            sa.select(table.c.token)
            .where(table.c.name == repositories.LEADER_LEASE)
            .with_for_update(read=True)
        )
        if current is not None and int(current) > fence:
            raise errors.FencedOut(
                f"write refused: fencing token {fence} is older than the leader's {current}"
            )


def _why(exc: sa_exc.SQLAlchemyError, secrets: Sequence[str] = ()) -> str:
    """The database's own message, without the SQL statement, its parameters or a password."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        text = f"{type(exc.orig).__name__}: {exc.orig}"
    else:
        text = str(exc)
    for secret in secrets:
        text = text.replace(secret, "***")
    return redacting.redact_text(text)


if TYPE_CHECKING:
    # mypy proves here that SqlStore has every method of the Store Protocol, signatures too.
    _IMPLEMENTS: repositories.Store = SqlStore("sqlite://")
