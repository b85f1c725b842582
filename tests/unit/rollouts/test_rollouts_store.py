"""The store's rollout tables, the pin flag, and the one-rollout-at-a-time rule."""

from __future__ import annotations

import dataclasses

import pytest

from rollsafe.domain import audit_events, errors, ids, rollouts
from rollsafe.storage import auditing, repositories, sql


def spec() -> rollouts.RolloutSpec:
    return rollouts.RolloutSpec(
        plan="p",
        waves=(
            rollouts.WaveSpec(
                index=0,
                size="1",
                targets=(ids.TargetId("a"),),
                bake=1.0,
                budget=rollouts.Budget(max_failures=0),
            ),
            rollouts.WaveSpec(
                index=1,
                size="100%",
                targets=(ids.TargetId("b"),),
                bake=2.0,
                budget=rollouts.Budget(max_failure_ratio=0.5),
            ),
        ),
        overall=rollouts.Budget(max_failures=1),
        bake_rules=("r",),
        on_halt="rollback_all",
        upgrade={"d": ["x", "{id}"]},
        max_parallel=3,
    )


def rollout(rollout_id: str = "ro-1") -> rollouts.Rollout:
    return rollouts.Rollout(
        id=rollouts.RolloutId(rollout_id),
        plan="p",
        state=rollouts.RolloutState.PENDING,
        created_at=1.0,
        updated_at=1.0,
        actor="cli:me",
        reason="why",
        spec=spec(),
    )


def rows(rollout_id: str = "ro-1") -> list[rollouts.RolloutTarget]:
    rid = rollouts.RolloutId(rollout_id)
    return [
        rollouts.RolloutTarget(rollout_id=rid, target=ids.TargetId("b"), wave=1, position=1),
        rollouts.RolloutTarget(rollout_id=rid, target=ids.TargetId("a"), wave=0, position=0),
        rollouts.RolloutTarget(
            rollout_id=rid,
            target=ids.TargetId("z"),
            wave=None,
            position=2,
            state=rollouts.TargetState.SKIPPED,
            note="pinned",
        ),
    ]


def entry(action: str, target: str | None = None) -> audit_events.AuditEntry:
    return audit_events.AuditEntry(time=2.0, actor="test", action=action, target=target)


@pytest.fixture
def store(tmp_path):
    with sql.open_store(tmp_path) as opened:
        opened.sync_targets(
            [
                repositories.TargetRecord(id=ids.TargetId(t), address="", labels={}, driver="d")
                for t in ("a", "b")
            ]
        )
        yield opened


def test_a_rollout_round_trips_with_its_targets(store):
    store.open_rollout(rollout(), rows(), audit=entry("rollout.opened"))

    found = store.get_rollout(rollouts.RolloutId("ro-1"))
    assert found == rollout()
    listed = store.list_rollout_targets(rollouts.RolloutId("ro-1"))
    assert [r.target for r in listed] == ["a", "b", "z"]  # wave order, left-out last
    assert listed[2].note == "pinned"
    assert store.list_rollouts(open_only=True) == [rollout()]


def test_one_rollout_in_progress_at_a_time(store):
    store.open_rollout(rollout("ro-1"), rows("ro-1"))
    with pytest.raises(repositories.ActiveRolloutExistsError, match="ro-1"):
        store.open_rollout(rollout("ro-2"), rows("ro-2"))
    ended = rollout("ro-1").moved(rollouts.RolloutState.HALTED, at=5.0, reason="budget")
    store.save_rollout(ended)
    store.open_rollout(rollout("ro-2"), rows("ro-2"))  # the slot is free again
    assert [r.id for r in store.list_rollouts()] == ["ro-1", "ro-2"]
    assert [r.id for r in store.list_rollouts(open_only=True)] == ["ro-2"]


def test_desired_is_written_only_by_its_own_method(store):
    store.open_rollout(rollout(), rows())
    store.set_rollout_desired(
        rollouts.RolloutId("ro-1"), rollouts.Desired.PAUSE, audit=entry("rollout.pause")
    )
    # The controller saves its own view afterwards: the person's request survives.
    running = rollout().moved(rollouts.RolloutState.RUNNING, at=3.0)
    store.save_rollout(dataclasses.replace(running, wave=1))
    found = store.get_rollout(rollouts.RolloutId("ro-1"))
    assert found.desired is rollouts.Desired.PAUSE
    assert found.state is rollouts.RolloutState.RUNNING
    assert found.wave == 1
    with pytest.raises(errors.StoreError, match="not in the store"):
        store.set_rollout_desired(rollouts.RolloutId("ro-9"), rollouts.Desired.RUN)


def test_a_target_step_and_its_pin_are_one_write(store):
    store.open_rollout(rollout(), rows())
    failed = dataclasses.replace(
        rows()[1],
        state=rollouts.TargetState.ROLLING_BACK,
        failure="errors-high: 10 > 5",
        evidence={"rule": "errors-high"},
    )
    store.save_rollout_target(failed, audit=entry("rollout.target.failed", "a"), pin="bad")

    (row,) = [r for r in store.list_rollout_targets(rollouts.RolloutId("ro-1")) if r.target == "a"]
    assert row == failed
    assert row.failed
    record = {r.id: r for r in store.list_targets()}["a"]
    assert record.pinned
    assert record.pin_reason == "bad"
    assert auditing.verify_store(store).ok
    with pytest.raises(errors.StoreError, match="not part of rollout"):
        store.save_rollout_target(dataclasses.replace(failed, target=ids.TargetId("q")))


def test_pins_survive_a_config_sync_and_can_be_cleared(store):
    store.set_pin(ids.TargetId("a"), reason="rolled back")
    store.set_pin(ids.TargetId("ghost"), reason="no longer configured")  # still recorded
    store.sync_targets(
        [repositories.TargetRecord(id=ids.TargetId("b"), address="", labels={}, driver="d")]
    )
    pinned = {r.id: r.pin_reason for r in store.list_targets() if r.pinned}
    assert pinned == {"a": "rolled back", "ghost": "no longer configured"}
    store.set_pin(ids.TargetId("a"), reason=None, audit=entry("target.unpinned", "a"))
    assert {r.id for r in store.list_targets() if r.pinned} == {"ghost"}
