"""Pruning restore points: apply the retention plan through the drivers, audited.

Role in the loop (execute, housekeeping): ``prune`` lists the targets' stored points, works
out which are protected (an open run's point, the points of an open rollout, the points a
rollout left on a target it pinned), asks ``rollsafe.domain.retention.plan`` what goes, and
deletes each on its back end through the driver's optional ``delete``. Only a deletion the
driver confirmed (or found already done) marks the store row deleted, with a
``restore_point.deleted`` audit event in the same write; a failure is audited as such and
the point stays listed, to be tried again at the next prune.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rollsafe.config import models
from rollsafe.domain import audit_events, clocks, errors, ids, restore_points, retention
from rollsafe.execute import driving
from rollsafe.storage import repositories

__all__ = ["Outcome", "protected_points", "prune"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one point: kept, deleted, would-delete (dry run), failed, unsupported."""

    point: restore_points.RestorePoint
    action: str
    reason: str
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "restore_point": self.point.id,
            "target": self.point.target,
            "driver": self.point.driver,
            "created_at": self.point.created_at,
            "action": self.action,
            "reason": self.reason,
            "detail": self.detail,
        }


def protected_points(store: repositories.Store) -> dict[ids.RestorePointId, str]:
    """Points retention must not delete, each with why."""
    protected: dict[ids.RestorePointId, str] = {}
    for run in store.list_runs(open_only=True, limit=100_000):
        if run.restore_point is not None:
            protected[run.restore_point] = f"used by open run {run.id}"
    pinned = {record.id for record in store.list_targets() if record.pinned}
    for rollout in store.list_rollouts(limit=100_000):
        for held in store.list_rollout_targets(rollout.id):
            if held.restore_point is None or held.restore_point in protected:
                continue
            if rollout.open:
                protected[held.restore_point] = f"held by open rollout {rollout.id}"
            elif held.target in pinned:
                protected[held.restore_point] = (
                    f"target {held.target} pinned by rollout {rollout.id}"
                )
    return protected


async def prune(
    *,
    config: models.RollsafeConfig,
    store: repositories.Store,
    drivers: Mapping[str, driving.Driver],
    clock: clocks.Clock,
    actor: str,
    target_id: str | None = None,
    dry_run: bool = False,
) -> list[Outcome]:
    """Delete the points retention does not keep (of ``target_id``, or of every target)."""
    targets = [t for t in config.targets if target_id is None or t.id == target_id]
    if target_id is not None and not targets:
        raise errors.ConfigError(f"unknown target {target_id!r}")
    points = [p for t in targets for p in store.list_restore_points(ids.TargetId(t.id))]
    keep_last = config.policy.retention.keep_last
    plan = retention.plan(points, keep_last=keep_last, protected=protected_points(store))
    outcomes = [Outcome(v.point, "kept", v.reason) for v in plan.keep]
    for verdict in plan.delete:
        if dry_run:
            outcomes.append(Outcome(verdict.point, "would delete", verdict.reason))
            continue
        target = config.target(verdict.point.target)
        outcomes.append(
            await _delete(target, verdict, drivers=drivers, store=store, clock=clock, actor=actor)
        )
    return outcomes


async def _delete(
    target: models.Target,
    verdict: retention.Verdict,
    *,
    drivers: Mapping[str, driving.Driver],
    store: repositories.Store,
    clock: clocks.Clock,
    actor: str,
) -> Outcome:
    point = verdict.point
    # A run may have opened on this point since the plan was made (the daemon runs alongside
    # a person's prune): look again just before deleting.
    for run in store.list_runs(target=point.target, open_only=True):
        if run.restore_point == point.id:
            return Outcome(point, "kept", f"used by open run {run.id}")
    driver = drivers.get(point.driver)
    if driver is None:
        return Outcome(point, "failed", verdict.reason, f"driver {point.driver} not configured")
    deleting = driving.deleter(driver)
    if deleting is None:
        return Outcome(
            point, "unsupported", verdict.reason, f"driver {point.driver} cannot delete points"
        )

    def entry(result: str, detail: str) -> audit_events.AuditEntry:
        return audit_events.AuditEntry(
            time=clock.now(),
            actor=actor,
            action="restore_point.deleted",
            target=point.target,
            reason=verdict.reason,
            details={"restore_point": point.id, "driver": point.driver, "detail": detail},
            result=result,
        )

    def record(operation: str, details: Mapping[str, object]) -> None:
        store.append_audit(
            audit_events.AuditEntry(
                time=clock.now(),
                actor=actor,
                action="driver.api_call",
                target=point.target,
                details={"operation": operation, **details},
            )
        )

    token = driving.recording_api_calls(record)
    try:
        detail = await deleting.delete(target, point)
    except errors.RollsafeError as exc:
        store.append_audit(entry("failed", str(exc)))
        return Outcome(point, "failed", verdict.reason, str(exc))
    finally:
        driving.reset_api_calls(token)
    store.mark_restore_point_deleted(point.id, at=clock.now(), audit=entry("deleted", detail))
    return Outcome(point, "deleted", verdict.reason, detail)
