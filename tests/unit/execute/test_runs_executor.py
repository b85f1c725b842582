"""The executor's state machine end to end: FakeDriver, real SQLite store, virtual clock."""

from __future__ import annotations

import pytest
from runs_helpers import (
    StubVerifier,
    actions,
    all_runs,
    chain_ok,
    checkpoint,
    make_config,
    make_executor,
    quarantined,
    rollback_calls,
)

from rollsafe import testing
from rollsafe.domain import errors, runs
from rollsafe.execute import runs as executing


@pytest.fixture
def driver(clock):
    return testing.FakeDriver(steps=("restore", "restart"), clock=clock)


async def test_happy_path_succeeds_with_every_transition_audited(store, driver, clock):
    config = make_config()
    point = await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)

    opened = executor.request("web-1", trigger="manual", actor="cli:alice", reason="broken")
    assert opened.state is runs.RunState.PENDING
    done = await executor.drive(opened.id)

    assert done.state is runs.RunState.SUCCEEDED
    assert done.restore_point == point.id
    assert [e.step for e in driver.effects if e.method == "rollback"] == ["restore", "restart"]
    steps = store.list_steps(done.id)
    assert [(s.name, s.state) for s in steps] == [
        ("restore", runs.StepState.DONE),
        ("restart", runs.StepState.DONE),
    ]
    assert [c.key for c in rollback_calls(driver)] == [s.key for s in steps]
    assert actions(store, done.id) == [
        "run.opened",
        "run.state.prechecking",
        "run.state.executing",
        "run.step.started",
        "run.step.done",
        "run.step.started",
        "run.step.done",
        "run.state.verifying",
        "run.succeeded",
    ]
    marks = store.list_observations(source="mark:rollback")
    assert [m.target for m in marks] == ["web-1"]
    assert not quarantined(store)
    assert chain_ok(store)


async def test_precheck_failure_fails_without_touching_the_target(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    driver.fail("precheck", errors.PrecheckFailed("copy is damaged"))
    executor = make_executor(config, store, driver, clock=clock)

    run = await executor.drive(
        executor.request("web-1", trigger="manual", actor="t", reason="r").id
    )

    assert run.state is runs.RunState.FAILED
    assert "precheck failed: copy is damaged" in (run.error or "")
    assert rollback_calls(driver) == []
    assert quarantined(store)


async def test_no_restore_point_fails(store, driver, clock):
    executor = make_executor(make_config(), store, driver, clock=clock)

    run = await executor.drive(
        executor.request("web-1", trigger="manual", actor="t", reason="r").id
    )

    assert run.state is runs.RunState.FAILED
    assert run.error == "no restore point"


async def test_explicit_restore_point_is_used(store, driver, clock):
    config = make_config()
    first = await checkpoint(config, store, driver, clock)
    clock.advance(10)
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)

    run = executor.request("web-1", trigger="manual", actor="t", reason="r", restore_point=first.id)
    run = await executor.drive(run.id)

    assert run.state is runs.RunState.SUCCEEDED
    assert run.restore_point == first.id
    assert {c.point for c in rollback_calls(driver)} == {first.id}


async def test_step_error_fails_escalates_and_is_never_retried(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    driver.fail("restore", errors.DriverError("snapshot API refused"), times=None)
    executor = make_executor(config, store, driver, clock=clock)

    failed = await executor.drive(
        executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="r").id
    )

    assert failed.state is runs.RunState.FAILED
    assert "step restore failed: snapshot API refused" in (failed.error or "")
    assert [s.state for s in store.list_steps(failed.id)] == [runs.StepState.FAILED]
    assert rollback_calls(driver, "restart") == []
    assert quarantined(store)
    assert actions(store, failed.id)[-3:] == ["run.step.failed", "target.quarantined", "run.failed"]

    # The judge keeps deciding "critical": no new run, no new audit, the driver is left alone.
    events_before = len(list(store.list_audit_events()))
    for _ in range(5):
        again = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="r")
        assert again.id == failed.id
    assert len(all_runs(store)) == 1
    assert len(list(store.list_audit_events())) == events_before
    assert len(rollback_calls(driver, "restore")) == 1

    # A person asking gets a record of why nothing happens.
    blocked = executor.request("web-1", trigger="manual", actor="cli:bob", reason="please")
    assert blocked.state is runs.RunState.BLOCKED
    assert "quarantined" in (blocked.error or "")


async def test_temporary_error_is_retried_then_succeeds(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    driver.fail("restore", errors.DriverTemporaryError("throttled"), times=2)
    executor = make_executor(config, store, driver, clock=clock)

    run = await executor.drive(
        executor.request("web-1", trigger="manual", actor="t", reason="r").id
    )

    assert run.state is runs.RunState.SUCCEEDED
    restore = store.list_steps(run.id)[0]
    assert restore.attempt == 3
    assert {c.key for c in rollback_calls(driver, "restore")} == {restore.key}
    assert len(driver.effects_of("restore")) == 1
    assert actions(store, run.id).count("run.step.retry") == 2


async def test_temporary_error_that_persists_fails_after_bounded_retries(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    driver.fail("restore", errors.DriverTemporaryError("busy"), times=None)
    executor = make_executor(config, store, driver, clock=clock, step_retries=3)

    run = await executor.drive(
        executor.request("web-1", trigger="manual", actor="t", reason="r").id
    )

    assert run.state is runs.RunState.FAILED
    assert "still failing after 4 attempts: busy" in (run.error or "")
    assert len(rollback_calls(driver, "restore")) == 4


async def test_step_timeout_fails_the_run(store, driver, clock):
    config = make_config(step_timeout=0.05)
    await checkpoint(config, store, driver, clock)
    driver.hang("restart")
    executor = make_executor(config, store, driver, clock=clock)

    run = await executor.drive(
        executor.request("web-1", trigger="manual", actor="t", reason="r").id
    )

    assert run.state is runs.RunState.FAILED
    assert "step restart timed out after 0.05s" in (run.error or "")
    assert [s.state for s in store.list_steps(run.id)] == [
        runs.StepState.DONE,
        runs.StepState.FAILED,
    ]


async def test_verification_failure_fails_with_its_summary(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    verifier = StubVerifier(
        executing.VerifyOutcome(
            ok=False, summary="http: status 500 (expected 200)", details={"rounds": 3}
        )
    )
    executor = make_executor(config, store, driver, clock=clock, verifier=verifier)

    run = await executor.drive(
        executor.request("web-1", trigger="manual", actor="t", reason="r").id
    )

    assert run.state is runs.RunState.FAILED
    assert run.error == "verification failed: http: status 500 (expected 200)"
    assert len(verifier.calls) == 1
    failed = [e for e in store.list_audit_events() if e.entry.action == "run.failed"]
    assert failed[0].entry.details["rounds"] == 3
    assert quarantined(store)


async def test_unexpected_verifier_crash_is_recorded_as_the_failure(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    verifier = StubVerifier()
    verifier.error = RuntimeError("bug in a probe")
    executor = make_executor(config, store, driver, clock=clock, verifier=verifier)

    run = await executor.drive(
        executor.request("web-1", trigger="manual", actor="t", reason="r").id
    )

    assert run.state is runs.RunState.FAILED
    assert run.error == "internal error: RuntimeError: bug in a probe"


async def test_duplicate_request_returns_the_open_run(store, driver, clock):
    config = make_config()
    executor = make_executor(config, store, driver, clock=clock)

    first = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="a")
    for _ in range(3):
        again = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="b")
        assert again == first
    assert len(all_runs(store)) == 1
    assert [e.entry.action for e in store.list_audit_events()].count("run.opened") == 1


async def test_unknown_target_is_a_config_error(store, driver, clock):
    executor = make_executor(make_config(), store, driver, clock=clock)
    with pytest.raises(errors.ConfigError, match="unknown target 'nope'"):
        executor.request("nope", trigger="manual", actor="t", reason="r")


async def test_driving_a_finished_run_does_nothing(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)
    run = await executor.drive(
        executor.request("web-1", trigger="manual", actor="t", reason="r").id
    )
    calls = len(driver.calls)

    again = await executor.drive(run.id)

    assert again == run
    assert len(driver.calls) == calls


async def test_unknown_run_id_raises(store, driver, clock):
    executor = make_executor(make_config(), store, driver, clock=clock)
    with pytest.raises(executing.RunNotFound):
        await executor.drive("run-nope")
