"""What a restarted daemon reads back from before the judge's horizon (runtime).

The daemon's warm-up refills the judge's windows with the observations of its horizon
(``Engine.horizon``: the longest history a rule reads, plus an upgrade's longest hold). A
judge that never stopped knows more than that about a target upgraded longer ago: the
upgrade marks it saw (the newest ``engine.MAX_MARKS`` of each kind), and the reference
period before each (``before``: a window pins it at the mark, whatever the horizon). Without
them a restarted daemon takes such a target for one never upgraded: with
``policy.before_first_mark: hold`` its failures are held as warnings, never rolled back, and
a baseline has nothing to compare with. So at start-up, before the horizon's observations,
the daemon folds in:

- per configured target, the newest marks of each kind in the store (``newest_marks``). The
  daemon's prune never deletes marks (``KEPT``): they are one row per upgrade, and a target
  last upgraded before ``policy.observation_retention`` is still a marked one;
- the observations of the reference periods before those marks, where they lie before the
  horizon (``reference_observations``), as far as the store still holds them (its
  ``policy.observation_retention``, 7 days by default).

Folded before the horizon's newer observations, each lands in the pin its mark made, so the
restarted judge compares with the same "before the upgrade" as the one that never stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rollsafe.domain import ids, observations
from rollsafe.execute import upgrading
from rollsafe.storage import repositories

__all__ = ["KEPT", "newest_marks", "reference_observations", "reference_periods"]

KEPT = upgrading.MARKS
"""The sources the daemon's prune keeps past ``policy.observation_retention``: the marks."""

_MARK_PREFIX = "mark:"


def newest_marks(
    store: repositories.Store, targets: Iterable[ids.TargetId], *, per_kind: int
) -> list[observations.Observation]:
    """The newest ``per_kind`` marks of each kind (``upgrade_started``, ``upgrade``) of each
    of ``targets`` in ``store``, oldest first."""
    found = [
        mark
        for target in targets
        for source in upgrading.MARKS
        for mark in store.list_observations(target=target, source=source, limit=per_kind)
    ]
    return sorted(found, key=lambda mark: mark.time)


def reference_periods(
    times: Iterable[float], *, before: float, until: float
) -> list[tuple[float, float]]:
    """``[start, end)`` spans covering ``before`` seconds before each mark time in ``times``,
    cut at ``until`` (the horizon's start: what lies after it is refilled anyway), merged
    where they meet, in time order; none when ``before`` is 0."""
    if before <= 0:
        return []
    spans = sorted((at - before, min(at, until)) for at in times)
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def reference_observations(
    store: repositories.Store,
    marks: Sequence[observations.Observation],
    *,
    before: float,
    since: float,
    limit: int,
) -> list[observations.Observation]:
    """The observations (not marks) of each target in the ``before`` seconds ahead of its
    ``marks``, made before ``since``, oldest first (at most ``limit`` per period)."""
    times: dict[ids.TargetId, list[float]] = {}
    for mark in marks:
        times.setdefault(mark.target, []).append(mark.time)
    found: list[observations.Observation] = []
    for target, at in times.items():
        for start, end in reference_periods(at, before=before, until=since):
            found.extend(
                obs
                for obs in store.list_observations(
                    target=target, since=start, until=end, limit=limit
                )
                if not obs.source.startswith(_MARK_PREFIX)
            )
    return sorted(found, key=lambda obs: obs.time)
