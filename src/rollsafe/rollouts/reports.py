"""What a rollout did, from the store: the summary ``rollout status`` and the demo print.

Role in the loop (rollouts, read side): pure over what the store returns, so the same
summary serves the live view, the final table and ``--json`` (stable: keys are only ever
added). Waves are numbered from 1 for people (``wave``) and from 0 in ``index``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rollsafe.domain import ids, rollouts, verdicts
from rollsafe.rollouts import budgets
from rollsafe.storage import repositories

__all__ = ["current_evidence", "load", "pins_of", "summarize"]


def load(store: repositories.Store, rollout_id: str | None = None) -> rollouts.Rollout | None:
    """The rollout ``rollout_id``; without one, the open rollout, else the newest one."""
    if rollout_id is not None:
        return store.get_rollout(rollouts.RolloutId(rollout_id))
    open_ones = store.list_rollouts(open_only=True, limit=1)
    if open_ones:
        return open_ones[-1]
    newest = store.list_rollouts(limit=1)
    return newest[-1] if newest else None


def pins_of(store: repositories.Store) -> dict[str, str | None]:
    """Pinned targets now, with the reason each was pinned."""
    return {record.id: record.pin_reason for record in store.list_targets() if record.pinned}


def current_evidence(
    rollout: rollouts.Rollout,
    latest: Mapping[ids.TargetId, Sequence[verdicts.Decision]],
    target: ids.TargetId,
) -> verdicts.Decision | None:
    """The worst stored decision of the rollout's bake rules on ``target`` (None: none)."""
    rules = set(rollout.spec.bake_rules)
    worst: verdicts.Decision | None = None
    for decision in latest.get(target, ()):
        if decision.rule in rules and (worst is None or decision.severity > worst.severity):
            worst = decision
    return worst


def summarize(
    rollout: rollouts.Rollout,
    rows: Sequence[rollouts.RolloutTarget],
    *,
    latest: Mapping[ids.TargetId, Sequence[verdicts.Decision]] | None = None,
    pins: Mapping[str, str | None] | None = None,
    now: float,
) -> dict[str, Any]:
    """The rollout, its waves (durations, outcomes), its targets and its budget, as JSON.

    ``latest`` (the store's latest decisions) adds each busy target's current evidence;
    ``pins`` (pinned target -> reason) says which targets are pinned now.
    """
    by_wave: dict[int | None, list[rollouts.RolloutTarget]] = {}
    for row in rows:
        by_wave.setdefault(row.wave, []).append(row)
    logs = {entry.index: entry for entry in rollout.wave_log}
    waves = []
    for wave in rollout.spec.waves:
        members = by_wave.get(wave.index, [])
        log = logs.get(wave.index)
        finished = log.finished_at if log is not None else None
        if log is None:
            outcome = "not started"
        elif log.outcome is not None:
            outcome = log.outcome
        else:
            outcome = "in progress"
        waves.append(
            {
                "wave": wave.index + 1,
                "index": wave.index,
                "size": wave.size,
                "targets": list(wave.targets),
                "bake_s": wave.bake,
                "budget": wave.budget.to_json(),
                "allowed_failures": budgets.allowed(wave.budget, len(wave.targets)),
                "started_at": log.started_at if log is not None else None,
                "finished_at": finished,
                "duration_s": (
                    None
                    if log is None
                    else (finished if finished is not None else now) - log.started_at
                ),
                "outcome": outcome,
                "states": _count(members),
                "failures": sum(1 for r in members if r.failed),
            }
        )
    targets = []
    for row in rows:
        item = row.to_json()
        item["wave"] = None if row.wave is None else row.wave + 1
        item["pinned"] = pins is not None and row.target in pins
        item["pin_reason"] = None if pins is None else pins.get(row.target)
        evidence = None
        if latest is not None and row.state.in_flight:
            found = current_evidence(rollout, latest, row.target)
            evidence = None if found is None else found.to_json()
        item["current"] = evidence
        targets.append(item)
    failures = sum(1 for r in rows if r.failed)
    body = rollout.to_json()
    body["wave"] = min(rollout.wave + 1, len(rollout.spec.waves))
    ended = rollout.updated_at if rollout.state.terminal else now
    body["duration_s"] = ended - rollout.created_at
    return {
        "rollout": body,
        "waves": waves,
        "targets": targets,
        "counts": _count(rows),
        "failures": failures,
        "budget": {
            "overall": rollout.spec.overall.to_json(),
            "planned": rollout.spec.planned,
            "allowed_failures": budgets.allowed(rollout.spec.overall, rollout.spec.planned),
            "failures": failures,
        },
    }


def _count(rows: Sequence[rollouts.RolloutTarget]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state.value] = counts.get(row.state.value, 0) + 1
    return counts
