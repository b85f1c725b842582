"""``rollsafe demo`` runs a guarded rollout over a real local fleet of ten hosts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
import pytest

from rollsafe.demo import rollout_scenario

ROLLSAFE = [sys.executable, "-m", "rollsafe.interfaces.cli.main"]


def leftovers(workdir) -> list[str]:
    needle = str(workdir)
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            cmdline = proc.cmdline()
        except psutil.Error:
            continue
        if any(needle in part for part in cmdline):
            found.append(f"{proc.pid}: {' '.join(cmdline)}")
    return found


@pytest.mark.slow
def test_the_default_demo_stops_a_bad_release_at_the_canary(tmp_path):
    workdir = tmp_path / "demo"

    done = subprocess.run(
        [*ROLLSAFE, "demo", "--json", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["scenario"] == "bad"
    assert result["closed"] is True
    assert result["hosts"] == 10
    assert result["rollout_state"] == "halted"
    assert result["target"] == "web-1"
    assert result["rolled_back"] is True
    assert result["verified"] is True
    assert result["others_untouched"] is True
    assert 0 < result["fault_to_decision_s"] <= result["fault_to_recovered_s"]
    assert result["decision"]["severity"] == "critical"
    assert result["run_state"] == "succeeded"
    assert result["upgraded"] == []  # nobody runs the bad release at the end
    assert [w["outcome"] for w in result["waves"]] == ["halted", "not started", "not started"]
    assert all(c["ok"] for c in result["checks"]), result["checks"]
    kinds = [e["kind"] for e in result["timeline"]]
    assert kinds.index("fault") < kinds.index("critical") < kinds.index("recovered")
    assert result["audit_ok"] is True
    actions = {a["action"] for a in result["audit_trail"]}
    assert {"rollout.opened", "upgrade.finished", "rollout.target.failed", "run.succeeded"} <= (
        actions
    )
    assert "rollout.halted" in actions
    assert not workdir.exists()
    assert leftovers(workdir) == []


@pytest.mark.slow
def test_the_good_scenario_upgrades_the_whole_fleet_in_waves(tmp_path):
    workdir = tmp_path / "good"

    result = rollout_scenario.run_rollout_demo(
        kind="good", hosts=4, workdir=workdir, canary_bake_s=2.0, bake_s=1.5
    )

    assert result.closed, result.to_json()
    assert result.rollout_state == "completed"
    assert sorted(result.upgraded) == ["web-1", "web-2", "web-3", "web-4"]
    assert [w["outcome"] for w in result.waves] == ["passed", "passed", "passed"]
    assert [len(w["targets"]) for w in result.waves] == [1, 1, 2]
    assert all(w["duration_s"] > 0 for w in result.waves)
    assert result.run_id is None
    assert result.to_json()["rolled_back"] is False
    assert not workdir.exists()
    assert leftovers(workdir) == []
