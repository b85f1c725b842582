"""Reading the embedded SQLite store with the standard library, for commands that only read.

``rollsafe status`` is called by scripts and hooks, often once per host, and importing
SQLAlchemy alone costs such a call more than reading a fleet of 1,000 targets does. So the
read commands read the default store (SQLite) through ``sqlite3`` here; SQLAlchemy
(``storage.sql``) stays for everything that writes, and for PostgreSQL.

What this reader promises, so that it can never do harm:

- It never creates a store (``file:...?mode=rw`` fails on a missing file: ``NoStore``), never
  migrates one, never writes (``PRAGMA query_only``: SQLite refuses any write through this
  connection) and never takes the write lock, so a running controller is not held up.
- It reads only a store at the schema this rollsafe ships (``revisions.shipped_head``). Its
  queries name the columns of that schema; an older store (the controller of this version
  has not started on it yet) or a newer one (written by a newer rollsafe) is
  ``SchemaMismatch``, saying which and what to do, never a half-read answer. A file without a
  schema version is no rollsafe store (``NoStore``), as a never-migrated PostgreSQL database
  is for the other read path.
- All reads of one reader see one snapshot (a single read transaction), so ``status`` never
  shows a run that belongs to a decision it has not read yet.

Rows become domain objects through ``storage.rows``, the functions ``SqlStore`` uses, and
JSON columns are decoded as SQLAlchemy's JSON type decodes them, so both readers give the
same objects for the same store; a test compares them method by method
(tests/unit/storage/test_store_sqlite_read.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import TYPE_CHECKING, Any, cast

from rollsafe.domain import audit_events, errors, ids, restore_points, runs, verdicts
from rollsafe.storage import repositories, revisions, rows

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["DB_FILE", "NoStore", "SchemaMismatch", "SqliteReader"]

DB_FILE = "rollsafe.db"
"""Name of the SQLite database inside the state directory."""

BUSY_TIMEOUT_S = 10.0
"""As ``engines.BUSY_TIMEOUT_MS``: a read waits this long if the file is locked (a checkpoint)."""

# The JSON columns of each table read here (storage/schema.py): decoded as SQLAlchemy does.
_JSON = {
    "targets": ("labels",),
    "decisions": ("evidence",),
    "restore_points": ("data", "checks"),
    "runs": ("evidence",),
    "run_steps": (),
    "audit_events": ("details",),
    "leases": (),
}

_AUDIT_PAGE = 1000  # events held in memory at a time while iterating, as SqlStore reads them


class NoStore(errors.StoreError):
    """No rollsafe store at that path: no file, or a file rollsafe never migrated."""


SchemaMismatch = revisions.SchemaMismatch


class SqliteReader:
    """The read side of ``repositories.Store`` that the read commands use, over ``sqlite3``.

    Open it with ``SqliteReader(path)``; it raises ``NoStore``, ``SchemaMismatch`` or
    ``errors.StoreError`` (the file cannot be read) and is then already closed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # mode=rw, never rwc: a missing file is an error, not a new empty store. Not mode=ro:
        # a read-only connection cannot remove the -wal and -shm files it needs for a WAL
        # store, and those files, left behind by root (`sudo rollsafe status`), would stop
        # the controller's own user from writing. A read-write connection removes them when
        # it is the last to close, as every connection of the store does; query_only makes
        # SQLite itself refuse any write through it. (A user who may neither write the file nor
        # create its -shm cannot read a WAL store in either mode: SQLite says so, and the
        # command reports it.) as_uri percent-encodes the path.
        uri = f"{path.absolute().as_uri()}?mode=rw"
        try:
            self._db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            if not path.is_file():
                raise NoStore(f"no rollsafe store at {path}") from exc
            raise errors.StoreError(f"cannot read the store at {path}: {exc}") from exc
        try:
            self._execute("PRAGMA query_only = ON")
            # One deferred read transaction: every query below sees the same snapshot.
            self._execute("BEGIN")
            self._revision = self._stored_revision()
            revisions.check_readable(str(self.path), self._revision)
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteReader({str(self.path)!r})"

    def __enter__(self) -> SqliteReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")  # end the read snapshot; nothing was written
        finally:
            self._db.close()

    # ----------------------------------------------------------------- schema

    def schema_version(self) -> str:
        """The store's schema version (its Alembic revision); always the shipped head here."""
        return self._revision

    def _stored_revision(self) -> str:
        # A file that is no database at all fails here with the database's own words.
        (tables,) = self._execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        found = (
            [str(row[0]) for row in self._execute("SELECT version_num FROM alembic_version")]
            if tables
            else []
        )
        if len(found) != 1:
            raise NoStore(f"no rollsafe store at {self.path} (the file has no rollsafe schema)")
        return found[0]

    # ----------------------------------------------------------------- reads

    def list_targets(self) -> list[repositories.TargetRecord]:
        return [
            rows.target(row) for row in self._rows("targets", "SELECT * FROM targets ORDER BY id")
        ]

    def latest_decisions(self) -> dict[ids.TargetId, list[verdicts.Decision]]:
        """The newest decision of each (target, rule), as ``SqlStore.latest_decisions``."""
        query = (
            "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY target, rule "
            "ORDER BY time DESC, id DESC) AS rank FROM decisions) "
            "WHERE rank = 1 ORDER BY target, rule"
        )
        latest: dict[ids.TargetId, list[verdicts.Decision]] = {}
        for row in self._rows("decisions", query):
            decision = rows.decision(row)
            latest.setdefault(decision.target, []).append(decision)
        return latest

    def get_run(self, run_id: ids.RunId) -> runs.RollbackRun | None:
        found = self._rows("runs", "SELECT * FROM runs WHERE id = ?", (run_id,))
        return rows.run(found[0]) if found else None

    def list_steps(self, run_id: ids.RunId) -> list[runs.StepRecord]:
        query = "SELECT * FROM run_steps WHERE run_id = ? ORDER BY step_index"
        return [rows.step(row) for row in self._rows("run_steps", query, (run_id,))]

    def list_audit_events(
        self, *, since_seq: int = 0, target: str | None = None
    ) -> Iterator[audit_events.AuditEvent]:
        """Events with ``seq`` above ``since_seq``, in order, a page at a time."""
        query = "SELECT * FROM audit_events WHERE seq > ?"
        if target is not None:
            query += " AND target = ?"
        query += " ORDER BY seq LIMIT ?"
        after = since_seq
        while True:
            parameters = (
                (after, target, _AUDIT_PAGE) if target is not None else (after, _AUDIT_PAGE)
            )
            page = [rows.audit_event(row) for row in self._rows("audit_events", query, parameters)]
            yield from page
            if len(page) < _AUDIT_PAGE:
                return
            after = page[-1].seq

    def list_runs(
        self,
        *,
        target: ids.TargetId | None = None,
        open_only: bool = False,
        since: float | None = None,
        limit: int = 100,
    ) -> list[runs.RollbackRun]:
        """The newest ``limit`` matching runs (``since`` compares creation time), oldest first."""
        where: list[str] = []
        parameters: list[Any] = []
        if target is not None:
            where.append("target = ?")
            parameters.append(target)
        if open_only:
            where.append("open_target IS NOT NULL")
        if since is not None:
            where.append("created_at >= ?")
            parameters.append(since)
        query = "SELECT * FROM runs"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY created_at DESC, id DESC LIMIT ?"
        found = [rows.run(row) for row in self._rows("runs", query, (*parameters, limit))]
        found.reverse()
        return found

    def list_restore_points(self, target: ids.TargetId | None) -> list[restore_points.RestorePoint]:
        """Points not deleted by retention, oldest first; every target's when ``target`` is None."""
        query = "SELECT * FROM restore_points WHERE deleted_at IS NULL"
        parameters: tuple[Any, ...] = ()
        if target is not None:
            query += " AND target = ?"
            parameters = (target,)
        query += " ORDER BY created_at, id"
        return [rows.restore_point(row) for row in self._rows("restore_points", query, parameters)]

    def lease(self, name: str) -> repositories.Lease | None:
        found = self._rows("leases", "SELECT * FROM leases WHERE name = ?", (name,))
        if not found:
            return None
        row = found[0]
        return repositories.Lease(
            name=row.name,
            holder=row.holder,
            token=int(row.token),
            acquired_at=row.acquired_at,
            renewed_at=row.renewed_at,
            expires_at=row.expires_at,
        )

    # ----------------------------------------------------------------- plumbing

    def _rows(self, table: str, query: str, parameters: tuple[Any, ...] = ()) -> list[sa.Row[Any]]:
        """Rows with their columns as attributes and JSON decoded, the shape ``rows`` reads."""
        cursor = self._execute(query, parameters)
        names = [column[0] for column in cursor.description]
        decoded = _JSON[table]
        out = []
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            for column in decoded:
                if row[column] is not None:
                    row[column] = json.loads(row[column])
            out.append(SimpleNamespace(**row))
        # ``rows`` is typed for SQLAlchemy's rows; it reads columns as attributes, as these have.
        return cast("list[sa.Row[Any]]", out)

    def _execute(self, query: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(query, parameters)
        except sqlite3.Error as exc:
            # The database's own words (no statement, no values): a corrupt file, a lock.
            raise errors.StoreError(
                f"cannot read the store at {self.path}: {type(exc).__name__}: {exc}"
            ) from exc
