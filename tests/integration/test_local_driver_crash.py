"""The local driver across a SIGKILLed controller: a running command is adopted, never doubled.

A real controller (a Python subprocess calling ``LocalDriver.upgrade``) starts a command that
blocks on a FIFO, and is SIGKILLed; a fresh driver then calls the same step with the same key.
The command counts its own runs in ``count``, so "ran once" is the command's word, not ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.drivers import local
from support import crashing
from support.crashing import parent_of, process_gone, read_line

KEY = "rollout-1/web1/upgrade"

CONTROLLER = """
import asyncio, json, sys
from pathlib import Path
from rollsafe.config import models
from rollsafe.execute.drivers import local
config, target, state, key = json.loads(sys.argv[1]), json.loads(sys.argv[2]), *sys.argv[3:]
driver = local.LocalDriver(models.LocalDriver(**config), Path(state))
print(asyncio.run(driver.upgrade(models.Target(**target), key=key)))
"""

# Counts its run, tells the test its pid (the pgid of its group), blocks until released.
BLOCKING = (
    "echo run >> {work}/count; echo $$ > {work}/started; read go < {work}/gate; echo upgraded {id}"
)
# Blocks only on its first run: a re-run goes straight through.
FIRST_BLOCKS = (
    "echo run >> {work}/count; "
    'if [ "$(wc -l < {work}/count)" -eq 1 ]; then echo $$ > {work}/started; exec sleep 300; fi; '
    "echo upgraded {id}"
)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    os.mkfifo(path / "started")
    os.mkfifo(path / "gate")
    return path


@pytest.fixture
def target(work: Path) -> models.Target:
    return models.Target(id="web1", vars={"work": str(work)})


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Process groups to SIGKILL whatever a failing test left behind."""
    groups: list[int] = []
    yield groups
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


@pytest.fixture
def gate(work: Path) -> Iterator[int]:
    """The write end of the FIFO blocking commands wait on; writing a line releases one.

    Opened read-write so that neither this open nor a write ever blocks the test, and kept
    open so that a line written before the command opens the FIFO is still there for it.
    """
    fd = os.open(work / "gate", os.O_RDWR)
    yield fd
    os.close(fd)


def config(script: str, **overrides) -> dict:
    return {
        "kind": "local",
        "name": "cmds",
        "rollback": "true",
        "upgrade": ["sh", "-c", script],
        **overrides,
    }


def driver(state: Path, script: str, **overrides) -> local.LocalDriver:
    return local.LocalDriver(models.LocalDriver(**config(script, **overrides)), state)


def runs(work: Path) -> int:
    path = work / "count"
    return len(path.read_text().splitlines()) if path.exists() else 0


async def crashed_controller(
    state: Path, target: models.Target, work: Path, script: str, leftovers: list[int]
) -> tuple[int, int]:
    """Start an upgrade in a controller process, SIGKILL it mid-command.

    Returns the command's pid (the id of its process group) and its supervisor's pid.
    """
    controller = crashing.controller(
        CONTROLLER,
        json.dumps(config(script)),
        json.dumps(target.model_dump(mode="json")),
        str(state),
        KEY,
    )
    leftovers.append(controller.pid)
    command_pid = int(await read_line(work / "started"))  # the command is running now
    leftovers.append(command_pid)
    supervisor_pid = parent_of(command_pid)
    os.killpg(controller.pid, signal.SIGKILL)  # the controller dies; the command's group lives
    assert await asyncio.to_thread(controller.wait, 30) == -signal.SIGKILL
    os.kill(command_pid, 0)  # still running
    return command_pid, supervisor_pid


def release(gate: int) -> None:
    """Let one command blocked on the gate go on."""
    os.write(gate, b"go\n")


async def test_a_resumed_step_adopts_the_running_command(state, target, work, gate, leftovers):
    await crashed_controller(state, target, work, BLOCKING, leftovers)

    async with asyncio.timeout(60):
        resumed = asyncio.create_task(driver(state, BLOCKING).upgrade(target, key=KEY))
        release(gate)
        output = await resumed

    assert output == "upgraded web1"
    assert runs(work) == 1
    # Journaled like any step: a later call neither runs nor waits.
    assert await driver(state, BLOCKING).upgrade(target, key=KEY) == "upgraded web1"
    assert runs(work) == 1
    journal = state / "driver-journal"
    assert not list(journal.glob("*.result"))
    assert not list(journal.glob("*.proc"))


async def test_a_result_recorded_after_the_crash_is_used_without_running(
    state, target, work, gate, leftovers
):
    _, supervisor = await crashed_controller(state, target, work, BLOCKING, leftovers)
    release(gate)
    await process_gone(supervisor)  # it recorded the exit code, with no controller to tell
    assert (state / "driver-journal" / f"{local.step_slug(KEY)}.result").exists()

    async with asyncio.timeout(60):
        output = await driver(state, BLOCKING).upgrade(target, key=KEY)

    assert output == "upgraded web1"
    assert runs(work) == 1


@pytest.mark.parametrize("killed", ["the whole group", "the supervisor alone"])
async def test_a_command_whose_supervisor_died_runs_again(state, target, work, leftovers, killed):
    command_pid, supervisor = await crashed_controller(state, target, work, FIRST_BLOCKS, leftovers)
    if killed == "the whole group":
        # As a reboot would: nothing survives. Not awaited: the resumed call may still see
        # the dying supervisor, adopt it, and must then run the command again all the same.
        os.killpg(command_pid, signal.SIGKILL)
    else:
        os.kill(supervisor, signal.SIGKILL)  # the command is orphaned, nobody can record it
        await process_gone(supervisor)

    async with asyncio.timeout(60):
        output = await driver(state, FIRST_BLOCKS).upgrade(target, key=KEY)

    # Documented: with no supervisor left, the command runs again (commands must be safe
    # to repeat), and an orphan of the first run never runs alongside it.
    assert output == "upgraded web1"
    assert runs(work) == 2
    await process_gone(command_pid)


async def test_an_adopted_command_still_obeys_the_step_timeout(state, target, work, leftovers):
    command_pid, _ = await crashed_controller(state, target, work, BLOCKING, leftovers)

    with pytest.raises(errors.DriverError, match="timed out after 1s"):
        async with asyncio.timeout(60):
            await driver(state, BLOCKING, step_timeout=1).upgrade(target, key=KEY)

    await process_gone(command_pid)
    assert runs(work) == 1
