"""The manual emergency channel always works: a person's rollback is never stopped by a brake
meant for automatic runs; ``force`` goes past a quarantine and the breaker, audited as forced;
a restore point named by mistake is refused before anything is written.

Real SQLite store, FakeDriver, virtual clock (the ``store``, ``driver`` and ``clock`` fixtures of
conftest.py).
"""

from __future__ import annotations

import asyncio

import pytest
from runs_helpers import all_runs, checkpoint, make_config, make_executor, quarantined

from rollsafe.domain import errors, ids, runs, verdicts
from rollsafe.execute import breaker

FLEET = ("web-1", "web-2", "web-3", "web-4", "web-5")


def opened(store, run_id):
    [entry] = [
        e.entry
        for e in store.list_audit_events()
        if e.entry.run_id == run_id and e.entry.action == "run.opened"
    ]
    return entry


async def test_a_person_is_not_stopped_by_the_rate_limit(store, driver, clock):
    config = make_config(max_rollbacks_per_target=2, rollback_window=86400)
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)
    for _ in range(2):
        run = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
        assert (await executor.drive(run.id)).state is runs.RunState.SUCCEEDED
        clock.advance(600)

    third = executor.request("web-1", trigger="manual", actor="cli:alice", reason="still bad")

    assert third.state is runs.RunState.PENDING
    assert (await executor.drive(third.id)).state is runs.RunState.SUCCEEDED
    assert not quarantined(store)
    # The automatic channel is still braked.
    clock.advance(600)
    auto = executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
    assert auto.state is runs.RunState.BLOCKED


async def test_force_goes_past_a_quarantine_and_is_audited_as_forced(store, driver, clock):
    config = make_config()
    await checkpoint(config, store, driver, clock)
    executor = make_executor(config, store, driver, clock=clock)
    store.set_quarantine(ids.TargetId("web-1"), reason="run x failed")

    plain = executor.request("web-1", trigger="manual", actor="cli:alice", reason="now")
    assert plain.state is runs.RunState.BLOCKED  # without --force the quarantine holds

    forced = executor.request(
        "web-1", trigger="manual", actor="cli:alice", reason="db corrupt", force=True
    )

    assert forced.state is runs.RunState.PENDING
    assert (await executor.drive(forced.id)).state is runs.RunState.SUCCEEDED
    entry = opened(store, forced.id)
    assert entry.result == "forced"
    assert entry.reason == "db corrupt"
    assert entry.details["forced"] is True
    assert "run x failed" in entry.details["forced_past"]["quarantine"]


async def test_force_is_for_people_only(store, driver, clock):
    executor = make_executor(make_config(), store, driver, clock=clock)
    with pytest.raises(ValueError, match="person"):
        executor.request("web-1", trigger="decision:down", actor="r", reason="d", force=True)


async def test_force_goes_past_an_open_breaker_and_says_so(store, driver, clock):
    config = make_config(*FLEET)
    await checkpoint(config, store, driver, clock, "web-4")
    executor = make_executor(config, store, driver, clock=clock)
    store.add_decisions(
        [
            verdicts.Decision(
                time=clock.now(),
                target=ids.TargetId(t),
                rule=ids.RuleId("down"),
                severity=verdicts.Severity.CRITICAL,
                summary="down",
            )
            for t in ("web-1", "web-2", "web-3")
        ]
    )
    executor.request("web-1", trigger="decision:down", actor="rollsafe", reason="d")
    assert breaker.read(store).open

    run = executor.request("web-4", trigger="manual", actor="cli:bob", reason="x", force=True)

    done = await asyncio.wait_for(executor.drive(run.id), 10)
    assert done.state is runs.RunState.SUCCEEDED
    assert breaker.FLAG in opened(store, run.id).details["forced_past"]


async def test_a_mistyped_restore_point_writes_nothing(store, driver, clock):
    config = make_config("web-1", "web-2")
    point = await checkpoint(config, store, driver, clock)
    other = await checkpoint(config, store, driver, clock, "web-2")
    executor = make_executor(config, store, driver, clock=clock)
    before = store.audit_head()

    for wrong in ("rp-typo", other.id):  # unknown, and another target's
        with pytest.raises(errors.ConfigError, match="no restore point"):
            executor.request(
                "web-1", trigger="manual", actor="cli:a", reason="r", restore_point=wrong
            )

    assert all_runs(store) == []
    assert not quarantined(store)
    assert store.audit_head() == before
    ok = executor.request("web-1", trigger="manual", actor="a", reason="r", restore_point=point.id)
    assert ok.state is runs.RunState.PENDING
