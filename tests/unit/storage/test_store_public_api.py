"""The public surface of the audit and storage modules is explicit; this pins it."""

from __future__ import annotations

import pytest

from rollsafe.audit import chain, exporting, redacting
from rollsafe.interfaces.cli import audit_commands, context
from rollsafe.storage import auditing, migrating, repositories, sql


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            chain,
            ["GENESIS", "ChainHead", "VerifyResult", "canonical", "link", "normalized", "verify"],
        ),
        (redacting, ["MASK", "is_secret_key", "redact", "redact_text"]),
        (exporting, ["from_json", "read_jsonl", "to_line", "write_jsonl"]),
        (sql, ["DB_FILE", "SqlStore", "default_url", "open_store"]),
        (auditing, ["verify_store"]),
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
