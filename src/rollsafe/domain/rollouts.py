"""Rollouts: the durable record of one guarded upgrade of many targets, wave after wave.

A rollout is frozen when it is opened: its ``RolloutSpec`` lists every wave with the targets
in it, the bake time, the failure budgets and the halt policy, so a controller that restarts
(or a configuration edited meanwhile) cannot change what a running rollout does. States::

    pending -> running <-> paused
                  |  \\
                  |   +--> halting  (a failure budget is spent) --> halted
                  +------> completed (every wave baked clean)
    (any open state) ----> aborting (a person asked) -------------> aborted

Each target of the rollout moves through its own steps, every one stored before and after
its effect so a restarted controller resumes at the right step::

    pending -> readying -> upgrading -> baking -> passed
                  |            |           |
                  |            +-----------+--> rolling_back -> rolled_back | rollback_failed
                  +--> not_ready (no usable restore point: never upgraded)
    pending --> skipped   (pinned, quarantined or busy when its turn came: never upgraded)
    baking  --> upgraded  (upgraded, but the rollout stopped before its bake ended)

``failure`` says why a target failed (its bake saw a critical decision, or its upgrade
failed); only such targets count against the failure budgets. A target rolled back because
the halt policy said ``rollback_all`` (or a person aborted) has no ``failure``.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NewType

from rollsafe.domain import ids

RolloutId = NewType("RolloutId", str)

ROLLBACK_FAILED_POLICY = "rollback_failed"
ROLLBACK_ALL_POLICY = "rollback_all"


def new_rollout_id() -> RolloutId:
    """A short random rollout id, readable in a terminal (``ro-3f9c1a2b7d``)."""
    return RolloutId(f"ro-{secrets.token_hex(5)}")


class RolloutState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    HALTING = "halting"
    ABORTING = "aborting"
    COMPLETED = "completed"
    HALTED = "halted"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        return self in ROLLOUT_TERMINAL

    @property
    def stopping(self) -> bool:
        """Halting or aborting: no target starts any more; the policy's rollbacks run."""
        return self in (RolloutState.HALTING, RolloutState.ABORTING)


ROLLOUT_TERMINAL = frozenset({RolloutState.COMPLETED, RolloutState.HALTED, RolloutState.ABORTED})

_ALLOWED: dict[RolloutState, frozenset[RolloutState]] = {
    RolloutState.PENDING: frozenset(
        {RolloutState.RUNNING, RolloutState.HALTED, RolloutState.ABORTING}
    ),
    RolloutState.RUNNING: frozenset(
        {
            RolloutState.PAUSED,
            RolloutState.HALTING,
            RolloutState.ABORTING,
            RolloutState.COMPLETED,
            RolloutState.HALTED,
        }
    ),
    # A pause asked for during the last wave: once it baked clean, nothing is left to do.
    RolloutState.PAUSED: frozenset(
        {
            RolloutState.RUNNING,
            RolloutState.HALTING,
            RolloutState.ABORTING,
            RolloutState.COMPLETED,
        }
    ),
    RolloutState.HALTING: frozenset({RolloutState.HALTED, RolloutState.ABORTING}),
    RolloutState.ABORTING: frozenset({RolloutState.ABORTED}),
}


class Desired(enum.StrEnum):
    """What a person asked for; written only by people (the CLI), read by the controller."""

    RUN = "run"
    PAUSE = "pause"
    ABORT = "abort"


class TargetState(enum.StrEnum):
    PENDING = "pending"
    READYING = "readying"
    UPGRADING = "upgrading"
    BAKING = "baking"
    PASSED = "passed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    NOT_READY = "not_ready"
    SKIPPED = "skipped"
    UPGRADED = "upgraded"

    @property
    def terminal(self) -> bool:
        return self in TARGET_TERMINAL

    @property
    def in_flight(self) -> bool:
        """A step of this target is under way (or would be resumed after a restart)."""
        return self in TARGET_IN_FLIGHT


TARGET_TERMINAL = frozenset(
    {
        TargetState.PASSED,
        TargetState.ROLLED_BACK,
        TargetState.ROLLBACK_FAILED,
        TargetState.NOT_READY,
        TargetState.SKIPPED,
        TargetState.UPGRADED,
    }
)
TARGET_IN_FLIGHT = frozenset(
    {
        TargetState.READYING,
        TargetState.UPGRADING,
        TargetState.BAKING,
        TargetState.ROLLING_BACK,
    }
)
UPGRADED_STATES = frozenset({TargetState.BAKING, TargetState.PASSED, TargetState.UPGRADED})
"""States of a target that runs the new release now (what ``rollback_all`` rolls back)."""


class InvalidTransition(ValueError):
    """A rollout was asked to move along an edge its state machine does not have."""


@dataclass(frozen=True, slots=True)
class Budget:
    """How many failures a wave (or the whole rollout) tolerates; None means no limit."""

    max_failures: int | None = None
    max_failure_ratio: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"max_failures": self.max_failures, "max_failure_ratio": self.max_failure_ratio}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Budget:
        ratio = data.get("max_failure_ratio")
        count = data.get("max_failures")
        return cls(
            max_failures=None if count is None else int(count),
            max_failure_ratio=None if ratio is None else float(ratio),
        )


@dataclass(frozen=True, slots=True)
class WaveSpec:
    """One wave, frozen at opening: which targets, how long they bake, what budget."""

    index: int
    size: str  # as the plan said it: "1", "10%"
    targets: tuple[ids.TargetId, ...]
    bake: float
    budget: Budget

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "size": self.size,
            "targets": list(self.targets),
            "bake": self.bake,
            "budget": self.budget.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WaveSpec:
        return cls(
            index=int(data["index"]),
            size=str(data["size"]),
            targets=tuple(ids.TargetId(str(t)) for t in data["targets"]),
            bake=float(data["bake"]),
            budget=Budget.from_json(data.get("budget") or {}),
        )


Command = str | list[str]


@dataclass(frozen=True, slots=True)
class RolloutSpec:
    """Everything a rollout does, frozen from its plan when it was opened."""

    plan: str
    waves: tuple[WaveSpec, ...]
    overall: Budget
    bake_rules: tuple[str, ...]
    on_halt: str  # rollback_failed | rollback_all
    upgrade: Mapping[str, Command] = field(default_factory=dict)  # driver -> command override
    max_parallel: int = 10

    @property
    def planned(self) -> int:
        """How many targets the waves hold together."""
        return sum(len(w.targets) for w in self.waves)

    def wave_of(self, target: str) -> int | None:
        for wave in self.waves:
            if target in wave.targets:
                return wave.index
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "waves": [w.to_json() for w in self.waves],
            "overall": self.overall.to_json(),
            "bake_rules": list(self.bake_rules),
            "on_halt": self.on_halt,
            "upgrade": {k: (v if isinstance(v, str) else list(v)) for k, v in self.upgrade.items()},
            "max_parallel": self.max_parallel,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RolloutSpec:
        return cls(
            plan=str(data["plan"]),
            waves=tuple(WaveSpec.from_json(w) for w in data["waves"]),
            overall=Budget.from_json(data.get("overall") or {}),
            bake_rules=tuple(str(r) for r in data.get("bake_rules", ())),
            on_halt=str(data.get("on_halt", ROLLBACK_FAILED_POLICY)),
            upgrade={
                str(k): (v if isinstance(v, str) else [str(x) for x in v])
                for k, v in (data.get("upgrade") or {}).items()
            },
            max_parallel=int(data.get("max_parallel", 10)),
        )


@dataclass(frozen=True, slots=True)
class WaveLog:
    """When a wave started and ended, and how (``passed``, ``halted``, ``aborted``)."""

    index: int
    started_at: float
    finished_at: float | None = None
    outcome: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WaveLog:
        finished = data.get("finished_at")
        outcome = data.get("outcome")
        return cls(
            index=int(data["index"]),
            started_at=float(data["started_at"]),
            finished_at=None if finished is None else float(finished),
            outcome=None if outcome is None else str(outcome),
        )


@dataclass(frozen=True, slots=True)
class Rollout:
    """One guarded upgrade. ``wave`` is the index of the wave in progress (or next)."""

    id: RolloutId
    plan: str
    state: RolloutState
    created_at: float
    updated_at: float
    actor: str
    reason: str
    spec: RolloutSpec
    desired: Desired = Desired.RUN
    wave: int = 0
    halt_reason: str | None = None
    wave_log: tuple[WaveLog, ...] = ()

    @property
    def open(self) -> bool:
        return not self.state.terminal

    def moved(self, state: RolloutState, *, at: float, reason: str | None = None) -> Rollout:
        """The same rollout in ``state``; raises InvalidTransition for an edge not allowed."""
        if state not in _ALLOWED.get(self.state, frozenset()):
            raise InvalidTransition(f"{self.id}: {self.state} -> {state} is not allowed")
        return replace(self, state=state, updated_at=at, halt_reason=reason or self.halt_reason)

    def logged(self, entry: WaveLog) -> Rollout:
        """The same rollout with ``entry`` replacing the log entry of its wave (or added)."""
        kept = [w for w in self.wave_log if w.index != entry.index]
        return replace(self, wave_log=tuple(sorted([*kept, entry], key=lambda w: w.index)))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "plan": self.plan,
            "state": self.state.value,
            "desired": self.desired.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "actor": self.actor,
            "reason": self.reason,
            "wave": self.wave,
            "waves": len(self.spec.waves),
            "halt_reason": self.halt_reason,
            "spec": self.spec.to_json(),
            "wave_log": [w.to_json() for w in self.wave_log],
        }


@dataclass(frozen=True, slots=True)
class RolloutTarget:
    """One target's progress in one rollout; ``wave`` is None for a target left out at opening."""

    rollout_id: RolloutId
    target: ids.TargetId
    wave: int | None
    position: int
    state: TargetState = TargetState.PENDING
    updated_at: float = 0.0
    restore_point: ids.RestorePointId | None = None
    upgrade_key: str | None = None
    run_id: ids.RunId | None = None
    failure: str | None = None
    note: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    upgraded_at: float | None = None
    bake_until: float | None = None
    finished_at: float | None = None

    @property
    def failed(self) -> bool:
        """True when the target counts against the failure budgets."""
        return self.failure is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "rollout_id": self.rollout_id,
            "target": self.target,
            "wave": self.wave,
            "position": self.position,
            "state": self.state.value,
            "updated_at": self.updated_at,
            "restore_point": self.restore_point,
            "upgrade_key": self.upgrade_key,
            "run_id": self.run_id,
            "failure": self.failure,
            "note": self.note,
            "evidence": dict(self.evidence),
            "started_at": self.started_at,
            "upgraded_at": self.upgraded_at,
            "bake_until": self.bake_until,
            "finished_at": self.finished_at,
        }


def upgrade_key(rollout_id: str, target: str) -> str:
    """The idempotency key of a target's upgrade in a rollout: the same across restarts."""
    return f"{rollout_id}/{target}/upgrade"
