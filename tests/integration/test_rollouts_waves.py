"""Real services: a failure in a later wave, and a target that fails readiness."""

from __future__ import annotations

import json

import pytest
from rollouts_fleet import RolloutFleet, states

from rollsafe.demo import layout, releases


@pytest.mark.slow
def test_a_failure_in_a_later_wave_rolls_back_that_host_alone_and_halts(tmp_path):
    fleet = RolloutFleet(
        tmp_path,
        hosts=4,
        bad={"web-3"},
        plans=[{"name": "shop", "waves": [1, "50%", "100%"], "bake": "2s"}],
    )
    try:
        done = fleet.start("shop", "--json")

        assert done.returncode == 1, done.stdout + done.stderr
        summary = json.loads(done.stdout)
        assert summary["rollout"]["state"] == "halted"
        assert states(summary) == {
            "web-1": "passed",
            "web-2": "passed",
            "web-3": "rolled_back",
            # Upgraded beside web-3; its bake was cut short by the halt, and the policy
            # (rollback_failed) leaves a target that did not fail as it is.
            "web-4": "upgraded",
        }
        assert [w["outcome"] for w in summary["waves"]] == ["passed", "passed", "halted"]
        assert all(w["duration_s"] > 0 for w in summary["waves"])
        assert fleet.upgrades() == {"web-1": 1, "web-2": 1, "web-3": 1, "web-4": 1}
        assert [run.target for run in fleet.runs()] == ["web-3"]
        assert fleet.version("web-3") == releases.GOOD.version
        assert fleet.release_unchanged("web-3")
        for host in ("web-1", "web-2", "web-4"):
            assert fleet.version(host) == releases.NEXT.version
        assert list(fleet.pinned()) == ["web-3"]
    finally:
        fleet.stop()


@pytest.mark.slow
def test_a_target_whose_restore_point_cannot_be_verified_is_never_upgraded(tmp_path):
    fleet = RolloutFleet(
        tmp_path,
        hosts=3,
        plans=[{"name": "shop", "waves": [1, "100%"], "bake": "1s"}],
    )
    try:
        # web-2's data can no longer be measured: a restore point of it could never be
        # verified after a rollback, so it must not be upgraded.
        (fleet.fleet.host("web-2").root / layout.DATA_FILE).unlink()

        done = fleet.start("shop", "--json")

        assert done.returncode == 0, done.stdout + done.stderr  # not ready is not a failure
        summary = json.loads(done.stdout)
        assert summary["rollout"]["state"] == "completed"
        assert states(summary) == {"web-1": "passed", "web-2": "not_ready", "web-3": "passed"}
        web2 = next(t for t in summary["targets"] if t["target"] == "web-2")
        assert web2["note"].startswith("no restore point: restore point of web-2 not stored")
        assert fleet.upgrades() == {"web-1": 1, "web-3": 1}
        assert fleet.release_unchanged("web-2")
        assert fleet.version("web-2") == releases.GOOD.version
        assert fleet.runs() == []
        assert summary["failures"] == 0
    finally:
        fleet.stop()
