"""The circuit breaker in the executor: tripped by the fleet's decisions, holds automatic runs
for a person (no deadline), never a person's own rollback, durable until an operator resets it.

Real SQLite store, FakeDriver, virtual clock.
"""

from __future__ import annotations

import asyncio

import pytest
from runs_helpers import AuditWatch, checkpoint, make_config, make_executor, rollback_calls

from rollsafe.domain import ids, verdicts
from rollsafe.execute import breaker
from rollsafe.storage import sql

FLEET = ("web-1", "web-2", "web-3", "web-4", "web-5")


def critical(store, clock, *targets: str) -> None:
    store.add_decisions(
        [
            verdicts.Decision(
                time=clock.now(),
                target=ids.TargetId(t),
                rule=ids.RuleId("down"),
                severity=verdicts.Severity.CRITICAL,
                summary="down",
            )
            for t in targets
        ]
    )


def setup(store, driver, clock, **policy):
    config = make_config(*FLEET, **policy)
    watch = AuditWatch()
    return config, make_executor(config, store, driver, clock=clock, on_audit=watch), watch


def audited(store, action):
    return [e.entry for e in store.list_audit_events() if e.entry.action == action]


async def test_below_the_threshold_automatic_runs_act_alone(store, driver, clock):
    config, executor, _ = setup(store, driver, clock)
    await checkpoint(config, store, driver, clock, "web-1")
    critical(store, clock, "web-1")  # one of five: 20%, and fewer than 3
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    done = await asyncio.wait_for(executor.drive(run.id), 10)
    assert done.state.value == "succeeded"
    assert not breaker.read(store).open
    assert audited(store, "breaker.tripped") == []


async def test_tripping_holds_automatic_runs_for_a_person_without_a_deadline(store, driver, clock):
    config, executor, watch = setup(
        store, driver, clock, approval_timeout=60, on_approval_timeout="proceed"
    )
    await checkpoint(config, store, driver, clock, "web-3")
    critical(store, clock, "web-1", "web-2", "web-3")  # 60% > 30%, and 3 targets
    run = executor.request("web-3", trigger="decision:down", actor="rollsafe", reason="down")

    (entry,) = audited(store, "breaker.tripped")
    assert entry.details["targets"] == ["web-1", "web-2", "web-3"]
    assert entry.details["share"] == 0.6
    assert entry.details["window_s"] == 300.0
    assert watch.count("breaker.tripped") == 1  # handed to the listeners: people are paged
    state = breaker.read(store)
    assert state.open
    assert state.targets == ("web-1", "web-2", "web-3")

    task = asyncio.create_task(executor.drive(run.id))
    await watch.seen("run.state.awaiting_approval")
    waiting = store.get_run(run.id)
    assert waiting.approval.mode.value == "require_approval"
    assert waiting.approval.deadline is None
    assert waiting.evidence["breaker"]["targets"] == ["web-1", "web-2", "web-3"]

    clock.advance(3600)  # far past approval_timeout; the policy would proceed without a breaker
    await asyncio.sleep(0.05)  # several poll intervals of the waiting run
    assert store.get_run(run.id).state.value == "awaiting_approval"
    assert rollback_calls(driver) == []

    executor.approve(run.id, actor="cli:alice", reason="checked, it is this host")
    done = await asyncio.wait_for(task, 10)
    assert done.state.value == "succeeded"


async def test_a_person_s_rollback_is_never_held(store, driver, clock):
    config, executor, _ = setup(store, driver, clock)
    await checkpoint(config, store, driver, clock, "web-4")
    critical(store, clock, "web-1", "web-2", "web-3")
    executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    assert breaker.read(store).open
    run = executor.request("web-4", trigger="manual", actor="cli:bob", reason="by hand")
    done = await asyncio.wait_for(executor.drive(run.id), 10)
    assert done.state.value == "succeeded"


async def test_a_run_opened_before_the_trip_is_held_at_its_gate(store, driver, clock):
    config, executor, watch = setup(store, driver, clock)
    await checkpoint(config, store, driver, clock, "web-5")
    run = executor.request("web-5", trigger="decision:down", actor="rollsafe", reason="down")
    critical(store, clock, "web-1", "web-2", "web-3")
    executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    task = asyncio.create_task(executor.drive(run.id))
    await watch.seen("run.state.awaiting_approval")
    assert store.get_run(run.id).approval.deadline is None
    executor.reject(run.id, actor="cli:alice", reason="shared cause")
    assert (await asyncio.wait_for(task, 10)).state.value == "rejected"


async def test_an_unless_rejected_run_does_not_proceed_at_its_deadline_while_open(
    store, driver, clock
):
    config, executor, watch = setup(store, driver, clock, approval="unless_rejected")
    await checkpoint(config, store, driver, clock, "web-5")
    run = executor.request("web-5", trigger="decision:down", actor="rollsafe", reason="down")
    task = asyncio.create_task(executor.drive(run.id))
    await watch.seen("run.state.awaiting_approval")
    assert store.get_run(run.id).approval.deadline is not None
    critical(store, clock, "web-1", "web-2", "web-3")
    executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    clock.advance(10_000)
    await asyncio.sleep(0.05)
    assert store.get_run(run.id).state.value == "awaiting_approval"
    executor.reject(run.id, actor="cli:alice", reason="shared cause")
    assert (await asyncio.wait_for(task, 10)).state.value == "rejected"


async def test_the_state_is_durable_and_stays_open_until_reset(store, driver, clock, tmp_path):
    config, executor, _ = setup(store, driver, clock)
    critical(store, clock, "web-1", "web-2", "web-3")
    executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    clock.advance(3600)  # the decisions left the window; still open
    assert breaker.consider(store, config, now=clock.now())[0].open

    with sql.open_store(tmp_path / "state") as other:  # another replica, same database
        assert breaker.read(other).open
        closed, entry = breaker.reset(other, actor="cli:alice", reason="probe bug", now=clock.now())
    assert not closed.open
    assert entry.action == "breaker.reset"
    flag = store.get_flag(breaker.FLAG)
    assert flag is not None
    assert flag.updated_by == "cli:alice"
    (reset,) = audited(store, "breaker.reset")
    assert reset.reason == "probe bug"

    with pytest.raises(breaker.NotTripped):
        breaker.reset(store, actor="cli:alice", reason="again", now=clock.now())


async def test_decisions_before_a_reset_do_not_trip_it_again(store, driver, clock):
    _config, executor, _ = setup(store, driver, clock)
    critical(store, clock, "web-1", "web-2", "web-3")
    executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    clock.advance(1)
    breaker.reset(store, actor="cli:alice", reason="probe bug", now=clock.now())
    clock.advance(1)
    executor.request("web-2", trigger="decision:down", actor="rollsafe", reason="down")
    assert not breaker.read(store).open
    critical(store, clock, "web-3", "web-4", "web-5")
    executor.request("web-4", trigger="decision:down", actor="rollsafe", reason="down")
    assert breaker.read(store).open
    assert len(audited(store, "breaker.tripped")) == 2


async def test_a_disabled_breaker_holds_nothing(store, driver, clock):
    config, executor, _ = setup(store, driver, clock, circuit_breaker={"enabled": False})
    await checkpoint(config, store, driver, clock, "web-3")
    critical(store, clock, "web-1", "web-2", "web-3", "web-4")
    run = executor.request("web-3", trigger="decision:down", actor="rollsafe", reason="down")
    assert not breaker.read(store).open
    done = await asyncio.wait_for(executor.drive(run.id), 10)
    assert done.state.value == "succeeded"
