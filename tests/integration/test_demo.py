"""``rollsafe demo`` end to end: real services, the real daemon, a real rollback.

Each test runs the command as a subprocess, exactly as ``make demo`` does, and then checks
that no process started from the demo's work directory is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from rollsafe.demo import scenario

ROLLSAFE = [sys.executable, "-m", "rollsafe.interfaces.cli.main"]
TIMEOUT_S = 180  # a generous bound for a slow machine; the demo itself aims at well under 60 s


def _leftovers(workdir: Path) -> list[str]:
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


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}


@pytest.mark.slow
def test_demo_json_closes_the_loop_and_leaves_nothing_behind(tmp_path):
    workdir = tmp_path / "demo"

    done = subprocess.run(
        [
            *ROLLSAFE,
            "demo",
            "--scenario",
            "single",
            "--json",
            "--hosts",
            "5",
            "--workdir",
            str(workdir),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=_env(),
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)  # stdout is the JSON object and nothing else
    assert result["closed"] is True
    assert result["rolled_back"] is True
    assert result["verified"] is True
    assert result["others_untouched"] is True
    assert result["audit_ok"] is True
    assert result["hosts"] == 5
    assert result["target"] == "web-3"
    assert result["run_state"] == "succeeded"
    assert result["run_id"].startswith("run-")
    assert 0 < result["fault_to_decision_s"] <= result["fault_to_recovered_s"]
    assert result["decision"]["rule"] == "upgrade-failed"
    assert result["decision"]["severity"] == "critical"
    assert sorted(result["decision"]["evidence"]["firing_rules"]) == [
        "app-error-rate",
        "http-5xx-ratio",
    ]
    assert [s["name"] for s in result["steps"]] == ["restore-directory", "restart"]
    assert all(c["ok"] for c in result["checks"]), result["checks"]
    kinds = [e["kind"] for e in result["timeline"]]
    assert kinds.index("fault") < kinds.index("critical") < kinds.index("recovered")
    actions = [a["action"] for a in result["audit_trail"]]
    assert result["audit_events"] == len(actions)
    assert {"decision.critical", "run.opened", "run.succeeded"} <= set(actions)
    assert not workdir.exists()  # removed without --keep
    assert _leftovers(workdir) == []


@pytest.mark.slow
def test_demo_keep_leaves_an_inspectable_workdir_whose_audit_verifies(tmp_path):
    workdir = tmp_path / "kept"

    done = subprocess.run(
        [
            *ROLLSAFE,
            "demo",
            "--scenario",
            "single",
            "--hosts",
            "2",
            "--keep",
            "--workdir",
            str(workdir),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=_env(),
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "The loop closed." in done.stdout
    assert "Audit trail" in done.stdout
    assert _leftovers(workdir) == []
    config = workdir / "rollsafe.yaml"
    assert config.is_file()
    assert (workdir / "hosts" / "web-2" / "logs" / "app.log").read_text().count(" ERROR ") > 0
    verify = subprocess.run(
        [*ROLLSAFE, "audit", "verify", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "audit chain ok" in verify.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 130)])
def test_an_interrupted_demo_stops_every_process_it_started(tmp_path, signum, code):
    workdir = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [*ROLLSAFE, "demo", "--scenario", "single", "--hosts", "3", "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        # Interrupt once the fleet is up and the daemon runs: the worst moment to leave things.
        for line in proc.stdout:
            if "rollsafe watching" in line:
                break
        else:
            pytest.fail(f"the demo ended before its daemon started: {proc.stderr.read()}")
        assert _leftovers(workdir)  # services are running right now
        proc.send_signal(signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.stderr.close()

    assert proc.returncode == code, stderr
    assert "stop" in stderr
    assert _leftovers(workdir) == []
    assert not workdir.exists()


def test_demo_refuses_a_workdir_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("mine")

    done = subprocess.run(
        [*ROLLSAFE, "demo", "--json", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )

    assert done.returncode == 2
    assert "not empty" in done.stderr
    assert done.stdout == ""
    assert (tmp_path / "something").read_text() == "mine"


@pytest.mark.slow
def test_a_loop_that_does_not_close_in_time_is_reported_not_closed(tmp_path):
    workdir = tmp_path / "late"

    # One second is far too short to detect, decide, roll back and verify.
    result = scenario.run_demo(hosts=2, workdir=workdir, deadline_s=1.0)

    assert not result.closed
    assert "did not close within 1s" in (result.error or "")
    assert result.fault_to_recovered_s is None
    checks = {c.name: c.ok for c in result.checks}
    assert checks["release restored"] is False
    assert checks["other hosts untouched"] is True
    assert result.audit_ok  # the audit is sound even when the loop is not closed
    assert _leftovers(workdir) == []
    assert not workdir.exists()
