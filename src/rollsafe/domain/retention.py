"""Restore point retention: which points may be deleted, and why each other one is kept.

Role in the loop (execute, housekeeping): every upgrade leaves a restore point, and a point
is a full copy or a billed snapshot. ``plan`` decides, without I/O, which points of each
target go. It never chooses a point that is protected (an open run or a rollout still needs
it), never a target's newest point, and always keeps the newest ``keep_last`` per target.
The deleting itself (driver, store, audit) is ``rollsafe.execute.pruning``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rollsafe.domain import ids, restore_points

__all__ = ["Plan", "Verdict", "plan"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One point and why it is kept or deleted (the text goes to the audit and the CLI)."""

    point: restore_points.RestorePoint
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Per point, kept or deleted; both oldest first within a target."""

    keep: tuple[Verdict, ...]
    delete: tuple[Verdict, ...]


def plan(
    points: Iterable[restore_points.RestorePoint],
    *,
    keep_last: int,
    protected: Mapping[ids.RestorePointId, str],
) -> Plan:
    """Split ``points`` into kept and deleted.

    ``protected`` maps a point id to why it must stay (e.g. "used by open run run-1a2b").
    """
    if keep_last < 1:
        raise ValueError(f"keep_last must be at least 1, not {keep_last}")
    by_target: dict[ids.TargetId, list[restore_points.RestorePoint]] = defaultdict(list)
    for point in points:
        by_target[point.target].append(point)
    keep: list[Verdict] = []
    delete: list[Verdict] = []
    for target in sorted(by_target):
        ordered = sorted(by_target[target], key=lambda p: (p.created_at, p.id))
        newest = ordered[-keep_last:]
        newest_ids = {p.id for p in newest}
        for point in ordered:
            if point.id in protected:
                keep.append(Verdict(point, protected[point.id]))
            elif point is ordered[-1]:
                keep.append(Verdict(point, f"newest restore point of {target}"))
            elif point.id in newest_ids:
                keep.append(Verdict(point, f"among the newest {keep_last} of {target}"))
            else:
                delete.append(
                    Verdict(point, f"older than the newest {keep_last} of {target} (keep_last)")
                )
    return Plan(keep=tuple(keep), delete=tuple(delete))
