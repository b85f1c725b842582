"""Pruning with a real SQLite store: protection by runs and rollouts, audit, failures kept."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors, ids, restore_points, rollouts, runs
from rollsafe.execute import pruning
from rollsafe.storage import sql
from rollsafe.testing import clocks as testing_clocks

TARGETS = ("db1", "web1")


class DeletingDriver:
    """Remembers what it deleted; a point id in ``refuse`` fails like a back end would."""

    kind = "fake"

    def __init__(self, name: str = "files", *, refuse: set[str] | None = None) -> None:
        self.name = name
        self.deleted: list[str] = []
        self.refuse = refuse or set()

    async def delete(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        if point.id in self.refuse:
            raise errors.DriverError(f"{point.id}: the back end said no")
        self.deleted.append(point.id)
        return f"removed {point.id}"


class KeepingDriver:
    """A driver without ``delete``."""

    kind = "old"
    name = "files"


def _config(keep_last: int = 2) -> models.RollsafeConfig:
    return models.RollsafeConfig(
        targets=[models.Target(id=t, driver="files") for t in TARGETS],
        policy=models.Policy(retention=models.Retention(keep_last=keep_last)),
    )


@pytest.fixture
def store(tmp_path: Path):
    with sql.open_store(tmp_path) as opened:
        for target in TARGETS:
            for n in range(4):
                opened.add_restore_point(
                    restore_points.RestorePoint(
                        id=ids.RestorePointId(f"{target}-{n}"),
                        target=ids.TargetId(target),
                        driver="files",
                        created_at=float(n),
                    )
                )
        yield opened


async def _prune(store, drivers, **kw) -> dict[str, pruning.Outcome]:
    outcomes = await pruning.prune(
        config=kw.pop("config", _config()),
        store=store,
        drivers=drivers,
        clock=testing_clocks.FakeClock(100.0),
        actor="test",
        **kw,
    )
    return {o.point.id: o for o in outcomes}


def _listed(store, target: str) -> list[str]:
    return [p.id for p in store.list_restore_points(ids.TargetId(target))]


async def test_old_points_go_audited_and_leave_the_lists(store) -> None:
    driver = DeletingDriver()
    outcomes = await _prune(store, {"files": driver})
    assert sorted(driver.deleted) == ["db1-0", "db1-1", "web1-0", "web1-1"]
    assert {o.action for o in outcomes.values()} == {"deleted", "kept"}
    assert _listed(store, "db1") == ["db1-2", "db1-3"]
    # A deleted point cannot be restored (rollback --to, a run naming it) ...
    assert store.get_restore_point(ids.RestorePointId("db1-0")) is None
    assert store.get_restore_point(ids.RestorePointId("db1-2")) is not None
    audit = [
        e.entry for e in store.list_audit_events() if e.entry.action == "restore_point.deleted"
    ]
    assert sorted(e.details["restore_point"] for e in audit) == sorted(driver.deleted)
    assert {e.result for e in audit} == {"deleted"}
    # Nothing left to do: a second prune deletes nothing and writes no audit.
    again = await _prune(store, {"files": driver})
    assert {o.action for o in again.values()} == {"kept"}
    assert len(driver.deleted) == 4


async def test_dry_run_and_one_target(store) -> None:
    driver = DeletingDriver()
    dry = await _prune(store, {"files": driver}, dry_run=True, target_id="web1")
    assert {k for k, o in dry.items() if o.action == "would delete"} == {"web1-0", "web1-1"}
    assert all(k.startswith("web1") for k in dry)
    assert driver.deleted == []
    assert len(_listed(store, "web1")) == 4
    with pytest.raises(errors.ConfigError, match="unknown target"):
        await _prune(store, {"files": driver}, target_id="nope")


async def test_points_of_open_runs_and_rollouts_are_kept(store) -> None:
    store.open_run(
        runs.RollbackRun(
            id=ids.RunId("run-1"),
            target=ids.TargetId("db1"),
            state=runs.RunState.EXECUTING,
            trigger="manual",
            actor="test",
            reason="r",
            created_at=1.0,
            updated_at=1.0,
            restore_point=ids.RestorePointId("db1-0"),
        )
    )
    spec = rollouts.RolloutSpec(
        plan="p",
        waves=(
            rollouts.WaveSpec(
                index=0,
                size="1",
                targets=(ids.TargetId("web1"),),
                bake=1.0,
                budget=rollouts.Budget(max_failures=0),
            ),
        ),
        overall=rollouts.Budget(max_failures=1),
        bake_rules=(),
        on_halt="rollback_all",
        upgrade={},
        max_parallel=1,
    )
    rollout = rollouts.Rollout(
        id=rollouts.RolloutId("ro-1"),
        plan="p",
        state=rollouts.RolloutState.HALTED,  # finished: only the pin protects its point
        created_at=1.0,
        updated_at=1.0,
        actor="test",
        reason="r",
        spec=spec,
    )
    held = rollouts.RolloutTarget(
        rollout_id=rollout.id,
        target=ids.TargetId("web1"),
        wave=0,
        position=0,
        restore_point=ids.RestorePointId("web1-1"),
    )
    store.open_rollout(dataclasses.replace(rollout, state=rollouts.RolloutState.PENDING), [held])
    store.save_rollout(rollout)
    store.set_pin(ids.TargetId("web1"), reason="rolled back by ro-1")
    driver = DeletingDriver()
    outcomes = await _prune(store, {"files": driver})
    assert sorted(driver.deleted) == ["db1-1", "web1-0"]
    assert outcomes["db1-0"].reason == "used by open run run-1"
    assert outcomes["web1-1"].reason == "target web1 pinned by rollout ro-1"


async def test_a_refusal_is_audited_and_the_point_stays(store) -> None:
    driver = DeletingDriver(refuse={"db1-0"})
    outcomes = await _prune(store, {"files": driver}, target_id="db1")
    assert outcomes["db1-0"].action == "failed"
    assert "the back end said no" in outcomes["db1-0"].detail
    assert outcomes["db1-1"].action == "deleted"
    assert "db1-0" in _listed(store, "db1")
    failed = [
        e.entry
        for e in store.list_audit_events()
        if e.entry.action == "restore_point.deleted" and e.entry.result == "failed"
    ]
    assert [e.details["restore_point"] for e in failed] == ["db1-0"]


async def test_a_driver_without_delete_keeps_its_points(store) -> None:
    outcomes = await _prune(store, {"files": KeepingDriver()}, target_id="db1")  # type: ignore[dict-item]
    assert outcomes["db1-0"].action == "unsupported"
    assert len(_listed(store, "db1")) == 4


async def test_a_run_opened_after_the_plan_still_protects_its_point(store) -> None:
    class OpensARunFirst(DeletingDriver):
        """The daemon opening a run on db1-1 while the prune is deleting db1-0."""

        async def delete(self, target, point):
            if point.id == "db1-0":
                store.open_run(
                    runs.RollbackRun(
                        id=ids.RunId("run-late"),
                        target=ids.TargetId("db1"),
                        state=runs.RunState.PENDING,
                        trigger="manual",
                        actor="test",
                        reason="r",
                        created_at=1.0,
                        updated_at=1.0,
                        restore_point=ids.RestorePointId("db1-1"),
                    )
                )
            return await super().delete(target, point)

    driver = OpensARunFirst()
    outcomes = await _prune(store, {"files": driver}, target_id="db1")
    assert driver.deleted == ["db1-0"]
    assert outcomes["db1-1"].action == "kept"
    assert outcomes["db1-1"].reason == "used by open run run-late"
    assert "db1-1" in _listed(store, "db1")
