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
decides which ``BEGIN`` is sent.

PostgreSQL (through psycopg 3) gets the same guarantee differently: a write transaction
first takes one transaction-scoped advisory lock (``pg_advisory_xact_lock``), released at
commit or rollback. Writers queue on it exactly as they queue on SQLite's write lock, so every
read-then-write in the store (the unique open run per target, the inbox dedupe, update-else-
insert) is as exact on PostgreSQL as on SQLite, while readers never wait (MVCC). Each
statement of a READ COMMITTED transaction sees what committed before it, so a writer that got
the lock sees everything its predecessors wrote. ``lock_timeout`` plays ``busy_timeout``: a
writer waits that long for the lock, then fails with a store error instead of hanging.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, pool
from sqlalchemy import exc as sa_exc

from rollsafe.domain import errors

BUSY_TIMEOUT_MS = 10_000

WRITE = {"rollsafe_write": True}
"""Execution options for a connection that will write (``BEGIN IMMEDIATE`` on SQLite)."""

POSTGRES_DRIVER = "postgresql+psycopg"
"""The only PostgreSQL driver rollsafe ships with (psycopg 3)."""


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_*lock`` named by ``name``."""
    digest = hashlib.sha256(f"rollsafe:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


WRITE_LOCK_KEY = advisory_key("store.write")
"""The advisory lock every PostgreSQL write transaction takes first (see the module doc)."""


def resolve(
    url: str | sa.URL,
    *,
    password_env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> sa.URL:
    """The URL to connect with: PostgreSQL mapped to psycopg 3, the password applied.

    ``postgresql://`` (and ``postgres://``) from a configuration file would otherwise mean
    psycopg2, which is not installed. ``password_env`` names an environment variable holding
    the password, so that the configuration file never has to. The error for a missing
    variable names the variable, never a value. Both errors are ``ConfigError`` (the store
    wraps them in its ``StoreError``; alembic run by hand shows them as they are).
    """
    try:
        parsed = sa.make_url(url)
    except (sa_exc.ArgumentError, ValueError) as exc:
        # ValueError: a port that is no number (``int()`` inside SQLAlchemy's parser).
        # The message would repeat the URL, password included: say only what is wrong.
        raise errors.ConfigError(
            "the store URL is not a valid database URL (expected sqlite:///PATH or "
            "postgresql://USER@HOST/DB)"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    if password_env:
        env = os.environ if environ is None else environ
        password = env.get(password_env)
        if password is None:
            raise errors.ConfigError(
                f"store.password_env names {password_env}, which is not set (expected the "
                "database password in that environment variable)"
            )
        parsed = parsed.set(password=password)
    return parsed


def is_postgres(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "postgresql"


def is_sqlite(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def is_memory(url: str | sa.URL) -> bool:
    """True for an in-memory SQLite database (one connection, shared by all callers)."""
    parsed = sa.make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def create(url: str | sa.URL) -> sa.Engine:
    """An engine for ``url`` with the settings above applied on every new connection."""
    url = resolve(url)  # a plain postgresql:// means psycopg 3 here too (alembic's env.py)
    options: dict[str, Any] = {"json_serializer": _json_dumps}
    if is_memory(url):
        # Every connection to ":memory:" is a different empty database: keep exactly one.
        options["poolclass"] = pool.StaticPool
        options["connect_args"] = {"check_same_thread": False}
    if is_postgres(url):
        # Queue for locks like SQLite's busy_timeout, then fail (as a StoreError) not hang.
        options["connect_args"] = {"options": f"-c lock_timeout={BUSY_TIMEOUT_MS}"}
        # A server restart or a failover leaves dead pooled connections: test before use.
        options["pool_pre_ping"] = True
    engine = sa.create_engine(url, **options)
    if is_sqlite(url):
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    elif is_postgres(url):
        event.listen(engine, "begin", _on_postgres_begin)
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


def _on_postgres_begin(connection: sa.Connection) -> None:
    if connection.get_execution_options().get("rollsafe_write", False):
        # The first statement of the transaction: held until commit or rollback.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")


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
