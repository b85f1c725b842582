"""Data probe: a number from a database, or the fingerprint of a file.

Data checks answer "is the data still what it was?": before an upgrade the controller records
them (row counts, a checksum query, a config file's hash) and verification after a rollback
compares. Two forms:

- ``url`` + ``query``: the query's scalar through SQLAlchemy. A number becomes ``value``; any
  other scalar (a checksum string, a date) becomes ``text``. One engine (and its connection
  pool) per probe and rendered URL, reused across observations. Queries are blocking DBAPI
  calls and run in a worker thread. Only the URL is a template, never the query: target
  labels must not be able to inject SQL.
- ``file``: SHA-256 of the file in ``text`` (hex), ``value`` None. Hashing runs in a worker
  thread in 1 MiB chunks and stops when the observation times out.

A missing file, a refused connection, a failing query or no row at all are errors: the probe
could not look, which says nothing yet about the data. An SQLite URL naming a file that does
not exist is an error too, instead of silently creating an empty database on the target.

Limit: a query that outlives ``timeout`` is reported as a timeout, but the database keeps
running it in its thread until it returns (DBAPIs offer no portable way to cancel).
"""

from __future__ import annotations

import asyncio
import decimal
import hashlib
import threading
from pathlib import Path

import sqlalchemy
from sqlalchemy import engine as sa_engine
from sqlalchemy import exc as sa_exc

from rollsafe.config import models
from rollsafe.detect.probes import outcomes
from rollsafe.domain import clocks, errors, ids, observations

_HASH_CHUNK = 1024 * 1024


class _Stopped(Exception):
    """The observation gave up waiting; the hashing thread stops at its next chunk."""


class DataProbe:
    """Runs a scalar query or hashes a file, per target."""

    def __init__(self, config: models.DataProbe, clock: clocks.Clock) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        self._engines: dict[str, sa_engine.Engine] = {}

    async def observe(self, target: models.Target) -> observations.Observation:
        try:
            if self._config.file is not None:
                return await self._hash(target, self._config.file)
            return await self._query(target)
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )

    async def _query(self, target: models.Target) -> observations.Observation:
        url_template, query = self._config.url, self._config.query
        if url_template is None or query is None:  # the model forbids it; keeps mypy honest
            raise outcomes.CannotObserve("data probe needs `file`, or `url` and `query`")
        engine = self._engine(outcomes.render(url_template, target, what="url"))
        try:
            async with asyncio.timeout(self._config.timeout):
                scalar = await asyncio.to_thread(_scalar, engine, query)
        except TimeoutError:
            raise outcomes.CannotObserve(outcomes.timeout_reason(self._config.timeout)) from None
        value: float | None = None
        text: str | None = None
        if isinstance(scalar, bool | int | float | decimal.Decimal):
            value = float(scalar)
        else:
            text = outcomes.clip(str(scalar))
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=value,
            text=text,
        )

    def _engine(self, url: str) -> sa_engine.Engine:
        engine = self._engines.get(url)
        if engine is not None:
            return engine
        try:
            parsed = sa_engine.make_url(url)
        except sa_exc.ArgumentError as exc:
            raise outcomes.CannotObserve(f"invalid database url: {exc}") from None
        options: dict[str, float] = {}
        if parsed.get_backend_name() == "sqlite":
            _require_sqlite_file(parsed)
        else:
            # Waiting for a pooled connection counts against the probe's timeout too.
            # (SQLite's in-memory pool does not take the option; its connections are local.)
            options["pool_timeout"] = self._config.timeout
        try:
            engine = sqlalchemy.create_engine(parsed, pool_pre_ping=True, **options)
        except (sa_exc.SQLAlchemyError, ImportError) as exc:
            # NoSuchModuleError / ImportError: the DBAPI driver for this URL is not installed.
            raise outcomes.CannotObserve(f"cannot use database url: {exc}") from None
        self._engines[url] = engine
        return engine

    async def _hash(self, target: models.Target, template: str) -> observations.Observation:
        path = Path(outcomes.render(template, target, what="file"))
        stop = threading.Event()
        try:
            async with asyncio.timeout(self._config.timeout):
                digest = await asyncio.to_thread(_sha256, path, stop)
        except TimeoutError:
            raise outcomes.CannotObserve(outcomes.timeout_reason(self._config.timeout)) from None
        finally:
            stop.set()
        return observations.Observation(
            time=self._clock.now(), target=ids.TargetId(target.id), source=self.name, text=digest
        )

    async def close(self) -> None:
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            await asyncio.to_thread(engine.dispose)


def _scalar(engine: sa_engine.Engine, query: str) -> object:
    try:
        with engine.connect() as connection:
            row = connection.execute(sqlalchemy.text(query)).first()
    except sa_exc.DBAPIError as exc:
        raise outcomes.CannotObserve(f"query failed: {exc.orig}") from None
    except sa_exc.SQLAlchemyError as exc:
        raise outcomes.CannotObserve(f"query failed: {type(exc).__name__}: {exc}") from None
    if row is None:
        raise outcomes.CannotObserve("query returned no rows")
    if row[0] is None:
        raise outcomes.CannotObserve("query returned NULL")
    return row[0]


def _require_sqlite_file(url: sa_engine.URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return  # in-memory, or a URI filename whose own `mode=` decides
    if not Path(database).is_file():
        raise outcomes.CannotObserve(f"file not found: {database}")


def _sha256(path: Path, stop: threading.Event) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                if stop.is_set():
                    raise _Stopped
                digest.update(chunk)
    except FileNotFoundError:
        raise outcomes.CannotObserve(f"file not found: {path}") from None
    except IsADirectoryError:
        raise outcomes.CannotObserve(f"not a file: {path}") from None
    except PermissionError:
        raise outcomes.CannotObserve(f"permission denied: {path}") from None
    except OSError as exc:
        raise outcomes.CannotObserve(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def create(config: models.Probe, clock: clocks.Clock) -> DataProbe:
    """Factory registered under ``data``."""
    if not isinstance(config, models.DataProbe):
        raise errors.ConfigError(f"probe {config.name}: not a data probe")
    return DataProbe(config, clock)
