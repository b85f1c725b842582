"""Real services: a controller SIGKILLed mid-rollout resumes it and upgrades nothing twice.

``ROLLSAFE_FAULT_KILL_AT`` makes ``rollsafe rollout start`` (an in-process controller) kill
itself right after a store write the boundary names; ``rollout resume`` then finishes it.
Upgrades are counted by the hosts' own upgrade command, not by rollsafe's records.
"""

from __future__ import annotations

import json
import signal

import pytest
from rollouts_fleet import RolloutFleet, states

from rollsafe.demo import releases


@pytest.mark.slow
@pytest.mark.parametrize(
    "boundary",
    [
        # web-2's upgrade command ran to the end; its result was never stored.
        "after:rollout.upgrade.effect:web-2",
        # web-1 is baking: the bake starts over after the restart.
        "after:rollout.upgrade:web-1",
    ],
)
def test_a_killed_controller_resumes_the_rollout_and_upgrades_nothing_twice(tmp_path, boundary):
    fleet = RolloutFleet(
        tmp_path,
        hosts=3,
        # Upgrades run in parallel: a command still running when its controller is SIGKILLed
        # is adopted on resume (the local driver's supervisor), never started twice.
        plans=[{"name": "shop", "waves": [1, "100%"], "bake": "1s"}],
    )
    config = str(fleet.config)
    try:
        killed = fleet.start("shop", "--json", fault=boundary)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        rollout, _ = fleet.rollout()
        assert rollout.open

        resumed = fleet.cli("rollout", "resume", "-c", config, "--json")

        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        summary = json.loads(resumed.stdout)
        assert summary["rollout"]["id"] == rollout.id
        assert summary["rollout"]["state"] == "completed"
        assert set(states(summary).values()) == {"passed"}
        assert fleet.upgrades() == {"web-1": 1, "web-2": 1, "web-3": 1}
        assert all(fleet.version(h.id) == releases.NEXT.version for h in fleet.hosts)
        assert fleet.runs() == []
        verify = fleet.cli("audit", "verify", "-c", config)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        fleet.stop()
