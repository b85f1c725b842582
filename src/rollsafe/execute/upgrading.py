"""Upgrade marks: when an upgrade began and ended on a target, on its timeline (execute).

Role in the loop: the judge and the rollback policy need to know when a target's release
changed. Two marks, stored as observations with no value of their own:

- ``mark:upgrade_started`` is written BEFORE the driver's upgrade begins (by ``rollsafe
  upgrade`` and by rollouts). From then on the target counts as upgraded for "one rollback
  per upgrade" (``runtime.acting``): a failure seen while the upgrade still runs has a new
  release to undo, even though the upgrade has not finished yet. Written before the effect,
  inside a leader term it is also the fenced write that keeps a deposed leader from starting
  an upgrade at all.
- ``mark:upgrade`` is written when the upgrade ended (even a failed one may have changed the
  target); baseline rules take it as "the upgrade happened here" (``judge.engine.UPGRADE``).
"""

from __future__ import annotations

from rollsafe.domain import ids, observations
from rollsafe.storage import repositories

__all__ = ["FINISHED", "MARKS", "STARTED", "finished", "started"]

STARTED = "mark:upgrade_started"
FINISHED = "mark:upgrade"
MARKS = (STARTED, FINISHED)
"""Every upgrade mark, oldest meaning first."""


def started(store: repositories.Store, target: ids.TargetId, *, at: float) -> None:
    """Record that an upgrade of ``target`` begins now; raises (StoreError, FencedOut) when
    it cannot be recorded, and then the upgrade must not begin."""
    store.add_observations([_mark(STARTED, target, at)])


def finished(store: repositories.Store, target: ids.TargetId, *, at: float) -> None:
    """Record that an upgrade of ``target`` ended (succeeded or not)."""
    store.add_observations([_mark(FINISHED, target, at)])


def _mark(source: str, target: ids.TargetId, at: float) -> observations.Observation:
    return observations.Observation(time=at, target=target, source=source, value=1.0)
