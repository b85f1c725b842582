"""Bringing a database's schema up to date: ``alembic upgrade head``, run from code.

The migration scripts ship inside the package (``storage/migrations``) and the Alembic
configuration is built here, so neither an ``alembic.ini`` nor a working directory is needed
at runtime. The upgrade runs on a connection the store provides, inside one write
transaction: on SQLite that is ``BEGIN IMMEDIATE``, so a daemon and a CLI command starting at
the same moment migrate one after the other, and the second finds nothing left to do.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime import migration
from alembic.script import ScriptDirectory

from rollsafe.storage import engines

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(*, url: str | None = None) -> Config:
    """An Alembic configuration pointing at the shipped migration scripts."""
    config = Config()
    # configparser interpolates "%": escape it, the path is taken literally.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: sa.Engine) -> None:
    """Migrate the database behind ``engine`` to the newest revision."""
    config = alembic_config()
    with engine.connect() as connection:
        connection.execution_options(**engines.WRITE)
        with connection.begin():
            # env.py runs the migrations on this connection, inside this transaction.
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def head_revision() -> str | None:
    """The newest revision shipped with this version of rollsafe."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None when it has never been migrated)."""
    with engine.connect() as connection:
        return migration.MigrationContext.configure(connection).get_current_revision()
