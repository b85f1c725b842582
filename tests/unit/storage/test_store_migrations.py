"""The hand-written migrations build exactly the schema the code declares, and ship with it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from rollsafe.audit import chain
from rollsafe.domain import errors
from rollsafe.storage import engines, migrating, schema, sql

ROOT = Path(__file__).resolve().parents[3]


def _diff(engine: sa.Engine, metadata: sa.MetaData) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrated_schema_matches_the_metadata(tmp_path: Path, store_url: str | None) -> None:
    with sql.open_store(tmp_path, store_url) as store:
        engine = engines.create(store.url)
        try:
            assert _diff(engine, schema.metadata) == []
        finally:
            engine.dispose()


def test_the_comparison_would_see_a_drift(tmp_path: Path, store_url: str | None) -> None:
    # Guards the test above: a column the migrations do not create must show up as a diff.
    drifted = sa.MetaData(naming_convention=schema.NAMING_CONVENTION)
    for table in schema.metadata.tables.values():
        table.to_metadata(drifted)
    sa.Table("runs", drifted, sa.Column("owner", sa.String()), extend_existing=True)
    sa.Index("ix_targets_address", drifted.tables["targets"].c.address)
    with sql.open_store(tmp_path, store_url) as store:
        engine = engines.create(store.url)
        try:
            found = _diff(engine, drifted)
        finally:
            engine.dispose()
    assert {item[0] for item in found} == {"add_column", "add_index"}  # type: ignore[index]


def test_migrate_is_idempotent_and_reaches_head(tmp_path: Path, store_url: str | None) -> None:
    with sql.open_store(tmp_path, store_url) as store:
        store.migrate()
        store.migrate()
        engine = engines.create(store.url)
        try:
            newest = max(p.name[:4] for p in (migrating.MIGRATIONS_DIR / "versions").glob("0*.py"))
            assert migrating.current_revision(engine) == migrating.head_revision() == newest
        finally:
            engine.dispose()
        # The seeded chain head survives re-running the migrations.
        assert store.audit_head() == chain.ChainHead(seq=0, hash=chain.GENESIS)


def test_in_memory_store_is_migrated_on_its_single_connection(tmp_path: Path) -> None:
    with sql.open_store(tmp_path, "sqlite://") as store:
        assert store.list_targets() == []
        assert store.audit_head() == chain.ChainHead(seq=0, hash=chain.GENESIS)


def test_package_data_patterns_cover_every_migration_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["rollsafe"]
    package = ROOT / "src" / "rollsafe"
    shipped = {
        match.relative_to(package) for pattern in patterns for match in package.glob(pattern)
    }
    needed = {
        path.relative_to(package)
        for path in migrating.MIGRATIONS_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert migrating.MIGRATIONS_DIR.is_relative_to(package)
    assert needed, "no migration files found"
    assert needed <= shipped


def test_a_database_from_a_newer_rollsafe_is_refused_clearly(
    tmp_path: Path, store_url: str | None
) -> None:
    sql.open_store(tmp_path, store_url).close()
    engine = engines.create(store_url or sql.default_url(tmp_path))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(errors.StoreError, match="cannot migrate"):
        sql.open_store(tmp_path, store_url)
