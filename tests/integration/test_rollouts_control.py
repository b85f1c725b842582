"""Real services: pause, resume and abort a rollout from another terminal."""

from __future__ import annotations

import json
import time

import pytest
from rollouts_fleet import RolloutFleet, states

from rollsafe.domain import rollouts


def wait_for(fleet, condition, *, what: str, timeout: float = 60.0):
    """Poll the store until ``condition(rollout, rows)`` holds (the controller writes it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rollout, rows = fleet.rollout()
        except AssertionError:
            rollout, rows = None, {}
        if rollout is not None and condition(rollout, rows):
            return rollout, rows
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def finish(proc, timeout: float = 90.0):
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


@pytest.mark.slow
def test_pause_resume_then_abort(tmp_path):
    fleet = RolloutFleet(
        tmp_path,
        hosts=3,
        plans=[
            {"name": "shop", "waves": [{"size": 1, "bake": "8s"}, "100%"], "bake": "1s"},
            {
                "name": "shop-all",
                "waves": [{"size": 1, "bake": "1s"}, "100%"],
                "bake": "30s",
                "on_halt": "rollback_all",
            },
        ],
    )
    config = str(fleet.config)
    try:
        # ---- pause: the canary's bake finishes, nothing else starts, the controller stops.
        proc = fleet.popen("rollout", "start", "shop", "-c", config, "--json")
        wait_for(
            fleet,
            lambda r, rows: rows["web-1"].state is rollouts.TargetState.BAKING,
            what="the canary to bake",
        )
        paused = fleet.cli("rollout", "pause", "-c", config, "--reason", "lunch")
        assert paused.returncode == 0, paused.stderr
        code, out, err = finish(proc)
        assert code == 0, out + err  # paused is not a failure
        summary = json.loads(out)
        assert summary["rollout"]["state"] == "paused"
        assert states(summary) == {"web-1": "passed", "web-2": "pending", "web-3": "pending"}
        assert fleet.upgrades() == {"web-1": 1}

        # ---- resume: this command drives it to the end.
        resumed = fleet.cli("rollout", "resume", "-c", config, "--json")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        summary = json.loads(resumed.stdout)
        assert summary["rollout"]["state"] == "completed"
        assert set(states(summary).values()) == {"passed"}
        assert fleet.upgrades() == {"web-1": 1, "web-2": 1, "web-3": 1}

        # ---- abort: from another terminal, while wave 2 bakes; the policy rolls all back.
        proc = fleet.popen("rollout", "start", "shop-all", "-c", config, "--json")
        wait_for(
            fleet,
            lambda r, rows: (
                r.plan == "shop-all"
                and all(rows[h].state is rollouts.TargetState.BAKING for h in ("web-2", "web-3"))
            ),
            what="wave 2 to bake",
        )
        aborted = fleet.cli("rollout", "abort", "-c", config, "--reason", "wrong build", "--wait")
        assert aborted.returncode == 0, aborted.stdout + aborted.stderr
        code, out, err = finish(proc)
        assert code == 1, out + err  # the rollout it started ended aborted
        summary = json.loads(out)
        assert summary["rollout"]["state"] == "aborted"
        assert set(states(summary).values()) == {"rolled_back"}
        assert sorted(run.target for run in fleet.runs()) == ["web-1", "web-2", "web-3"]
        assert all(run.state.value == "succeeded" for run in fleet.runs())
        assert fleet.pinned() == {}  # nothing failed: no host is suspect
        events = fleet.cli("audit", "show", "-c", config, "--json", "--limit", "0")
        actions = [e["action"] for e in json.loads(events.stdout)]
        for action in (
            "rollout.pause_requested",
            "rollout.paused",
            "rollout.run_requested",
            "rollout.resumed",
            "rollout.abort_requested",
            "rollout.aborting",
            "rollout.aborted",
        ):
            assert action in actions
    finally:
        fleet.stop()
