"""Bringing a database's schema up to date: ``alembic upgrade head``, run from code.

The migration scripts ship inside the package (``storage/migrations``) and the Alembic
configuration is built here, so neither an ``alembic.ini`` nor a working directory is needed
at runtime. The upgrade runs on a connection the store provides, inside one write
transaction: on SQLite that is ``BEGIN IMMEDIATE``, so a daemon and a CLI command starting at
the same moment migrate one after the other, and the second finds nothing left to do.

On PostgreSQL the transaction first takes an advisory lock of its own
(``pg_advisory_xact_lock``, released at commit), so replicas starting together migrate one at
a time on the shared server; PostgreSQL's DDL is transactional, so a migration that fails
leaves the schema as it was.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa

from rollsafe.domain import errors
from rollsafe.storage import engines
from rollsafe.storage.revisions import MIGRATIONS_DIR, shipped_head

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "MigrationError",
    "alembic_config",
    "current_revision",
    "head_revision",
    "shipped_head",
    "stored_revision",
    "upgrade",
]

log = logging.getLogger("rollsafe.storage")

MIGRATION_LOCK_KEY = engines.advisory_key("store.migrate")
MIGRATION_WAIT_MS = 300_000
"""How long a replica waits for another one's migration before giving up (PostgreSQL)."""


class MigrationError(errors.StoreError):
    """Alembic refused to migrate, typically a database written by a newer rollsafe."""


def alembic_config(*, url: str | None = None) -> Config:
    """An Alembic configuration pointing at the shipped migration scripts."""
    from alembic.config import Config

    config = Config()
    # configparser interpolates "%": escape it, the path is taken literally.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def stored_revision(engine: sa.Engine) -> str | None:
    """The schema version recorded in the database (None: never migrated), by plain SQL."""
    try:
        with engine.connect() as connection:
            found = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            versions = [str(v) for v in found.scalars()]
    except sa.exc.DBAPIError:  # no alembic_version table yet
        return None
    return versions[0] if len(versions) == 1 else None


def upgrade(engine: sa.Engine) -> None:
    """Migrate the database behind ``engine`` to the newest revision."""
    head = shipped_head()
    if head is not None and stored_revision(engine) == head:
        return  # the common case, a store at the newest schema: no Alembic import, no lock
    with _alembic_quiet():
        # Imported here, quietly: Alembic logs its plugin set-up at INFO on first import.
        from alembic import command
        from alembic.util import exc as alembic_exc

        config = alembic_config()
        postgres = engine.dialect.name == "postgresql"
        with engine.connect() as connection:
            if not postgres:
                connection.execution_options(**engines.WRITE)
            with connection.begin():
                if postgres:
                    _await_migration_turn(connection)
                before = _revision(connection)
                # env.py runs the migrations on this connection, inside this transaction.
                config.attributes["connection"] = connection
                try:
                    command.upgrade(config, "head")
                except alembic_exc.CommandError as exc:
                    raise MigrationError(str(exc)) from exc
                after = _revision(connection)
    if before != after:
        log.info("store schema migrated from %s to %s", before or "nothing", after)


def _await_migration_turn(connection: sa.Connection) -> None:
    """Serialise migrations across processes on PostgreSQL (held until this transaction ends).

    A migration may take longer than the store's usual lock wait, hence the longer one here,
    for this transaction only.
    """
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = {MIGRATION_WAIT_MS}")
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")


def head_revision() -> str | None:
    """The newest revision shipped with this version of rollsafe."""
    with _alembic_quiet():
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None when it has never been migrated)."""
    with engine.connect() as connection:
        return _revision(connection)


def _revision(connection: sa.Connection) -> str | None:
    with _alembic_quiet():
        from alembic.runtime import migration

        return migration.MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _alembic_quiet() -> Iterator[None]:
    """Keep Alembic's per-run INFO chatter out of the daemon's log (one line above says it).

    Left alone when someone configured the ``alembic`` logger on purpose.
    """
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level != logging.NOTSET:
        yield
        return
    alembic_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_log.setLevel(logging.NOTSET)
