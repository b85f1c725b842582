"""The store's schema versions as shipped: the migration scripts' revision chain, read as text.

Both the migrating store (``storage.migrating``: nothing to do when a database is at the head)
and the read-only reader (``storage.sqlite_read``: is this store at the schema I read, older,
or newer?) need the shipped history on every CLI call, and both read paths (SQLite through
``sqlite_read``, PostgreSQL through ``sql.open_reading``) refuse a store at another schema
with the same words (``schema_mismatch``). Importing Alembic, or SQLAlchemy, to
learn it would cost more than the commands' own work, so it is read from the scripts'
``revision`` / ``down_revision`` lines here, with the standard library only. A test checks the
answer against Alembic's own (tests/unit/storage/test_store_schema_version.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from rollsafe.domain import errors

__all__ = ["MIGRATIONS_DIR", "SchemaMismatch", "check_readable", "shipped_head", "shipped_history"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*\"([^\"]+)\"", re.MULTILINE)


def shipped_history() -> list[str] | None:
    """Every shipped revision, oldest first, ending at the head.

    None when the scripts do not form one line of history (a branch, a gap, a script whose
    lines this cannot read); callers then ask Alembic, or refuse to guess.
    """
    parent_of: dict[str, str | None] = {}
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(script.read_text(encoding="utf-8")))
        if "revision" not in found:
            return None
        parent_of[found["revision"]] = found.get("down_revision")
    children: dict[str | None, list[str]] = {}
    for revision, parent in parent_of.items():
        children.setdefault(parent, []).append(revision)
    history: list[str] = []
    following = children.get(None, [])
    while len(following) == 1:
        history.append(following[0])
        following = children.get(following[0], [])
    if following or len(history) != len(parent_of):
        return None  # a branch, or scripts that do not chain from a first one
    return history


def shipped_head() -> str | None:
    """The newest shipped revision (None: see ``shipped_history``)."""
    history = shipped_history()
    return history[-1] if history else None


class SchemaMismatch(errors.StoreError):
    """The store's schema is not the one this rollsafe reads (older or newer)."""


def check_readable(where: str, revision: str | None) -> None:
    """Raise ``SchemaMismatch`` unless a store at ``revision`` is one this rollsafe reads.

    Reading commands never migrate: an older store is the controller's to migrate when it
    starts with this version (a reader migrating it under a running older controller would
    change the tables beneath it), and a newer one was written by a newer rollsafe. No
    revision at all is no rollsafe store.
    """
    if revision is None:
        raise errors.StoreError(f"{where} has no rollsafe schema")
    history = shipped_history()
    if history is None:  # pragma: no cover - a test pins the shipped scripts as one line
        raise errors.StoreError("the shipped migration scripts do not form one history")
    head = history[-1]
    if revision == head:
        return
    if revision in history:
        raise SchemaMismatch(
            f"the store at {where} is at schema {revision}, older than the "
            f"{head} this rollsafe reads; the controller migrates it when it starts with "
            "this version (restart it), and reading commands never do"
        )
    raise SchemaMismatch(
        f"the store at {where} is at schema {revision}, which this rollsafe "
        f"(schema {head}) does not know: it was written by a newer rollsafe; use that one"
    )
