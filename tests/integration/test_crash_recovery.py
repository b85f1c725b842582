"""THE crash test: kill the controller (SIGKILL) at every boundary of a real rollback, resume.

For each fault boundary of a run of the local driver (restore the directory, then restart),
and once in the middle of the restart command, ``rollsafe rollback`` is killed; the same
command run again must find the open run and finish it. Then: the run succeeded, it is the
only run, the directory was restored exactly once (the driver's restores.log) and is byte for
byte the checkpoint, and the audit chain verifies.
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from runs_workspace import ROLLSAFE, TARGET, Workspace, kill_group

from rollsafe.domain import runs
from rollsafe.execute import runs as executing

STEPS = 2  # restore-directory, restart
BOUNDARIES = executing.fault_boundaries(STEPS)

pytestmark = pytest.mark.slow


def _assert_recovered(ws: Workspace, checkpointed: dict) -> None:
    [run] = ws.runs()
    assert run.state is runs.RunState.SUCCEEDED, run.error
    assert [s.state for s in ws.steps(run.id)] == [runs.StepState.DONE] * STEPS
    restores = ws.restores()
    assert len(restores) == 1, restores
    assert f'"key": "{run.id}/0/restore-directory"' in restores[0]
    assert ws.snapshot() == checkpointed
    verified = ws.cli("audit", "verify", "-c", str(ws.config))
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_killed_at_a_boundary_then_resumed(tmp_path, boundary):
    ws = Workspace(tmp_path)
    ws.checkpoint()
    checkpointed = ws.snapshot()
    ws.damage()

    killed = ws.rollback(fault=boundary)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    [open_run] = ws.runs()
    assert open_run.open

    resumed = ws.rollback()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"run {open_run.id} was already open" in resumed.stdout
    _assert_recovered(ws, checkpointed)


def test_killed_in_the_middle_of_a_step_then_resumed(tmp_path):
    ws = Workspace(tmp_path)
    ws.checkpoint()
    checkpointed = ws.snapshot()
    ws.damage()
    ws.block.touch()  # the first restart command blocks after writing `started`

    controller = subprocess.Popen(
        [ROLLSAFE, "rollback", TARGET, "--reason", "crash-test", "-c", str(ws.config)],
        cwd=tmp_path,
        env=ws.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    command_pid = None
    try:
        deadline = time.monotonic() + 60
        while not ws.started.exists():
            assert controller.poll() is None, "the controller ended before the step started"
            assert time.monotonic() < deadline, "the restart step never started"
            time.sleep(0.02)
        command_pid = int(ws.started.read_text())
        kill_group(controller.pid)
        assert controller.wait(timeout=30) == -signal.SIGKILL
    finally:
        kill_group(controller.pid)
        if command_pid is not None:
            kill_group(command_pid)  # the restart command runs in its own process group
    [open_run] = ws.runs()
    assert [s.state for s in ws.steps(open_run.id)] == [
        runs.StepState.DONE,
        runs.StepState.STARTED,
    ]

    resumed = ws.rollback()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    _assert_recovered(ws, checkpointed)
    assert ws.steps(open_run.id)[1].attempt == 2  # re-invoked with the same key
