"""The fleet circuit breaker: a brake on automatic rollbacks when much of the fleet fails at once.

Role in the loop (execute): before an automatic run may act, the executor asks whether too many
targets turned critical together. When more than ``policy.circuit_breaker.max_critical_share``
of the configured targets (and at least ``min_targets`` of them) got a critical decision
within ``window``, the likelier cause is shared (the monitoring itself, a network partition, a
dependency every host uses) and rolling the whole fleet back would be the outage. The breaker
then trips: the state is written to the store's ``flags`` table (durable, shared by replicas)
with a ``breaker.tripped`` audit entry carrying the evidence, and from then on every automatic
run waits in ``awaiting_approval`` for a person, with no deadline (nothing proceeds or fails by
itself: no alert is lost, a person approves or rejects each run). A person's own rollback is
never held. The breaker stays open until an operator resets it (``rollsafe breaker reset``,
``POST /api/v1/breaker/reset``); decisions made before the reset do not count again.

``should_trip`` and ``assess`` are pure; ``consider``, ``read`` and ``reset`` touch the store.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from rollsafe.config import models
from rollsafe.domain import audit_events, runs, verdicts
from rollsafe.storage import repositories

__all__ = [
    "FLAG",
    "Assessment",
    "NotTripped",
    "State",
    "assess",
    "consider",
    "hold",
    "holding",
    "read",
    "reset",
    "should_trip",
]

FLAG = "circuit_breaker"
"""The name of the breaker's row in the store's ``flags`` table."""

_EVIDENCE_KEY = "breaker"  # a held run's evidence carries the breaker's state under this key
_DECISION_LIMIT = 100_000  # decisions are stored on change only: a window holds far fewer


class NotTripped(ValueError):
    """A reset of a breaker that is not open."""


def should_trip(
    critical_targets: int, fleet_size: int, *, max_share: float, min_targets: int
) -> bool:
    """True when ``critical_targets`` of ``fleet_size`` is too many to be independent failures.

    Both conditions must hold: at least ``min_targets`` targets (a small fleet's single failure
    is a share of 1.0 but no sign of a shared cause) and a share strictly above ``max_share``.
    """
    if fleet_size <= 0 or critical_targets < min_targets:
        return False
    return critical_targets / fleet_size > max_share


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the breaker concluded from the decisions in its window."""

    trips: bool
    critical: tuple[str, ...]  # configured targets with a critical decision in the window
    fleet_size: int
    share: float
    since: float
    window_s: float


def assess(
    decisions: Iterable[verdicts.Decision],
    *,
    fleet: Collection[str],
    settings: models.CircuitBreaker,
    now: float,
    since: float | None = None,
) -> Assessment:
    """Would the breaker trip, given ``decisions`` and the configured ``fleet``?

    Counted are targets of ``fleet`` with a critical decision in ``[now - window, now]`` and not
    before ``since`` (the last reset). A disabled breaker never trips.
    """
    start = now - settings.window if since is None else max(now - settings.window, since)
    members = set(fleet)
    critical = sorted(
        {
            str(d.target)
            for d in decisions
            if d.severity is verdicts.Severity.CRITICAL
            and start <= d.time <= now
            and str(d.target) in members
        }
    )
    size = len(members)
    share = len(critical) / size if size else 0.0
    trips = settings.enabled and should_trip(
        len(critical),
        size,
        max_share=settings.max_critical_share,
        min_targets=settings.min_targets,
    )
    return Assessment(
        trips=trips,
        critical=tuple(critical),
        fleet_size=size,
        share=share,
        since=start,
        window_s=settings.window,
    )


@dataclass(frozen=True, slots=True)
class State:
    """The breaker as stored: open (tripped) or closed, with the evidence of the last trip."""

    open: bool = False
    tripped_at: float | None = None
    targets: tuple[str, ...] = ()
    share: float | None = None
    fleet_size: int | None = None
    window_s: float | None = None
    reset_at: float | None = None
    reset_by: str | None = None
    reset_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "tripped_at": self.tripped_at,
            "targets": list(self.targets),
            "share": self.share,
            "fleet_size": self.fleet_size,
            "window_s": self.window_s,
            "reset_at": self.reset_at,
            "reset_by": self.reset_by,
            "reset_reason": self.reset_reason,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> State:
        def number(key: str) -> float | None:
            found = value.get(key)
            return float(found) if isinstance(found, int | float) else None

        def text(key: str) -> str | None:
            found = value.get(key)
            return str(found) if found is not None else None

        size = value.get("fleet_size")
        return cls(
            open=bool(value.get("open", False)),
            tripped_at=number("tripped_at"),
            targets=tuple(str(t) for t in value.get("targets") or ()),
            share=number("share"),
            fleet_size=int(size) if isinstance(size, int) else None,
            window_s=number("window_s"),
            reset_at=number("reset_at"),
            reset_by=text("reset_by"),
            reset_reason=text("reset_reason"),
        )


def read(store: repositories.Store) -> State:
    """The stored state (closed when never tripped)."""
    flag = store.get_flag(FLAG)
    return State() if flag is None else State.from_json(flag.value)


def consider(
    store: repositories.Store,
    config: models.RollsafeConfig,
    *,
    now: float,
    actor: str = "rollsafe",
) -> tuple[State, audit_events.AuditEntry | None]:
    """The breaker's state now, tripping it (audited, written) if the decisions say so.

    Returns the state and the ``breaker.tripped`` entry when this call tripped it (the caller
    hands it to its listeners, which page people). An open breaker stays open.
    """
    state = read(store)
    settings = config.policy.circuit_breaker
    if state.open or not settings.enabled:
        return state, None
    start = now - settings.window
    found = assess(
        # Only the window's critical decisions: this runs before every automatic run.
        store.list_decisions(
            limit=_DECISION_LIMIT,
            since=start if state.reset_at is None else max(start, state.reset_at),
            severity=verdicts.Severity.CRITICAL,
        ),
        fleet=[t.id for t in config.targets],
        settings=settings,
        now=now,
        since=state.reset_at,
    )
    if not found.trips:
        return state, None
    tripped = dataclasses.replace(
        state,
        open=True,
        tripped_at=now,
        targets=found.critical,
        share=found.share,
        fleet_size=found.fleet_size,
        window_s=found.window_s,
    )
    entry = audit_events.AuditEntry(
        time=now,
        actor=actor,
        action="breaker.tripped",
        reason=(
            f"{len(found.critical)} of {found.fleet_size} targets "
            f"({_percent(found.share)}) turned critical within {found.window_s:g}s "
            f"(limit {_percent(settings.max_critical_share)}, at least {settings.min_targets}): "
            "suspecting a shared cause, automatic rollbacks wait for a person"
        ),
        details={
            "targets": list(found.critical),
            "critical": len(found.critical),
            "fleet_size": found.fleet_size,
            "share": found.share,
            "max_critical_share": settings.max_critical_share,
            "min_targets": settings.min_targets,
            "window_s": found.window_s,
            "since": found.since,
            "escalate": True,
        },
        result="tripped",
    )
    store.set_flag(FLAG, tripped.to_json(), by=actor, now=now, audit=entry)
    return tripped, entry


def reset(
    store: repositories.Store, *, actor: str, reason: str, now: float
) -> tuple[State, audit_events.AuditEntry]:
    """An operator closes the open breaker (audited ``breaker.reset``); raises NotTripped.

    Runs already held keep waiting for their person: the reset only lets new ones act alone.
    """
    state = read(store)
    if not state.open:
        raise NotTripped("the circuit breaker is not tripped; nothing to reset")
    closed = dataclasses.replace(
        state, open=False, reset_at=now, reset_by=actor, reset_reason=reason
    )
    entry = audit_events.AuditEntry(
        time=now,
        actor=actor,
        action="breaker.reset",
        reason=reason,
        details={
            "tripped_at": state.tripped_at,
            "targets": list(state.targets),
            "share": state.share,
        },
        result="reset",
    )
    store.set_flag(FLAG, closed.to_json(), by=actor, now=now, audit=entry)
    return closed, entry


def holding(run: runs.RollbackRun) -> bool:
    """True when the breaker made ``run`` wait for a person (its evidence says so)."""
    return _EVIDENCE_KEY in run.evidence


def hold(run: runs.RollbackRun, state: State) -> runs.RollbackRun:
    """``run`` made to wait for a person's approval, without a deadline, because of ``state``."""
    return dataclasses.replace(
        run,
        approval=runs.Approval(mode=runs.ApprovalMode.REQUIRE_APPROVAL),
        evidence={
            **run.evidence,
            _EVIDENCE_KEY: {
                "tripped_at": state.tripped_at,
                "targets": list(state.targets),
                "share": state.share,
            },
        },
    )


def _percent(share: float) -> str:
    return f"{math.floor(share * 1000) / 10:g}%"
