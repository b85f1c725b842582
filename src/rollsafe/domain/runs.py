"""Rollback runs: the durable state machine of one rollback of one target.

::

    pending -> prechecking -> awaiting_approval -> executing -> verifying -> succeeded
       |            |                 |                |             |
       |            +-----------------+----------------+-------------+--> failed
       |                              +--> rejected   (a person said no)
       +--> blocked   (a governor refused: quarantine, rate limit)
       +--> dry_run   (policy dry_run: decided and audited, nothing done)

Every transition is persisted before the next effect starts, and every driver step is
recorded as ``started`` before it runs and ``done``/``failed`` after, under an idempotency
key, so a controller killed at any instant can resume the run without repeating an effect.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from rollsafe.domain import ids


class RunState(enum.StrEnum):
    PENDING = "pending"
    PRECHECKING = "prechecking"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    VERIFYING = "verifying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    DRY_RUN = "dry_run"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.REJECTED, RunState.BLOCKED, RunState.DRY_RUN}
)

_ALLOWED: dict[RunState, frozenset[RunState]] = {
    RunState.PENDING: frozenset(
        {RunState.PRECHECKING, RunState.BLOCKED, RunState.DRY_RUN, RunState.FAILED}
    ),
    RunState.PRECHECKING: frozenset({RunState.AWAITING_APPROVAL, RunState.FAILED}),
    RunState.AWAITING_APPROVAL: frozenset({RunState.EXECUTING, RunState.REJECTED, RunState.FAILED}),
    RunState.EXECUTING: frozenset({RunState.VERIFYING, RunState.FAILED}),
    RunState.VERIFYING: frozenset({RunState.SUCCEEDED, RunState.FAILED}),
}


class ApprovalMode(enum.StrEnum):
    AUTO = "auto"
    UNLESS_REJECTED = "unless_rejected"
    REQUIRE_APPROVAL = "require_approval"


class StepState(enum.StrEnum):
    STARTED = "started"
    DONE = "done"
    FAILED = "failed"


class InvalidTransition(ValueError):
    """A run was asked to move along an edge the state machine does not have."""


@dataclass(frozen=True, slots=True)
class Approval:
    """The approval gate of a run. ``deadline`` survives restarts because it is stored."""

    mode: ApprovalMode = ApprovalMode.AUTO
    deadline: float | None = None
    decided_by: str | None = None
    decision: str | None = None  # "approved" | "rejected" | "timeout"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RollbackRun:
    id: ids.RunId
    target: ids.TargetId
    state: RunState
    trigger: str  # "decision:<rule>", "manual", "alert:<name>"
    actor: str  # who or what opened the run
    reason: str
    created_at: float
    updated_at: float
    restore_point: ids.RestorePointId | None = None
    approval: Approval = field(default_factory=Approval)
    error: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return not self.state.terminal

    def moved(self, state: RunState, *, at: float, error: str | None = None) -> RollbackRun:
        """The same run in ``state``; raises InvalidTransition for an edge not in the diagram."""
        if state not in _ALLOWED.get(self.state, frozenset()):
            raise InvalidTransition(f"{self.id}: {self.state} -> {state} is not allowed")
        return replace(self, state=state, updated_at=at, error=error or self.error)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "state": self.state.value,
            "trigger": self.trigger,
            "actor": self.actor,
            "reason": self.reason,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "restore_point": self.restore_point,
            "approval": {
                "mode": self.approval.mode.value,
                "deadline": self.approval.deadline,
                "decided_by": self.approval.decided_by,
                "decision": self.approval.decision,
                "reason": self.approval.reason,
            },
            "error": self.error,
            "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One driver step of a run, keyed for idempotency: ``<run id>/<index>/<name>``."""

    run_id: ids.RunId
    index: int
    name: str
    state: StepState
    started_at: float
    finished_at: float | None = None
    attempt: int = 1
    output: str = ""

    @property
    def key(self) -> str:
        return step_key(self.run_id, self.index, self.name)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "index": self.index,
            "name": self.name,
            "state": self.state.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "attempt": self.attempt,
            "output": self.output,
        }


def step_key(run_id: ids.RunId, index: int, name: str) -> str:
    return f"{run_id}/{index}/{name}"
