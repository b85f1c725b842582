"""Approval modes: approve, reject, and what the stored deadline does (virtual clock)."""

from __future__ import annotations

import asyncio

import pytest
from runs_helpers import (
    AuditWatch,
    actions,
    checkpoint,
    make_config,
    make_executor,
    quarantined,
    rollback_calls,
)

from rollsafe.config import models
from rollsafe.domain import runs


def watched(config, store, driver, clock):
    watch = AuditWatch()
    return make_executor(config, store, driver, clock=clock, on_audit=watch), watch


async def _waiting(executor, watch, store, run_id):
    """Drive ``run_id`` in a task and return it once the run waits for a person."""
    task = asyncio.create_task(executor.drive(run_id))
    await watch.seen("run.state.awaiting_approval")
    assert store.get_run(run_id).state is runs.RunState.AWAITING_APPROVAL
    return task


async def test_approve_lets_the_run_go_on(store, driver, clock):
    config = make_config(approval="unless_rejected", approval_timeout=600)
    await checkpoint(config, store, driver, clock)
    executor, watch = watched(config, store, driver, clock)
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    task = await _waiting(executor, watch, store, run.id)

    waiting = store.get_run(run.id)
    assert waiting.approval.mode is runs.ApprovalMode.UNLESS_REJECTED
    assert waiting.approval.deadline == clock.now() + 600
    assert rollback_calls(driver) == []

    executor.approve(run.id, actor="cli:alice", reason="go")
    done = await asyncio.wait_for(task, 10)

    assert done.state is runs.RunState.SUCCEEDED
    assert done.approval.decided_by == "cli:alice"
    assert done.approval.decision == "approved"
    assert "run.approved" in actions(store, run.id)


async def test_reject_ends_the_run_rejected_without_touching_the_target(store, driver, clock):
    config = make_config(approval="require_approval")
    await checkpoint(config, store, driver, clock)
    executor, watch = watched(config, store, driver, clock)
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    task = await _waiting(executor, watch, store, run.id)

    executor.reject(run.id, actor="cli:bob", reason="false alarm, deploy in progress")
    done = await asyncio.wait_for(task, 10)

    assert done.state is runs.RunState.REJECTED
    assert done.approval.decision == "rejected"
    assert rollback_calls(driver) == []
    assert not quarantined(store)
    # The same decision again does not ask again within the window.
    again = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    assert again.id == run.id


async def test_unless_rejected_proceeds_at_the_deadline(store, driver, clock):
    config = make_config(approval="unless_rejected", approval_timeout=300)
    await checkpoint(config, store, driver, clock)
    executor, watch = watched(config, store, driver, clock)
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    task = await _waiting(executor, watch, store, run.id)

    clock.advance(301)
    done = await asyncio.wait_for(task, 10)

    assert done.state is runs.RunState.SUCCEEDED
    assert done.approval.decision == "timeout"
    assert "run.approval.timeout" in actions(store, run.id)


async def test_require_approval_fails_and_escalates_at_the_deadline(store, driver, clock):
    config = make_config(approval="require_approval", approval_timeout=300)
    await checkpoint(config, store, driver, clock)
    executor, watch = watched(config, store, driver, clock)
    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    task = await _waiting(executor, watch, store, run.id)

    clock.advance(301)
    done = await asyncio.wait_for(task, 10)

    assert done.state is runs.RunState.FAILED
    assert done.error == "approval timed out"
    assert rollback_calls(driver) == []
    assert quarantined(store)


async def test_the_rule_overrides_the_policy(store, driver, clock):
    rule = models.ThresholdRule(
        id="down",
        kind="threshold",
        probe="http",
        op="<",
        value=1,
        severity="critical",
        approval="require_approval",
    )
    config = make_config(rules=[rule], approval="auto")
    await checkpoint(config, store, driver, clock)
    executor, watch = watched(config, store, driver, clock)

    run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    task = await _waiting(executor, watch, store, run.id)
    assert store.get_run(run.id).approval.mode is runs.ApprovalMode.REQUIRE_APPROVAL
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_persons_request_is_its_own_approval(store, driver, clock):
    config = make_config(approval="require_approval")
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)

    run = executor.request("web-1", trigger="manual", actor="cli:alice", reason="broken")
    done = await asyncio.wait_for(executor.drive(run.id), 10)

    assert done.state is runs.RunState.SUCCEEDED
    assert done.approval.decided_by == "cli:alice"


async def test_approval_from_another_process_is_noticed(store, driver, clock):
    config = make_config(approval="require_approval")
    await checkpoint(config, store, driver, clock)
    daemon, watch = watched(config, store, driver, clock)
    cli = make_executor(config, store, driver, clock=clock)  # its own events, same store
    run = daemon.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    task = await _waiting(daemon, watch, store, run.id)

    cli.approve(run.id, actor="cli:alice", reason="go")
    done = await asyncio.wait_for(task, 10)

    assert done.state is runs.RunState.SUCCEEDED


async def test_only_a_waiting_run_can_be_approved_or_rejected(store, driver, clock):
    executor = make_executor(make_config(), store, driver, clock=clock)
    run = executor.request("web-1", trigger="manual", actor="t", reason="r")

    with pytest.raises(runs.InvalidTransition, match="not waiting for approval"):
        executor.approve(run.id, actor="cli:alice", reason="go")
    with pytest.raises(runs.InvalidTransition, match="not waiting for approval"):
        executor.reject(run.id, actor="cli:alice", reason="no")


async def test_a_run_waiting_for_a_person_resumes_waiting_after_a_restart(store, driver, clock):
    config = make_config(approval="require_approval", approval_timeout=300)
    await checkpoint(config, store, driver, clock)
    first, watch = watched(config, store, driver, clock)
    run = first.request("web-1", trigger="decision:down", actor="rollsafe", reason="down")
    task = await _waiting(first, watch, store, run.id)
    task.cancel()  # the controller stops while the run waits
    with pytest.raises(asyncio.CancelledError):
        await task

    second = make_executor(config, store, driver, clock=clock)
    resumed = asyncio.create_task(second.drive(run.id))
    await asyncio.sleep(0.05)
    assert not resumed.done()
    assert store.get_run(run.id).approval.deadline == clock.now() + 300  # the stored deadline
    second.approve(run.id, actor="cli:alice", reason="go")
    assert (await asyncio.wait_for(resumed, 10)).state is runs.RunState.SUCCEEDED
