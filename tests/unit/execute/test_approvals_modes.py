"""Approval modes end to end in the executor: FakeClock, the real SQLite store, restarts.

A restart is a new Executor on the same store: the deadline is the one stored when the run
started waiting, never a fresh one.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from runs_helpers import (
    AuditWatch,
    actions,
    chain_ok,
    checkpoint,
    make_config,
    make_executor,
    quarantined,
    rollback_calls,
)

from rollsafe.domain import runs
from rollsafe.execute import approvals
from rollsafe.storage import repositories


async def _start_waiting(config, store, driver, clock):
    """An executor driving a decision's run, returned once the run waits for a person."""
    watch = AuditWatch()
    executor = make_executor(config, store, driver, clock=clock, on_audit=watch)
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="5xx")
    task = asyncio.create_task(executor.drive(run.id))
    await watch.seen("run.state.awaiting_approval")
    return executor, run, task


async def _stop(task):
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _still_waiting(task, store, run_id):
    """The run keeps waiting (its driving task is alive) after a few polls."""
    for _ in range(5):
        await asyncio.sleep(0.02)
    assert not task.done()
    assert store.get_run(run_id).state is runs.RunState.AWAITING_APPROVAL


# --------------------------------------------------------------------------- auto


async def test_auto_acts_at_once(store, driver, clock):
    config = make_config(approval="auto")
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="5xx")
    done = await asyncio.wait_for(executor.drive(run.id), 10)
    assert done.state is runs.RunState.SUCCEEDED
    assert "run.state.awaiting_approval" not in actions(store, run.id)
    assert done.approval.deadline is None


# --------------------------------------------------------------------------- unless_rejected


async def test_unless_rejected_waits_the_window_then_acts(store, driver, clock):
    config = make_config(approval="unless_rejected", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    _, run, task = await _start_waiting(config, store, driver, clock)
    clock.advance(599)
    await _still_waiting(task, store, run.id)
    assert rollback_calls(driver) == []
    clock.advance(1)
    done = await asyncio.wait_for(task, 10)
    assert done.state is runs.RunState.SUCCEEDED
    assert (done.approval.decision, done.approval.decided_by) == ("timeout", "policy")


async def test_unless_rejected_can_be_approved_early(store, driver, clock):
    config = make_config(approval="unless_rejected", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    executor, run, task = await _start_waiting(config, store, driver, clock)
    clock.advance(30)
    executor.approve(run.id, actor="api:alice", reason="saw the 5xx myself", via="dashboard")
    done = await asyncio.wait_for(task, 10)
    assert done.state is runs.RunState.SUCCEEDED
    assert done.approval.decided_by == "api:alice"
    [approved] = [e.entry for e in store.list_audit_events() if e.entry.action == "run.approved"]
    assert approved.actor == "api:alice"
    assert approved.details["via"] == "dashboard"
    assert approved.details["before_deadline"] is True


async def test_unless_rejected_rejected_in_the_window_never_acts(store, driver, clock):
    config = make_config(approval="unless_rejected", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    executor, run, task = await _start_waiting(config, store, driver, clock)
    executor.reject(run.id, actor="cli:bob", reason="planned maintenance", via="cli")
    clock.advance(3600)
    done = await asyncio.wait_for(task, 10)
    assert done.state is runs.RunState.REJECTED
    assert done.error == "rejected by cli:bob: planned maintenance"
    assert rollback_calls(driver) == []
    assert chain_ok(store)


# --------------------------------------------------------------------------- require_approval


async def test_require_approval_acts_on_a_yes(store, driver, clock):
    config = make_config(approval="require_approval", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    executor, run, task = await _start_waiting(config, store, driver, clock)
    clock.advance(500)
    await _still_waiting(task, store, run.id)
    executor.approve(run.id, actor="slack:carol", reason="go", via="slack")
    done = await asyncio.wait_for(task, 10)
    assert done.state is runs.RunState.SUCCEEDED
    assert rollback_calls(driver)


async def test_require_approval_timeout_escalates_by_default(store, driver, clock):
    config = make_config(approval="require_approval", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    _, _run, task = await _start_waiting(config, store, driver, clock)
    clock.advance(600)
    done = await asyncio.wait_for(task, 10)
    assert done.state is runs.RunState.FAILED
    assert done.error == "approval timed out"
    assert rollback_calls(driver) == []
    assert quarantined(store)
    [failed] = [e.entry for e in store.list_audit_events() if e.entry.action == "run.failed"]
    assert failed.details["escalate"] is True


async def test_require_approval_timeout_proceeds_when_the_policy_says_so(store, driver, clock):
    config = make_config(
        approval="require_approval", approval_timeout=600, on_approval_timeout="proceed"
    )
    await checkpoint(config, store, driver, clock)
    _, _run, task = await _start_waiting(config, store, driver, clock)
    clock.advance(600)
    done = await asyncio.wait_for(task, 10)
    assert done.state is runs.RunState.SUCCEEDED
    assert done.approval.decision == "timeout"
    assert "the policy proceeds" in done.approval.reason
    assert not quarantined(store)


# --------------------------------------------------------------------------- restarts


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [("unless_rejected", runs.RunState.SUCCEEDED), ("require_approval", runs.RunState.FAILED)],
)
async def test_a_restart_during_the_window_keeps_the_deadline(store, driver, clock, mode, outcome):
    config = make_config(approval=mode, approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    _, run, task = await _start_waiting(config, store, driver, clock)
    deadline = store.get_run(run.id).approval.deadline
    clock.advance(400)
    await _stop(task)  # the controller stops 400 s into the window

    clock.advance(100)  # it is down for a while
    second = make_executor(config, store, driver, clock=clock)  # the restarted controller
    resumed = asyncio.create_task(second.drive(run.id))
    await _still_waiting(resumed, store, run.id)
    assert store.get_run(run.id).approval.deadline == deadline  # not 600 s from the restart
    clock.advance(99)
    await _still_waiting(resumed, store, run.id)
    clock.advance(1)  # exactly the stored deadline
    done = await asyncio.wait_for(resumed, 10)
    assert done.state is outcome
    assert chain_ok(store)


async def test_a_deadline_that_passed_while_down_is_acted_on_at_restart(store, driver, clock):
    config = make_config(approval="unless_rejected", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    _, run, task = await _start_waiting(config, store, driver, clock)
    await _stop(task)
    clock.advance(3600)
    second = make_executor(config, store, driver, clock=clock)
    done = await asyncio.wait_for(second.drive(run.id), 10)
    assert done.state is runs.RunState.SUCCEEDED
    assert done.approval.decision == "timeout"


async def test_a_decision_made_while_no_controller_runs_is_acted_on_at_restart(
    store, driver, clock
):
    config = make_config(approval="require_approval", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    _, run, task = await _start_waiting(config, store, driver, clock)
    await _stop(task)
    # `rollsafe approve` with the daemon stopped: straight to the store.
    approvals.decide(
        store, run.id, "approve", actor="cli:alice", reason="go", now=clock.now(), via="cli"
    )
    second = make_executor(config, store, driver, clock=clock)
    done = await asyncio.wait_for(second.drive(run.id), 10)
    assert done.state is runs.RunState.SUCCEEDED
    assert done.approval.decided_by == "cli:alice"


# --------------------------------------------------------------------------- deciding


async def test_only_one_decision_counts(store, driver, clock):
    config = make_config(approval="require_approval", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    executor, run, task = await _start_waiting(config, store, driver, clock)
    executor.reject(run.id, actor="cli:bob", reason="no")
    with pytest.raises(runs.InvalidTransition, match="not waiting"):
        executor.approve(run.id, actor="cli:alice", reason="yes")
    assert (await asyncio.wait_for(task, 10)).state is runs.RunState.REJECTED


async def test_a_stale_write_never_overrides_a_decision(store, driver, clock):
    config = make_config(approval="unless_rejected", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    executor, run, task = await _start_waiting(config, store, driver, clock)
    seen = store.get_run(run.id)
    executor.reject(run.id, actor="cli:bob", reason="no")
    # What a deadline firing at the same instant would write, from the run it read before.
    late = dataclasses.replace(
        seen, approval=dataclasses.replace(seen.approval, decision="timeout")
    )
    with pytest.raises(repositories.StaleRunError):
        store.save_run(late, expected=seen)
    assert store.get_run(run.id).state is runs.RunState.REJECTED
    assert (await asyncio.wait_for(task, 10)).state is runs.RunState.REJECTED


async def test_a_link_acts_once_and_only_on_a_waiting_run(store, driver, clock):
    config = make_config(approval="require_approval", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    executor, run, task = await _start_waiting(config, store, driver, clock)
    # A link used before (its nonce is recorded) does nothing, however valid it looks.
    assert store.use_link("n-used", run_id=run.id, action="approve", used_by="x", at=0)
    with pytest.raises(approvals.LinkAlreadyUsed):
        executor.approve(run.id, actor="link", reason="again", via="link", link="n-used")
    assert store.get_run(run.id).approval.decision is None
    # A fresh one acts, and its nonce is spent.
    executor.approve(run.id, actor="link", reason="approved by link", via="link", link="n-1")
    assert not store.use_link("n-1", run_id=run.id, action="approve", used_by="x", at=0)
    assert (await asyncio.wait_for(task, 10)).state is runs.RunState.SUCCEEDED
    # A link for a run that no longer waits is refused before it is spent.
    with pytest.raises(runs.InvalidTransition):
        approvals.decide(store, run.id, "reject", actor="link", reason="x", now=0, link="n-2")
    assert store.use_link("n-2", run_id=run.id, action="reject", used_by="t", at=0)


async def test_unknown_runs_are_reported(store):
    with pytest.raises(approvals.RunNotFound):
        approvals.decide(store, "run-nope", "approve", actor="a", reason="r", now=0)
