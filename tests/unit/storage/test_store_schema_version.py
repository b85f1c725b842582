"""The store's schema version: read without Alembic, equal to Alembic's own answer.

Every CLI call opens the store; one at the newest schema is recognised by plain SQL against
the head read from the shipped scripts, so Alembic is imported only to migrate.
"""

from __future__ import annotations

import sys

import pytest

from rollsafe.domain import errors
from rollsafe.storage import migrating, sql


def test_the_head_read_from_the_scripts_is_alembics_head():
    assert migrating.shipped_head() == migrating.head_revision()


def test_a_migrated_store_reports_the_head_as_its_schema_version(tmp_path):
    store = sql.open_store(tmp_path)
    try:
        assert store.schema_version() == migrating.head_revision()
    finally:
        store.close()


def test_a_database_never_migrated_has_no_schema_version(tmp_path):
    store = sql.SqlStore(sql.default_url(tmp_path))
    try:
        assert store.schema_version() is None
        store.migrate()
        assert store.schema_version() == migrating.head_revision()
    finally:
        store.close()


def test_a_missing_postgres_driver_names_the_extra(tmp_path, monkeypatch):
    # psycopg made unimportable the way a core install lacks it (no mock of rollsafe code).
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(errors.StoreError) as caught:
        sql.SqlStore("postgresql://rollsafe@127.0.0.1:1/x")
    assert "needs the extra: pip install 'rollsafe[postgres]'" in str(caught.value)
