"""A controller that dies anywhere leaves a run the next one finishes, with no effect twice.

In-process version of the crash test: the fault hook raises a BaseException at a boundary
(nothing in rollsafe catches it), which leaves the store exactly as a SIGKILL would; a fresh
executor on the same store then resumes. The real-process version is
tests/integration/test_crash_recovery.py.
"""

from __future__ import annotations

import pytest
from runs_helpers import (
    Crash,
    all_runs,
    chain_ok,
    checkpoint,
    crash_at,
    make_config,
    make_executor,
    rollback_calls,
)

from rollsafe import testing
from rollsafe.domain import runs
from rollsafe.execute import runs as executing

STEPS = ("restore", "restart")


@pytest.mark.parametrize("boundary", executing.fault_boundaries(len(STEPS)))
async def test_resumes_from_every_boundary(store, clock, boundary):
    config = make_config()
    driver = testing.FakeDriver(steps=STEPS, clock=clock)
    await checkpoint(config, store, driver, clock)
    dying = make_executor(config, store, driver, clock=clock, fault=crash_at(boundary))

    with pytest.raises(Crash):  # noqa: PT012 - the crash may strike in request() or drive()
        run = dying.request("web-1", trigger="manual", actor="cli:alice", reason="broken")
        await dying.drive(run.id)

    resumed = make_executor(config, store, driver, clock=clock)
    again = resumed.request("web-1", trigger="manual", actor="cli:alice", reason="broken")
    done = await resumed.drive(again.id)

    assert done.state is runs.RunState.SUCCEEDED
    assert len(all_runs(store)) == 1
    for step in STEPS:
        assert len(driver.effects_of(step)) == 1, step
    keys = [s.key for s in store.list_steps(done.id)]
    assert {c.key for c in rollback_calls(driver)} == set(keys)
    assert chain_ok(store)


async def test_a_step_cut_off_after_its_effect_is_reinvoked_with_the_same_key(store, clock):
    config = make_config()
    driver = testing.FakeDriver(steps=STEPS, clock=clock)
    await checkpoint(config, store, driver, clock)
    # The effect happens, then the controller dies before it hears back.
    driver.fail("restart", Crash("killed mid-step"), after_effect=True)
    dying = make_executor(config, store, driver, clock=clock)
    run = dying.request("web-1", trigger="manual", actor="t", reason="r")
    with pytest.raises(Crash):
        await dying.drive(run.id)
    assert [s.state for s in store.list_steps(run.id)] == [
        runs.StepState.DONE,
        runs.StepState.STARTED,
    ]

    done = await make_executor(config, store, driver, clock=clock).drive(run.id)

    assert done.state is runs.RunState.SUCCEEDED
    restarts = rollback_calls(driver, "restart")
    assert len(restarts) == 2
    assert restarts[0].key == restarts[1].key
    assert len(rollback_calls(driver, "restore")) == 1  # a done step is never invoked again
    assert len(driver.effects_of("restart")) == 1
    assert store.list_steps(run.id)[1].attempt == 2


async def test_a_step_recorded_failed_before_the_run_was_is_not_retried(store, clock):
    config = make_config()
    driver = testing.FakeDriver(steps=STEPS, clock=clock)
    await checkpoint(config, store, driver, clock)
    driver.fail("restore")
    # Dies between "step failed" and "run failed".
    dying = make_executor(config, store, driver, clock=clock, fault=crash_at("after:step:0:failed"))
    run = dying.request("web-1", trigger="manual", actor="t", reason="r")
    with pytest.raises(Crash):
        await dying.drive(run.id)
    assert store.get_run(run.id).state is runs.RunState.EXECUTING

    done = await make_executor(config, store, driver, clock=clock).drive(run.id)

    assert done.state is runs.RunState.FAILED
    assert len(rollback_calls(driver, "restore")) == 1
