"""The public surface of the audit and storage modules is explicit; this pins it."""

from __future__ import annotations

import pytest

from rollsafe.audit import chain, exporting, redacting
from rollsafe.interfaces.cli import audit_commands, context
from rollsafe.storage import auditing, migrating, repositories, revisions, sql, sqlite_read


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            chain,
            ["GENESIS", "ChainHead", "VerifyResult", "canonical", "link", "normalized", "verify"],
        ),
        (redacting, ["MASK", "is_secret_key", "redact", "redact_text"]),
        (exporting, ["from_json", "read_jsonl", "to_line", "write_jsonl"]),
        (sql, ["DB_FILE", "SqlStore", "default_url", "open_reading", "open_store"]),
        (auditing, ["verify_store"]),
        (sqlite_read, ["DB_FILE", "NoStore", "SchemaMismatch", "SqliteReader"]),
        (
            revisions,
            [
                "MIGRATIONS_DIR",
                "SchemaMismatch",
                "check_readable",
                "shipped_head",
                "shipped_history",
            ],
        ),
        (
            migrating,
            [
                "MIGRATIONS_DIR",
                "MigrationError",
                "alembic_config",
                "current_revision",
                "head_revision",
                "shipped_head",
                "stored_revision",
                "upgrade",
            ],
        ),
        (
            context,
            [
                "DEFAULT_STATE_DIR",
                "EXIT_ERROR",
                "ConfigOption",
                "StateDirOption",
                "StoreLocation",
                "fail",
                "locate_store",
                "open_reader_from",
                "open_store_from",
            ],
        ),
        (audit_commands, ["EXIT_BROKEN", "app", "export", "show", "verify"]),
    ],
)
def test_public_names(module: object, names: list[str]) -> None:
    assert sorted(module.__all__) == sorted(names)  # type: ignore[attr-defined]
    for name in names:
        assert hasattr(module, name)


def test_sql_store_implements_every_store_method() -> None:
    protocol = {
        name
        for name in vars(repositories.Store)
        if not name.startswith("_") and callable(getattr(repositories.Store, name))
    }
    assert protocol <= set(dir(sql.SqlStore))
    store: repositories.Store = sql.SqlStore("sqlite://")  # mypy checks the structure
    store.close()


def test_the_sqlite_reader_reads_as_the_store_protocol_says() -> None:
    # Each of its reads is a Store method of the same name, so the commands take either.
    reads = {
        name
        for name in vars(sqlite_read.SqliteReader)
        if not name.startswith("_") and callable(getattr(sqlite_read.SqliteReader, name))
    }
    protocol = {name for name in vars(repositories.Store) if not name.startswith("_")}
    assert reads <= protocol | {"schema_version"}
    assert "schema_version" in dir(sql.SqlStore)
