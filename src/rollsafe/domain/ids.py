"""Identifiers shared by every stage of the loop, as distinct types so they cannot be mixed up."""

from __future__ import annotations

import secrets
from typing import NewType

TargetId = NewType("TargetId", str)
RunId = NewType("RunId", str)
RuleId = NewType("RuleId", str)
RestorePointId = NewType("RestorePointId", str)


def new_run_id() -> RunId:
    """A short random run id, readable in a terminal (``run-3f9c1a2b7d``)."""
    return RunId(f"run-{secrets.token_hex(5)}")


def new_restore_point_id() -> RestorePointId:
    """A short random restore point id (``rp-3f9c1a2b7d``)."""
    return RestorePointId(f"rp-{secrets.token_hex(5)}")
