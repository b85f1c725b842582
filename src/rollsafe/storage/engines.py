"""Database engines for the store, with the per-dialect settings that make them safe to share.

SQLite is the embedded default and is shared by several processes (the daemon and any CLI
command), so each connection gets:

- ``journal_mode=WAL``: readers never block the writer, nor the writer readers;
- ``synchronous=FULL``: a committed run step or audit event survives a power cut, which
  ``NORMAL`` does not promise in WAL mode;
- ``busy_timeout``: a writer waits for the lock instead of failing at once;
- ``foreign_keys=ON``: SQLite ignores declared foreign keys otherwise;
- ``BEGIN IMMEDIATE`` for write transactions: the write lock is taken up front, so two
  processes that both read-then-write queue up instead of one failing with "database is
  locked" half way (SQLite cannot wait on a lock upgrade inside a deferred transaction).

pysqlite's own implicit transaction handling is switched off so that SQLAlchemy's ``begin``
decides which ``BEGIN`` is sent. Other dialects (PostgreSQL) need none of this: row locks
(``SELECT ... FOR UPDATE``) and constraints do the same job there.
"""

from __future__ import annotations

import json
import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, pool

BUSY_TIMEOUT_MS = 10_000

WRITE = {"rollsafe_write": True}
"""Execution options for a connection that will write (``BEGIN IMMEDIATE`` on SQLite)."""


def is_sqlite(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def is_memory(url: str | sa.URL) -> bool:
    """True for an in-memory SQLite database (one connection, shared by all callers)."""
    parsed = sa.make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def create(url: str | sa.URL) -> sa.Engine:
    """An engine for ``url`` with the settings above applied on every new connection."""
    options: dict[str, Any] = {"json_serializer": _json_dumps}
    if is_memory(url):
        # Every connection to ":memory:" is a different empty database: keep exactly one.
        options["poolclass"] = pool.StaticPool
        options["connect_args"] = {"check_same_thread": False}
    engine = sa.create_engine(url, **options)
    if is_sqlite(url):
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # No implicit BEGIN from the driver: _on_sqlite_begin sends the right one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so that switching to WAL waits for another process if needed.
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: sa.Connection) -> None:
    write = bool(connection.get_execution_options().get("rollsafe_write", False))
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _json_dumps(value: Any) -> str:
    """JSON for JSON columns; NaN and infinities become strings, which any database accepts.

    Values JSON has no type for (a path, a datetime) are stored as their ``str()`` rather
    than failing the whole write: losing a decision over its evidence's types is worse.
    """
    return json.dumps(_finite(value), ensure_ascii=False, allow_nan=False, default=str)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
