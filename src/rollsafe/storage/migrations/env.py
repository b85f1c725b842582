"""Alembic environment for the store's migrations.

``rollsafe.storage.migrating.upgrade`` hands over an open connection (already inside a write
transaction) through ``config.attributes["connection"]``; the ``alembic`` command line, used
by maintainers with ``-x``/``sqlalchemy.url``, gets an engine of its own instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from rollsafe.domain import errors
from rollsafe.storage import engines, schema


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=schema.metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    given = context.config.attributes.get("connection")
    if isinstance(given, sa.Connection):
        _run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise errors.ConfigError(
            "no database to migrate: set sqlalchemy.url in the alembic configuration "
            "(expected sqlite:///PATH or postgresql://USER@HOST/DB); rollsafe itself "
            "migrates its store when it opens it"
        )
    engine = engines.create(url)
    try:
        with engine.connect() as connection:
            connection.execution_options(**engines.WRITE)
            with connection.begin():
                _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
