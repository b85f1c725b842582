"""Shared ground of the configuration models: the ``Model`` base (unknown keys are mistakes,
loaded models are immutable), the literal field types (comparison operators, severities,
approval modes, commands), the id pattern and the duplicate-name check.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Op = Literal[">", ">=", "<", "<=", "==", "!="]
Field_ = Literal["value", "status", "latency"]
SeverityName = Literal["warning", "critical"]
ApprovalName = Literal["auto", "unless_rejected", "require_approval"]
Command = str | list[str]
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class Model(BaseModel):
    """Base: unknown keys are mistakes, models are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} {name!r}")
        seen.add(name)
