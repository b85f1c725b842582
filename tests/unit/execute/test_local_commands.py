"""Operator commands of the local driver: templates, environment, failures, timeouts, keys."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.drivers import local
from support.crashing import process_gone


@pytest.fixture
def target(tmp_path: Path) -> models.Target:
    return models.Target(
        id="web1",
        address="10.0.0.7",
        labels={"role": "api"},
        vars={"work": str(tmp_path / "work"), "port": 8080},
    )


@pytest.fixture(autouse=True)
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def make_driver(tmp_path: Path, **overrides) -> local.LocalDriver:
    fields = {"kind": "local", "name": "cmds", "rollback": "true", **overrides}
    return local.LocalDriver(models.LocalDriver(**fields), tmp_path / "state")


async def checkpointed(driver: local.LocalDriver, target: models.Target):
    return await driver.checkpoint(target, point_id="rp-1")


async def test_tokens_are_templates_and_the_output_is_the_stdout_tail(tmp_path, target):
    driver = make_driver(
        tmp_path,
        rollback="sh -c 'echo rolling back {id} at {address}:{port} as {role}'",
        restart=["sh", "-c", "for i in $(seq 1 50); do echo line $i; done; echo '{{literal}}'"],
    )
    point = await checkpointed(driver, target)

    out = await driver.rollback(target, point, step="run-rollback-command", key="k1")
    restart = await driver.rollback(target, point, step="restart", key="k2")

    assert out == "rolling back web1 at 10.0.0.7:8080 as api"
    lines = restart.splitlines()
    assert len(lines) == 20
    assert lines[-1] == "{literal}"
    assert lines[0] == "line 32"


async def test_the_environment_carries_config_env_and_rollsafe_variables(tmp_path, target):
    driver = make_driver(
        tmp_path,
        env={"APP_MODE": "blue"},
        rollback=[
            "sh",
            "-c",
            'echo "$APP_MODE|$ROLLSAFE_TARGET|$ROLLSAFE_STEP_KEY|$ROLLSAFE_POINT_ID|'
            '$ROLLSAFE_POINT_DIR|$HOME"',
        ],
    )
    point = await checkpointed(driver, target)

    out = await driver.rollback(target, point, step="run-rollback-command", key="run-9:cmd")

    point_dir = driver.state_dir / "restore-points" / "web1" / "rp-1"
    # APP_MODE arrived ("***", not empty): values of `env` are masked in the step's output,
    # as any of them may be a password (tests/integration/test_secrets_never_leak.py).
    assert out == f"***|web1|run-9:cmd|rp-1|{point_dir}|{os.environ.get('HOME', '')}"


async def test_the_checkpoint_command_can_keep_data_in_the_point_dir(tmp_path, target):
    driver = make_driver(
        tmp_path,
        checkpoint=["sh", "-c", 'echo "saved {id}" > "$ROLLSAFE_POINT_DIR/state.txt"'],
        rollback=["sh", "-c", 'cat "$ROLLSAFE_POINT_DIR/state.txt"'],
    )
    point = await checkpointed(driver, target)

    out = await driver.rollback(target, point, step="run-rollback-command", key="k")

    assert out == "saved web1"


async def test_a_failed_checkpoint_command_leaves_no_point(tmp_path, target):
    driver = make_driver(tmp_path, checkpoint="sh -c 'echo cannot dump >&2; exit 1'")

    with pytest.raises(errors.DriverError, match="cannot dump"):
        await checkpointed(driver, target)
    assert not (driver.state_dir / "restore-points" / "web1" / "rp-1").exists()
    assert (await driver.status(target))["restore_points"] == []


async def test_non_zero_exit_raises_with_the_stderr_tail_and_no_secrets(tmp_path, target):
    driver = make_driver(
        tmp_path,
        env={"API_TOKEN": "s3cr3t-value"},
        rollback=[
            "sh",
            "-c",
            "for i in $(seq 1 30); do echo noise $i >&2; done; echo 'disk full' >&2; exit 3",
            "--token=$API_TOKEN",
        ],
    )
    point = await checkpointed(driver, target)

    with pytest.raises(errors.DriverError) as caught:
        await driver.rollback(target, point, step="run-rollback-command", key="k")

    message = str(caught.value)
    assert "exit code 3" in message
    assert message.rstrip().endswith("disk full")
    assert "noise 5\n" not in message
    assert "s3cr3t-value" not in message
    # A failed step is not journaled: the same key runs the command again.
    with pytest.raises(errors.DriverError, match="exit code 3"):
        await driver.rollback(target, point, step="run-rollback-command", key="k")


async def test_a_missing_executable_is_a_driver_error(tmp_path, target):
    driver = make_driver(tmp_path, rollback="/opt/nowhere/undo")
    point = await checkpointed(driver, target)

    with pytest.raises(errors.DriverError, match="'/opt/nowhere/undo' was not found"):
        await driver.rollback(target, point, step="run-rollback-command", key="k")


async def test_an_unknown_template_variable_is_a_driver_error(tmp_path, target):
    driver = make_driver(tmp_path, rollback="undo {nope}")
    point = await checkpointed(driver, target)

    with pytest.raises(errors.DriverError, match="template variable 'nope'"):
        await driver.rollback(target, point, step="run-rollback-command", key="k")


async def test_a_timeout_kills_the_whole_process_group(tmp_path, target, work):
    driver = make_driver(
        tmp_path,
        step_timeout=2,
        rollback=[
            "sh",
            "-c",
            "sleep 300 & echo $! > {work}/child.pid; echo $$ > {work}/sh.pid; wait",
        ],
    )
    point = await checkpointed(driver, target)

    with pytest.raises(errors.DriverError, match=r"timed out after 2s"):
        await driver.rollback(target, point, step="run-rollback-command", key="k")

    for name in ("child.pid", "sh.pid"):
        await process_gone(int((work / name).read_text()))


async def test_a_command_ignoring_sigterm_is_killed(tmp_path, target, work):
    driver = make_driver(
        tmp_path,
        step_timeout=2,
        rollback=["sh", "-c", "trap '' TERM; sleep 300 & echo $! > {work}/child.pid; wait"],
    )
    point = await checkpointed(driver, target)

    with pytest.raises(errors.DriverError, match="timed out"):
        await driver.rollback(target, point, step="run-rollback-command", key="k")

    await process_gone(int((work / "child.pid").read_text()))


async def test_cancelling_a_step_kills_its_command(tmp_path, target, work):
    fifo = work / "started"
    os.mkfifo(fifo)
    driver = make_driver(
        tmp_path, rollback=["sh", "-c", "echo $$ > {work}/started; exec sleep 300"]
    )
    point = await checkpointed(driver, target)
    step = asyncio.create_task(driver.rollback(target, point, step="run-rollback-command", key="k"))

    pid = int(await asyncio.to_thread(fifo.read_text))  # the command is running now
    step.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await step

    await process_gone(pid)


async def test_a_daemon_left_by_restart_does_not_block_the_step(tmp_path, target, work):
    driver = make_driver(
        tmp_path,
        restart=["sh", "-c", "sleep 300 & echo $! > {work}/daemon.pid; echo started"],
    )
    point = await checkpointed(driver, target)

    out = await driver.rollback(target, point, step="restart", key="k")

    assert out == "started"
    daemon = int((work / "daemon.pid").read_text())
    os.kill(daemon, 0)  # still running: a restart may leave a service behind
    os.kill(daemon, signal.SIGKILL)
    await process_gone(daemon)


async def test_commands_run_once_per_key(tmp_path, target, work):
    counter = work / "count"
    driver = make_driver(
        tmp_path,
        rollback=["sh", "-c", "echo x >> {work}/count; echo run $(wc -l < {work}/count)"],
        upgrade=["sh", "-c", "echo u >> {work}/upgrades; echo upgraded {id}"],
    )
    point = await checkpointed(driver, target)

    first = await driver.rollback(target, point, step="run-rollback-command", key="a")
    again = await driver.rollback(target, point, step="run-rollback-command", key="a")
    other = await driver.rollback(target, point, step="run-rollback-command", key="b")
    upgraded = [await driver.upgrade(target, key="u1") for _ in range(2)]

    assert (first, again, other) == ("run 1", "run 1", "run 2")
    assert counter.read_text() == "x\nx\n"
    assert upgraded == ["upgraded web1", "upgraded web1"]
    assert (work / "upgrades").read_text() == "u\n"


async def test_a_key_reused_for_another_step_is_refused(tmp_path, target):
    driver = make_driver(tmp_path, restart="true")
    point = await checkpointed(driver, target)
    await driver.rollback(target, point, step="run-rollback-command", key="same")

    with pytest.raises(errors.DriverError, match="already used for step"):
        await driver.rollback(target, point, step="restart", key="same")


async def test_a_key_held_by_another_worker_is_a_temporary_error(tmp_path, target):
    driver = make_driver(tmp_path)
    point = await checkpointed(driver, target)
    lock_path = driver.state_dir / "driver-journal" / f"{local.step_slug('busy')}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(errors.DriverTemporaryError, match="another worker"):
            await driver.rollback(target, point, step="run-rollback-command", key="busy")
    assert await driver.rollback(target, point, step="run-rollback-command", key="busy") == ""


async def test_unknown_steps_and_missing_upgrade_are_driver_errors(tmp_path, target):
    driver = make_driver(tmp_path)
    point = await checkpointed(driver, target)

    with pytest.raises(errors.DriverError, match="no rollback step 'restart'"):
        await driver.rollback(target, point, step="restart", key="k")
    with pytest.raises(errors.DriverError, match="no `upgrade` command"):
        await driver.upgrade(target, key="k")


async def test_status_without_directory(tmp_path, target):
    driver = make_driver(tmp_path)
    await checkpointed(driver, target)

    status = await driver.status(target)

    assert status["directory"] is None
    assert status["exists"] is False
    assert status["restore_points_dir"] == str(driver.state_dir / "restore-points" / "web1")
    assert status["restore_points"] == ["rp-1"]
