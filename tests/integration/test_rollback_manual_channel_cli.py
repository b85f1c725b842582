"""``rollsafe rollback`` as the emergency channel, through the real executable.

After two rollbacks in a day a person's rollback still runs (the rate limit brakes automatic
runs only); ``--force --reason`` goes past a quarantine, audited as forced; a mistyped
``--to`` exits 2 and writes nothing (no run, no quarantine).
"""

from __future__ import annotations

import json

import pytest
from runs_workspace import TARGET, Workspace

from rollsafe.domain import ids, runs
from rollsafe.storage import sql


@pytest.fixture
def ws(tmp_path):
    # A limit of two rollbacks a day, as in the report that filed this.
    return Workspace(tmp_path, policy={"max_rollbacks_per_target": 2, "rollback_window": "1d"})


def _quarantined(ws: Workspace) -> bool:
    with sql.open_store(ws.state) as store:
        [record] = [r for r in store.list_targets() if r.id == TARGET]
        return record.quarantined


def test_a_third_manual_rollback_in_a_day_runs(ws):
    ws.checkpoint()
    for _ in range(3):
        ws.damage()
        done = ws.rollback()
        assert done.returncode == 0, done.stdout + done.stderr
        ws.checkpoint()  # the next "upgrade" gets its own restore point
    assert [r.state for r in ws.runs()] == [runs.RunState.SUCCEEDED] * 3
    assert not _quarantined(ws)


def test_force_goes_past_a_quarantine(ws):
    ws.checkpoint()
    with sql.open_store(ws.state) as store:
        store.set_quarantine(ids.TargetId(TARGET), reason="run-x failed: verify timed out")
    before = ws.snapshot()
    ws.damage()

    blocked = ws.rollback()
    assert blocked.returncode == 1
    assert "quarantined" in blocked.stdout

    forced = ws.rollback("--force", "--json")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    report = json.loads(forced.stdout)
    assert report["run"]["state"] == "succeeded"
    opened = report["audit"][0]
    assert (opened["action"], opened["result"]) == ("run.opened", "forced")
    assert "quarantine" in opened["details"]["forced_past"]
    assert ws.snapshot() == before


def test_a_mistyped_restore_point_exits_2_and_writes_nothing(ws):
    ws.checkpoint()
    with sql.open_store(ws.state) as store:
        head = store.audit_head()

    typo = ws.rollback("--to", "rp-doesnotexist")

    assert typo.returncode == 2, typo.stdout + typo.stderr
    assert "no restore point 'rp-doesnotexist'" in typo.stderr
    assert ws.runs() == []
    assert not _quarantined(ws)
    with sql.open_store(ws.state) as store:
        assert store.audit_head() == head
