"""A bad release over real services: caught in the canary wave, rolled back there, halted.

Then pinning: the canary is pinned; the next rollout leaves it out; once a person unpins it,
a rollout upgrades it again.
"""

from __future__ import annotations

import json

import pytest
from rollouts_fleet import RolloutFleet, states

from rollsafe.demo import releases

HOSTS = ["web-1", "web-2", "web-3", "web-4"]


@pytest.fixture
def fleet(tmp_path):
    built = RolloutFleet(
        tmp_path,
        hosts=4,
        bad=set(HOSTS),  # the release is bad everywhere
        plans=[
            {"name": "bad", "waves": [1, "50%", "100%"], "bake": "3s"},
            {
                "name": "good",
                "waves": ["100%"],
                "bake": "1s",
                "upgrade": {"release": ["sh", "-c", "exec true"]},
            },
        ],
    )
    try:
        yield built
    finally:
        built.stop()


@pytest.mark.slow
def test_a_bad_canary_is_rolled_back_alone_the_rollout_halts_and_pins_it(fleet):
    done = fleet.start("bad", "--json")

    assert done.returncode == 1, done.stdout + done.stderr  # halted
    summary = json.loads(done.stdout)
    assert summary["rollout"]["state"] == "halted"
    assert "failure budget of the rollout spent: 1 failed of 4" in summary["rollout"]["halt_reason"]
    assert states(summary) == {
        "web-1": "rolled_back",
        "web-2": "pending",
        "web-3": "pending",
        "web-4": "pending",
    }
    assert [w["outcome"] for w in summary["waves"]] == ["halted", "not started", "not started"]
    canary = next(t for t in summary["targets"] if t["target"] == "web-1")
    assert canary["failure"].startswith("upgrade-failed: 2 of 2 rules firing")
    assert canary["pinned"] is True
    # Only the canary was ever upgraded, once; it serves the good release again, restored.
    assert fleet.upgrades() == {"web-1": 1}
    assert fleet.version("web-1") == releases.GOOD.version
    assert fleet.release_unchanged("web-1")
    (run,) = fleet.runs()
    assert run.target == "web-1"
    assert run.state.value == "succeeded"
    assert run.id == canary["run_id"]
    for host in HOSTS[1:]:
        assert fleet.release_unchanged(host)
        assert fleet.version(host) == releases.GOOD.version
    assert list(fleet.pinned()) == ["web-1"]

    # Pinned: a later rollout leaves the canary out until a person clears it.
    later = fleet.start("good", "--json")
    assert later.returncode == 0, later.stdout + later.stderr
    summary = json.loads(later.stdout)
    left_out = next(t for t in summary["targets"] if t["target"] == "web-1")
    assert left_out["state"] == "skipped"
    assert left_out["wave"] is None
    assert left_out["note"].startswith("pinned (rollout ")
    assert sorted(t["target"] for t in summary["targets"] if t["state"] == "passed") == HOSTS[1:]

    unpinned = fleet.cli("target", "unpin", "web-1", "--reason", "fixed", "-c", str(fleet.config))
    assert unpinned.returncode == 0, unpinned.stderr
    assert fleet.pinned() == {}
    again = fleet.start("good", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(states(json.loads(again.stdout)).values()) == {"passed"}

    verify = fleet.cli("audit", "verify", "-c", str(fleet.config))
    assert verify.returncode == 0, verify.stdout + verify.stderr
