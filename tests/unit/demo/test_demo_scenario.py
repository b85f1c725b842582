"""The demo's result and its guards (the full scenario runs in tests/integration/test_demo.py)."""

from __future__ import annotations

import dataclasses

import pytest

from rollsafe.demo import scenario


def _result(**changes) -> scenario.DemoResult:
    base = scenario.DemoResult(
        target="web-3",
        hosts=5,
        workdir="/tmp/x",
        kept=False,
        run_id="run-0123456789",
        run_state="succeeded",
        rolled_back=True,
        verified=True,
        others_untouched=True,
        fault_to_decision_s=3.21,
        fault_to_recovered_s=5.43,
        decision=None,
        steps=(),
        checks=(scenario.Check("release restored", True, "byte-identical"),),
        timeline=(scenario.TimelineEvent(at=1.0, kind="fault", text="boom", since_fault=0.0),),
        audit_events=15,
        audit_ok=True,
        audit_summary="audit chain ok: 15 events",
        audit_trail=(),
    )
    return dataclasses.replace(base, **changes)


def test_the_loop_is_closed_only_when_every_part_held():
    assert _result().closed
    for broken in (
        {"run_state": "failed"},
        {"rolled_back": False},
        {"verified": False},
        {"others_untouched": False},
        {"audit_ok": False},
        {"error": "the loop did not close within 50s of the fault"},
    ):
        assert not _result(**broken).closed, broken


def test_json_carries_the_measured_outcome():
    data = _result().to_json()
    assert data["closed"] is True
    assert data["rolled_back"] is True
    assert data["verified"] is True
    assert data["fault_to_decision_s"] == 3.21
    assert data["fault_to_recovered_s"] == 5.43
    assert data["target"] == "web-3"
    assert data["run_id"] == "run-0123456789"
    assert data["audit_events"] == 15
    assert data["audit_ok"] is True
    assert data["timeline"] == [{"at": 1.0, "since_fault_s": 0.0, "kind": "fault", "text": "boom"}]


def test_the_victim_is_web_3_or_the_last_host_of_a_small_fleet():
    assert scenario.victim_of([f"web-{i}" for i in range(1, 6)]) == "web-3"
    assert scenario.victim_of(["web-1", "web-2"]) == "web-2"


def test_refuses_a_fleet_too_small_to_leave_a_host_alone(tmp_path):
    with pytest.raises(scenario.DemoFailed, match="at least 2 hosts"):
        scenario.run_demo(hosts=1, workdir=tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_refuses_a_workdir_with_something_in_it(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(scenario.DemoFailed, match="not empty"):
        scenario.run_demo(workdir=tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
