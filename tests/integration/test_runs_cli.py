"""The manual channel through the real ``rollsafe`` executable, with and without a daemon."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from runs_workspace import ROLLSAFE, TARGET, Workspace, kill_group

from rollsafe.config import loading
from rollsafe.domain import clocks, ids, runs
from rollsafe.runtime import assembly, locking
from rollsafe.storage import sql

HOLD_LOCK = """
import sys
from pathlib import Path
from rollsafe.runtime import locking
lock = locking.ControllerLock(Path(sys.argv[1]), role="daemon")
assert lock.try_acquire()
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path)


@pytest.fixture
def daemon_lock(ws):
    """Another process holding the controller lock, as a running daemon does."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(ws.state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    yield holder
    kill_group(holder.pid)
    holder.communicate(timeout=10)  # reaps it and closes its pipes


def test_without_a_daemon_the_cli_drives_the_run_and_prints_progress(ws):
    ws.checkpoint()
    before = ws.snapshot()
    ws.damage()

    done = ws.rollback()

    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("run.opened", "run.step.started", "step 0 restore-directory", "run.succeeded"):
        assert line in done.stdout
    assert ws.snapshot() == before
    [run] = ws.runs()
    assert run.state is runs.RunState.SUCCEEDED
    assert run.trigger == "manual"
    assert run.actor.startswith("cli:")
    assert run.reason == "crash-test"

    listed = ws.cli("runs", "--json", "-c", str(ws.config))
    assert listed.returncode == 0
    assert [r["id"] for r in json.loads(listed.stdout)] == [run.id]
    shown = ws.cli("runs", "show", run.id, "--json", "-c", str(ws.config))
    report = json.loads(shown.stdout)
    assert report["run"]["state"] == "succeeded"
    assert [s["name"] for s in report["steps"]] == ["restore-directory", "restart"]
    assert report["audit"][0]["action"] == "run.opened"
    assert report["audit"][-1]["action"] == "run.succeeded"
    human = ws.cli("runs", "show", run.id, "-c", str(ws.config))
    assert "restore-directory" in human.stdout
    assert ws.cli("audit", "verify", "-c", str(ws.config)).returncode == 0


def test_with_a_daemon_the_cli_only_opens_the_run(ws, daemon_lock):
    ws.checkpoint()
    ws.damage()
    damaged = ws.snapshot()

    opened = ws.rollback()

    assert opened.returncode == 0, opened.stdout + opened.stderr
    assert "queued for the running controller" in opened.stdout
    [run] = ws.runs()
    assert run.state is runs.RunState.PENDING
    assert ws.steps(run.id) == []
    assert ws.snapshot() == damaged  # nothing was done by the CLI
    assert ws.restores() == []
    # The same command again does not open a second run.
    assert ws.rollback().returncode == 0
    assert len(ws.runs()) == 1
    listed = json.loads(ws.cli("runs", "--open", "--json", "-c", str(ws.config)).stdout)
    assert [r["id"] for r in listed] == [run.id]


async def test_wait_follows_the_run_the_daemon_drives(ws):
    await asyncio.to_thread(ws.checkpoint)
    before = ws.snapshot()
    ws.damage()
    loaded = loading.load(ws.config)
    lock = locking.ControllerLock(loaded.state_dir)  # this test process is the daemon
    assert lock.try_acquire()
    store = sql.open_store(loaded.state_dir)
    try:
        executor = assembly.build_executor(loaded, store, clock=clocks.SystemClock())
        stop = asyncio.Event()
        serving = asyncio.create_task(executor.serve(stop))
        cli = await asyncio.create_subprocess_exec(
            ROLLSAFE,
            "rollback",
            TARGET,
            "--reason",
            "r",
            "--wait",
            "-c",
            str(ws.config),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ws.env(),
        )
        out, err = await asyncio.wait_for(cli.communicate(), 60)
        stop.set()
        await serving
    finally:
        store.close()
        lock.release()

    text = out.decode()
    assert cli.returncode == 0, text + err.decode()
    assert "queued for the running controller" in text
    assert "run.step.done" in text
    assert "succeeded" in text
    assert ws.snapshot() == before
    assert len(ws.restores()) == 1


def test_wait_takes_over_when_the_daemon_goes_away(ws, daemon_lock):
    ws.checkpoint()
    before = ws.snapshot()
    ws.damage()
    follower = ws.popen("rollback", TARGET, "--reason", "r", "--wait", "-c", str(ws.config))
    try:
        for line in follower.stdout:
            if "queued for the running controller" in line:
                break
        kill_group(daemon_lock.pid)  # the daemon dies without ever driving the run
        out, err = follower.communicate(timeout=60)
    finally:
        kill_group(follower.pid)

    assert follower.returncode == 0, out + err
    assert "driving the run here" in out
    assert ws.snapshot() == before
    [run] = ws.runs()
    assert run.state is runs.RunState.SUCCEEDED


def test_failure_then_blocked_exit_one(ws):
    # No checkpoint: the run fails in prechecks, and quarantines the target.
    failed = ws.rollback()
    assert failed.returncode == 1
    assert "failed: no restore point" in failed.stdout

    blocked = ws.rollback("--json")
    assert blocked.returncode == 1
    report = json.loads(blocked.stdout)
    assert report["run"]["state"] == "blocked"
    assert "quarantined" in report["run"]["error"]
    assert [e["action"] for e in report["audit"]] == ["run.blocked"]


def test_usage_errors_exit_two(ws):
    unknown = ws.cli("rollback", "db-9", "--reason", "r", "-c", str(ws.config))
    assert unknown.returncode == 2
    assert "unknown target 'db-9'" in unknown.stderr
    missing = ws.cli("rollback", TARGET, "--reason", "r", "-c", str(ws.root / "nope.yaml"))
    assert missing.returncode == 2
    no_reason = ws.cli("rollback", TARGET, "-c", str(ws.config))
    assert no_reason.returncode == 2
    no_run = ws.cli("runs", "show", "run-nope", "-c", str(ws.config))
    assert no_run.returncode == 2
    assert ws.runs() == []


def test_checkpoint_and_restore_points(ws):
    taken = ws.cli("checkpoint", TARGET, "--label", "before 2.0", "--json", "-c", str(ws.config))
    assert taken.returncode == 0, taken.stderr
    point = json.loads(taken.stdout)
    assert point["label"] == "before 2.0"
    assert set(point["checks"]) == {"conf"}

    listed = ws.cli("restore-points", TARGET, "--json", "-c", str(ws.config))
    assert [p["id"] for p in json.loads(listed.stdout)] == [point["id"]]
    human = ws.cli("restore-points", TARGET, "-c", str(ws.config))
    assert point["id"] in human.stdout


def test_upgrade_checkpoints_first_and_leaves_a_mark(ws):
    done = ws.cli("upgrade", TARGET, "-c", str(ws.config))

    assert done.returncode == 0, done.stdout + done.stderr
    assert (ws.live / "etc" / "app.conf").read_text() == "upgraded\n"
    with sql.open_store(ws.state) as store:
        [point] = store.list_restore_points(ids.TargetId(TARGET))
        marks = store.list_observations(target=ids.TargetId(TARGET), source="mark:upgrade")
        actions = [e.entry.action for e in store.list_audit_events()]
    assert [m.value for m in marks] == [1.0]
    assert actions.index("restore_point.created") < actions.index("upgrade.finished")
    assert point.label == "before upgrade"

    # And the restore point taken by `upgrade` is what `rollback` goes back to.
    back = ws.rollback()
    assert back.returncode == 0, back.stdout + back.stderr
    assert (ws.live / "etc" / "app.conf").read_text() == "listen = 8080\nworkers = 4\n"
