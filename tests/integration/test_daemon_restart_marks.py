"""A daemon killed after an upgrade was marked, and started again later, still rolls back.

With ``policy.before_first_mark: hold`` a critical decision on a target the judge knows no
upgrade mark of is held as a warning. A restarted daemon refills its windows only over the
judge's horizon, so before round 11 it forgot a mark older than that: a real failure after
the restart only warned. Now it reloads each target's newest marks (``runtime.recall``).

Real ``rollsafe run`` processes and a real log file; the mark is written by ``rollsafe mark
upgrade``; the first daemon is killed with SIGKILL. No clock reaches into a real process, so
"two hours later" is made by moving every stored observation two hours back (the mark among
them) while no daemon runs: what a daemon started two hours after the mark reads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROLLSAFE = [sys.executable, "-m", "rollsafe.interfaces.cli.main"]
LATER = 2 * 3600.0  # beyond this config's horizon: 3600 s of upgrade hold plus 60 s margin

pytestmark = pytest.mark.slow


def _write_config(tmp_path: Path) -> Path:
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        f"""
state_dir: state
server: {{port: 0}}  # a free port: other tests' daemons may run beside this one
policy:
  dry_run: true            # decide and open the run, do not act on a host
  before_first_mark: hold  # every upgrade here is marked
targets:
  - id: app-1
probes:
  - name: fatal
    kind: log
    path: "{tmp_path}/app.log"
    patterns: ["FATAL"]
    interval: 200ms
rules:
  - id: fatal
    kind: threshold
    probe: fatal
    op: ">="
    value: 1
    severity: critical
"""
    )
    return config


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROLLSAFE, *args], capture_output=True, text=True, timeout=60, check=True
    )


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ROLLSAFE, "run", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _worst(config: Path) -> dict | None:
    try:
        targets = json.loads(_cli("status", "-c", str(config), "--json").stdout)["targets"]
    except subprocess.CalledProcessError:
        return None
    return targets[0]["worst"] if targets else None


def _wait_ok(config: Path, daemon: subprocess.Popen[str]) -> None:
    """Wait until the daemon judged the target (its first decisions are stored); a daemon
    that exited instead fails at once, with what it printed."""
    end = time.monotonic() + 90
    while _worst(config) is None:
        if daemon.poll() is not None:
            output, _ = daemon.communicate(timeout=30)
            raise AssertionError(f"the daemon exited ({daemon.returncode}):\n{output}")
        assert time.monotonic() < end, "the daemon never judged app-1"
        time.sleep(0.3)


def _wait_run(config: Path, log: Path) -> list[dict]:
    """Append a FATAL line to ``log`` at each look (the log probe counts only what it reads
    after its first look) until a run was opened; the runs."""
    end = time.monotonic() + 90
    while time.monotonic() < end:
        with log.open("a") as out:
            out.write("2026-12-07 15:00:00 FATAL cannot open the new schema\n")
        runs: list[dict] = json.loads(_cli("runs", "-c", str(config), "--json").stdout)
        if runs:
            return runs
        time.sleep(0.5)
    raise AssertionError("no run was opened")


def _decisions(config: Path) -> list[dict]:
    shown = json.loads(_cli("audit", "show", "-c", str(config), "--json").stdout)
    return [e for e in shown if e["action"].startswith("decision.")]


def test_a_daemon_killed_after_the_mark_rolls_back_a_failure_after_its_restart(
    tmp_path: Path,
) -> None:
    config = _write_config(tmp_path)
    log = tmp_path / "app.log"
    log.write_text("")

    first = _start(config)
    try:
        _wait_ok(config, first)
        _cli("mark", "upgrade", "app-1", "-c", str(config), "--note", "apt upgrade")
        time.sleep(1.5)  # the daemon's mark watcher polls every second
    finally:
        first.kill()  # SIGKILL: no orderly shutdown
        first.communicate(timeout=30)
    assert first.returncode == -9

    with sqlite3.connect(tmp_path / "state" / "rollsafe.db") as db:
        db.execute("UPDATE observations SET time = time - ?", (LATER,))
        marks = db.execute("SELECT count(*) FROM observations WHERE source = 'mark:upgrade'")
        assert marks.fetchone() == (1,)

    second = _start(config)
    try:
        runs = _wait_run(config, log)
    finally:
        second.terminate()
        output, _ = second.communicate(timeout=30)
    assert second.returncode == 0, output
    assert [(r["target"], r["state"]) for r in runs] == [("app-1", "dry_run")]
    # The failure was judged critical, never held as one from before the first mark.
    decided = _decisions(config)
    assert decided[0]["result"] == "critical", decided
    assert "warning" not in [e["result"] for e in decided], decided
    assert decided[0]["details"]["rule"] == "fatal"
    assert "before_first_mark" not in decided[0]["details"]["evidence"]
