"""The store's schema versions as shipped: the migration scripts' revision chain, read as text.

Both the migrating store (``storage.migrating``: nothing to do when a database is at the head)
and the read-only reader (``storage.sqlite_read``: is this store at the schema I read, older,
or newer?) need the shipped history on every CLI call. Importing Alembic, or SQLAlchemy, to
learn it would cost more than the commands' own work, so it is read from the scripts'
``revision`` / ``down_revision`` lines here, with the standard library only. A test checks the
answer against Alembic's own (tests/unit/storage/test_store_schema_version.py).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["MIGRATIONS_DIR", "shipped_head", "shipped_history"]

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
