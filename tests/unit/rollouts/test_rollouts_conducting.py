"""The rollout executor with the real store, judge and run executor over a fake fleet."""

from __future__ import annotations

import asyncio

import pytest
from rollouts_helpers import Controller, Crash, crash_at

from rollsafe.domain import errors, rollouts
from rollsafe.rollouts import opening

DONE = rollouts.TargetState


async def test_a_good_release_goes_through_every_wave(tmp_path):
    c = Controller(tmp_path, plan={"waves": [1, "50%", "100%"]})
    rollout = c.open()

    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.COMPLETED
    assert set(c.states(rollout.id).values()) == {"passed"}
    assert sorted(c.driver.upgrades()) == ["web-1", "web-2", "web-3", "web-4"]  # once each
    assert [(w.index, w.outcome) for w in ended.wave_log] == [
        (0, "passed"),
        (1, "passed"),
        (2, "passed"),
    ]
    rows = c.targets(rollout.id)
    # Wave by wave: nobody of a later wave was upgraded before the earlier wave baked.
    assert rows["web-2"].upgraded_at >= rows["web-1"].finished_at
    assert rows["web-3"].upgraded_at >= max(rows["web-2"].finished_at, rows["web-1"].finished_at)
    assert all(row.restore_point for row in rows.values())
    assert c.pinned() == {}
    assert c.store.list_runs(limit=100) == []
    actions = c.actions()
    assert actions.count("upgrade.finished") == 4
    assert actions.count("rollout.wave.passed") == 3
    assert actions[-1] == "rollout.completed"
    marks = c.store.list_observations(source="mark:upgrade")
    assert sorted(m.target for m in marks) == ["web-1", "web-2", "web-3", "web-4"]
    assert c.audit_ok()


async def test_a_bad_canary_is_rolled_back_alone_and_the_rollout_halts(tmp_path):
    c = Controller(tmp_path, plan={"waves": [1, "100%"]})
    c.driver.bad = {"web-1", "web-2", "web-3", "web-4"}  # a bad release: bad everywhere
    rollout = c.open()

    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.HALTED
    assert "failure budget of the rollout spent: 1 failed of 4" in (ended.halt_reason or "")
    states = c.states(rollout.id)
    assert states == {
        "web-1": "rolled_back",
        "web-2": "pending",
        "web-3": "pending",
        "web-4": "pending",
    }
    assert c.driver.upgrades() == ["web-1"]  # the rest of the fleet untouched
    assert {call.target for call in c.driver.calls} == {"web-1"}
    canary = c.targets(rollout.id)["web-1"]
    assert canary.failure.startswith("errors-high: errors value 10 > 5")
    assert canary.evidence["rule"] == "errors-high"
    (run,) = c.store.list_runs(limit=10)
    assert run.id == canary.run_id
    assert run.state.value == "succeeded"
    assert run.trigger == f"rollout:{rollout.id}"
    assert run.restore_point == canary.restore_point  # the point readiness proved usable
    assert list(c.pinned()) == ["web-1"]
    assert "errors-high" in c.pinned()["web-1"]
    assert [(w.index, w.outcome) for w in ended.wave_log] == [(0, "halted")]
    assert c.audit_ok()


async def test_a_failure_in_a_later_wave_within_budget_lets_the_rollout_finish(tmp_path):
    c = Controller(
        tmp_path,
        hosts=5,
        plan={"waves": [1, "100%"], "budget": {"overall": {"max_failures": 1}}},
    )
    c.driver.bad = {"web-4"}
    rollout = c.open()

    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.COMPLETED
    assert c.states(rollout.id) == {
        "web-1": "passed",
        "web-2": "passed",
        "web-3": "passed",
        "web-4": "rolled_back",
        "web-5": "passed",
    }
    assert list(c.pinned()) == ["web-4"]
    assert [r.target for r in c.store.list_runs(limit=10)] == ["web-4"]


async def test_rollback_all_on_halt_rolls_back_every_upgraded_target(tmp_path):
    c = Controller(
        tmp_path,
        hosts=6,
        plan={
            "waves": [2, 4, "100%"],
            "on_halt": "rollback_all",
            "max_parallel": 1,
        },
    )
    c.driver.bad = {"web-4"}
    rollout = c.open()

    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.HALTED
    states = c.states(rollout.id)
    assert states["web-1"] == states["web-2"] == "rolled_back"  # passed, rolled back by policy
    assert states["web-4"] == "rolled_back"
    assert states["web-3"] in ("rolled_back", "pending")  # upgraded before web-4, or not
    assert states["web-5"] == states["web-6"] == "pending"
    assert "web-5" not in c.driver.upgrades()
    assert "web-6" not in c.driver.upgrades()
    rows = c.targets(rollout.id)
    assert rows["web-4"].failed
    assert not rows["web-1"].failed
    assert list(c.pinned()) == ["web-4"]  # only the target that failed is pinned
    rolled = sorted(r.target for r in c.store.list_runs(limit=10))
    assert rolled == sorted(t for t, s in states.items() if s == "rolled_back")


async def test_a_target_that_fails_readiness_is_never_upgraded(tmp_path):
    c = Controller(tmp_path, plan={"waves": [1, "100%"]})
    c.driver.fail("precheck", times=1)  # the first precheck is web-1's
    rollout = c.open()

    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.COMPLETED
    states = c.states(rollout.id)
    assert states["web-1"] == "not_ready"
    assert "is not usable: scripted precheck failure" in c.targets(rollout.id)["web-1"].note
    assert "web-1" not in c.driver.upgrades()
    assert sorted(c.driver.upgrades()) == ["web-2", "web-3", "web-4"]
    assert "rollout.target.not_ready" in c.actions()


async def test_a_target_the_judge_cannot_see_is_not_ready(tmp_path):
    c = Controller(tmp_path, hosts=2, plan={"waves": ["100%"]}, silent={"web-2"})
    rollout = c.open()

    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.COMPLETED
    assert c.states(rollout.id) == {"web-1": "passed", "web-2": "not_ready"}
    assert "no data" in c.targets(rollout.id)["web-2"].note


async def test_a_target_already_critical_is_not_upgraded(tmp_path):
    c = Controller(tmp_path, hosts=2, plan={"waves": ["100%"]})
    c.driver.report("web-2", 50.0)
    rollout = c.open()

    await c.run(rollout.id)

    assert c.states(rollout.id)["web-2"] == "not_ready"
    assert "already critical before the upgrade" in c.targets(rollout.id)["web-2"].note


async def test_pinned_targets_are_left_out_and_skipped_until_unpinned(tmp_path):
    c = Controller(tmp_path, plan={"waves": [1, "100%"]})
    c.store.set_pin("web-2", reason="rolled back last week")
    rollout = c.open()
    assert c.targets(rollout.id)["web-2"].wave is None
    assert "pinned (rolled back last week)" in c.targets(rollout.id)["web-2"].note

    # A target pinned after the rollout was opened is skipped when its turn comes.
    c.store.set_pin("web-4", reason="a person wants it left alone")
    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.COMPLETED
    states = c.states(rollout.id)
    assert states["web-2"] == "skipped"
    assert states["web-4"] == "skipped"
    assert sorted(c.driver.upgrades()) == ["web-1", "web-3"]

    c.store.set_pin("web-2", reason=None)
    c.store.set_pin("web-4", reason=None)
    again = c.open()
    assert {t for t, row in c.targets(again.id).items() if row.wave is not None} == {
        "web-1",
        "web-2",
        "web-3",
        "web-4",
    }


async def test_only_one_rollout_at_a_time(tmp_path):
    c = Controller(tmp_path)
    first = c.open()
    with pytest.raises(
        opening.RolloutRefused, match=f"{first.id} of plan release is still pending"
    ):
        c.open()
    with pytest.raises(errors.ConfigError, match="unknown rollout plan 'nope'"):
        c.open("nope")


async def test_pause_stops_new_targets_and_resume_goes_on(tmp_path):
    c = Controller(tmp_path, plan={"waves": [1, "100%"], "bake": "0.5s"})
    rollout = c.open()

    def canary_baking(r):
        return c.targets(r.id)["web-1"].state is DONE.BAKING

    await c.run(rollout.id, until=canary_baking)
    c.store.set_rollout_desired(rollout.id, rollouts.Desired.PAUSE)

    def paused_and_idle(r):
        rows = c.targets(r.id).values()
        return r.state is rollouts.RolloutState.PAUSED and not any(x.state.in_flight for x in rows)

    paused = await c.run(rollout.id, until=paused_and_idle)
    assert paused.state is rollouts.RolloutState.PAUSED
    assert c.states(rollout.id)["web-1"] == "passed"  # the bake under way finished
    await asyncio.sleep(0.2)
    assert c.driver.upgrades() == ["web-1"]  # nothing new started while paused

    c.store.set_rollout_desired(rollout.id, rollouts.Desired.RUN)
    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.COMPLETED
    assert sorted(c.driver.upgrades()) == ["web-1", "web-2", "web-3", "web-4"]
    actions = c.actions()
    assert actions.index("rollout.paused") < actions.index("rollout.resumed")


async def test_abort_stops_and_rolls_back_what_the_policy_says(tmp_path):
    c = Controller(
        tmp_path,
        plan={
            "waves": [{"size": 1, "bake": "0.2s"}, "100%"],
            "bake": "30s",
            "on_halt": "rollback_all",
        },
    )
    rollout = c.open()

    def wave_two_baking(r):
        rows = c.targets(r.id)
        return r.wave == 1 and all(
            rows[t].state is DONE.BAKING for t in ("web-2", "web-3", "web-4")
        )

    await c.run(rollout.id, until=wave_two_baking)
    c.store.set_rollout_desired(rollout.id, rollouts.Desired.ABORT)
    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.ABORTED
    assert set(c.states(rollout.id).values()) == {"rolled_back"}
    assert c.pinned() == {}  # nothing failed: the release is withdrawn, no host is suspect
    assert sorted(r.target for r in c.store.list_runs(limit=10)) == [
        "web-1",
        "web-2",
        "web-3",
        "web-4",
    ]
    assert "rollout.aborting" in c.actions()


async def test_abort_with_rollback_failed_leaves_healthy_upgrades_in_place(tmp_path):
    c = Controller(tmp_path, plan={"waves": [1, "100%"], "bake": "5s"})
    rollout = c.open()

    def canary_baking(r):
        return c.targets(r.id)["web-1"].state is DONE.BAKING

    await c.run(rollout.id, until=canary_baking)
    c.store.set_rollout_desired(rollout.id, rollouts.Desired.ABORT)
    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.ABORTED
    states = c.states(rollout.id)
    assert states["web-1"] == "upgraded"  # its bake was cut short; nothing says it is bad
    assert states["web-2"] == "pending"
    assert c.store.list_runs(limit=10) == []


async def test_a_rollback_that_fails_is_reported_and_the_target_quarantined(tmp_path):
    c = Controller(tmp_path, hosts=2, plan={"waves": [1, "100%"]})
    c.driver.bad = {"web-1"}
    c.verifier.ok = False
    rollout = c.open()

    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.HALTED
    row = c.targets(rollout.id)["web-1"]
    assert row.state is DONE.ROLLBACK_FAILED
    assert "ended failed" in row.note
    assert any(r.id == "web-1" and r.quarantined for r in c.store.list_targets())


async def test_a_run_the_judge_opened_during_the_bake_is_adopted_not_doubled(tmp_path):
    c = Controller(tmp_path, hosts=2, plan={"waves": [1, "100%"], "bake": "5s"})
    rollout = c.open()

    def canary_baking(r):
        return c.targets(r.id)["web-1"].state is DONE.BAKING

    await c.run(rollout.id, until=canary_baking)
    # The daemon's own judge saw something critical and opened a run first.
    opened = c.executor.request("web-1", trigger="decision:other", actor="rollsafe", reason="x")
    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.HALTED
    row = c.targets(rollout.id)["web-1"]
    assert row.run_id == opened.id
    assert row.state is DONE.ROLLED_BACK
    assert len(c.store.list_runs(limit=10)) == 1


@pytest.mark.parametrize(
    "boundary",
    [
        "after:rollout.started",
        "before:rollout.upgrade:web-2",
        "after:rollout.upgrade.effect:web-2",
        "after:rollout.upgrade:web-2",
        "after:rollout.target.passed:web-1",
        "after:rollout.wave.passed:0",
    ],
)
async def test_a_controller_killed_anywhere_resumes_and_upgrades_nothing_twice(tmp_path, boundary):
    c = Controller(tmp_path, hosts=3, plan={"waves": [1, "100%"]}, fault=crash_at(boundary))
    rollout = c.open()
    with pytest.raises(Crash):
        await c.run(rollout.id)

    c.restart()
    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.COMPLETED
    assert sorted(c.driver.upgrades()) == ["web-1", "web-2", "web-3"]  # each exactly once
    assert set(c.states(rollout.id).values()) == {"passed"}
    assert c.audit_ok()


@pytest.mark.parametrize(
    "boundary", ["after:rollout.target.failed:web-1", "after:rollout.rollback.requested:web-1"]
)
async def test_a_controller_killed_around_a_failure_rolls_back_once(tmp_path, boundary):
    c = Controller(tmp_path, hosts=2, plan={"waves": [1, "100%"]}, fault=crash_at(boundary))
    c.driver.bad = {"web-1"}
    rollout = c.open()
    with pytest.raises(Crash):
        await c.run(rollout.id)

    c.restart()
    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.HALTED
    assert c.states(rollout.id) == {"web-1": "rolled_back", "web-2": "pending"}
    assert len(c.store.list_runs(limit=10)) == 1  # one run, adopted after the restart
    assert c.driver.upgrades() == ["web-1"]


async def test_a_bake_interrupted_by_a_restart_starts_over(tmp_path):
    c = Controller(tmp_path, hosts=1, plan={"waves": [1], "bake": "0.5s"})
    rollout = c.open()

    def baking(r):
        return c.targets(r.id)["web-1"].state is DONE.BAKING

    await c.run(rollout.id, until=baking)
    first = c.targets(rollout.id)["web-1"].bake_until
    c.restart()
    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.COMPLETED
    assert "rollout.target.bake_restarted" in c.actions()
    row = c.targets(rollout.id)["web-1"]
    assert row.finished_at >= first
    assert c.driver.upgrades() == ["web-1"]


async def test_a_pause_during_the_last_wave_lets_it_complete(tmp_path):
    c = Controller(tmp_path, hosts=2, plan={"waves": ["100%"], "bake": "0.5s"})
    rollout = c.open()

    def baking(r):
        return all(row.state is DONE.BAKING for row in c.targets(r.id).values())

    await c.run(rollout.id, until=baking)
    c.store.set_rollout_desired(rollout.id, rollouts.Desired.PAUSE)
    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.COMPLETED
    assert set(c.states(rollout.id).values()) == {"passed"}


async def test_a_bake_nobody_could_watch_fails(tmp_path):
    # The only bake rule reads a short window: once the probe stops answering, no data.
    rule = {
        "id": "errors-ratio",
        "kind": "ratio",
        "severity": "critical",
        "probe": "errors",
        "when": {"op": ">", "value": 5},
        "window": "1s",
        "above": 0.5,
        "min_samples": 1,
    }
    c = Controller(tmp_path, hosts=1, plan={"waves": [1], "bake": "1.5s"}, rules=[rule])
    c.driver.mute = {"web-1"}
    rollout = c.open()

    ended = await c.run(rollout.id)

    assert ended.state is rollouts.RolloutState.HALTED
    row = c.targets(rollout.id)["web-1"]
    assert row.failure == "bake inconclusive: no bake rule had data on web-1 (errors-ratio)"
    assert row.state is DONE.ROLLED_BACK


async def test_the_judge_knows_the_cohorts_while_a_wave_bakes(tmp_path):
    c = Controller(tmp_path, hosts=3, plan={"waves": [1, "100%"], "bake": "5s"})
    rollout = c.open()

    def canary_baking(r):
        return c.targets(r.id)["web-1"].state is DONE.BAKING

    seen = {}

    def note(r):
        if canary_baking(r):
            seen.update(c.judge.cohort_assignment())
            return True
        return False

    await c.run(rollout.id, until=note)

    assert seen == {"web-1": "canary", "web-2": "baseline", "web-3": "baseline"}
    assert c.judge.cohort_assignment() == {}  # cleared once the controller let go
