"""Each safety governor trips when it should: concurrency, rate limit, dry run, quarantine."""

from __future__ import annotations

import asyncio

from runs_helpers import (
    AuditWatch,
    all_runs,
    checkpoint,
    make_config,
    make_executor,
    quarantined,
    rollback_calls,
)

from rollsafe.domain import ids, runs
from rollsafe.execute import governors


class ExecutingCounter(AuditWatch):
    """Tracks how many runs are between ``executing`` and their end, and the maximum."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.most = 0

    def __call__(self, entry):
        if entry.action == "run.state.executing":
            self.now += 1
            self.most = max(self.most, self.now)
        elif entry.action in ("run.succeeded", "run.failed"):
            self.now -= 1
        super().__call__(entry)


async def test_max_concurrent_runs_lets_one_run_act_at_a_time(store, driver, clock):
    targets = ("web-1", "web-2", "web-3")
    config = make_config(*targets, max_concurrent_runs=1)
    for target in targets:
        await checkpoint(config, store, driver, clock, target=target)
    hang = driver.hang("restore")  # the first run to act holds its slot until released
    counter = ExecutingCounter()
    executor = make_executor(config, store, driver, clock=clock, on_audit=counter)
    stop = asyncio.Event()
    serving = asyncio.create_task(executor.serve(stop))
    for target in targets:
        executor.request(target, trigger="decision:down", actor="rollsafe", reason="down")

    await hang.entered.wait()
    states = sorted(r.state.value for t in targets for r in all_runs(store, t))
    assert states == ["executing", "pending", "pending"]  # excess runs wait, never dropped
    hang.release()
    await counter.seen("run.succeeded", count=3)
    stop.set()
    await asyncio.wait_for(serving, 10)

    assert counter.most == 1
    assert all(r.state is runs.RunState.SUCCEEDED for t in targets for r in all_runs(store, t))


async def test_rate_limit_blocks_the_third_rollback_and_quarantines(store, driver, clock):
    config = make_config(max_rollbacks_per_target=2, rollback_window=3600)
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)
    for _ in range(2):
        run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
        assert (await executor.drive(run.id)).state is runs.RunState.SUCCEEDED
        clock.advance(60)
    calls = len(rollback_calls(driver))

    third = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")

    assert third.state is runs.RunState.BLOCKED
    assert "rolled back 2 times" in (third.error or "")
    assert quarantined(store)
    tripped = [e.entry for e in store.list_audit_events() if e.entry.action == "governor.tripped"]
    assert len(tripped) == 1
    assert tripped[0].details["governor"] == governors.RATE_LIMIT
    assert tripped[0].details["escalate"] is True
    assert len(rollback_calls(driver)) == calls
    # Still critical a tick later: no second blocked run, no second trip.
    assert executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d") == third


async def test_rate_limit_counts_only_runs_inside_the_window(store, driver, clock):
    config = make_config(max_rollbacks_per_target=1, rollback_window=3600)
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
    await executor.drive(run.id)
    clock.advance(3601)

    again = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")

    assert again.state is runs.RunState.PENDING


async def test_rate_limit_ignores_runs_that_never_acted(store, driver, clock):
    config = make_config(max_rollbacks_per_target=1)
    executor = make_executor(config, store, driver, clock=clock)
    # No restore point: fails in prechecks, the driver never acted.
    failed = await executor.drive(
        executor.request("web-1", trigger="manual", actor="t", reason="r").id
    )
    assert failed.state is runs.RunState.FAILED
    store.set_quarantine(failed.target, reason=None)  # a person released it

    again = executor.request("web-1", trigger="manual", actor="t", reason="r")

    assert (
        governors.recent_rollbacks(store, failed.target, policy=config.policy, now=clock.now())
        == []
    )
    assert again.state is runs.RunState.PENDING


async def test_dry_run_records_and_never_calls_the_driver(store, driver, clock):
    config = make_config(dry_run=True)
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)

    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")

    assert run.state is runs.RunState.DRY_RUN
    assert not run.open
    assert [c.method for c in driver.calls] == ["checkpoint"]
    assert await executor.drive(run.id) == run
    assert [c.method for c in driver.calls] == ["checkpoint"]
    actions = [e.entry.action for e in store.list_audit_events() if e.entry.run_id == run.id]
    assert actions == ["run.dry_run"]
    # The judge repeating itself does not flood the audit log.
    for _ in range(3):
        assert executor.request("web-1", trigger="decision:down", actor="r", reason="d") == run
    assert len(all_runs(store)) == 1


async def test_quarantined_target_is_blocked(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)
    store.set_quarantine(ids.TargetId("web-1"), reason="disk replaced")

    blocked = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")

    assert blocked.state is runs.RunState.BLOCKED
    assert "disk replaced" in (blocked.error or "")
    assert rollback_calls(driver) == []
    for _ in range(3):
        assert executor.request("web-1", trigger="decision:down", actor="r", reason="d") == blocked
    assert len(all_runs(store)) == 1


async def test_a_run_waiting_for_a_person_does_not_hold_a_slot(store, driver, clock):
    config = make_config("web-1", "web-2", max_concurrent_runs=1, approval="require_approval")
    for target in ("web-1", "web-2"):
        await checkpoint(config, store, driver, clock, target=target)
    watch = AuditWatch()
    executor = make_executor(config, store, driver, clock=clock, on_audit=watch)
    stop = asyncio.Event()
    serving = asyncio.create_task(executor.serve(stop))

    waiting = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
    await watch.seen("run.state.awaiting_approval")
    manual = executor.request("web-2", trigger="manual", actor="cli:alice", reason="now")
    await watch.seen("run.succeeded")

    assert store.get_run(manual.id).state is runs.RunState.SUCCEEDED
    assert store.get_run(waiting.id).state is runs.RunState.AWAITING_APPROVAL
    stop.set()
    await asyncio.wait_for(serving, 10)
