"""A cloud driver's upgrade command across a SIGKILLed controller: adopted, never run twice.

The aws and tencent drivers run their ``upgrade`` command on the controller, through the same
supervisor as the local driver (``execute.supervising``). A real controller (a Python
subprocess calling ``driver.upgrade``) starts a command that blocks on a FIFO and is
SIGKILLed mid-way; a fresh driver then resumes the step with the same key. The command counts
its own runs, so "ran once" is the command's word. Before the supervisor, the resumed step ran
the command a second time. No cloud API is called: the upgrade is a local command.
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
from rollsafe.execute import registry
from support import crashing
from support.crashing import process_gone, read_line

KEY = "rollout-7/web1/upgrade"

CONTROLLER = """
import asyncio, json, sys
from pathlib import Path
from rollsafe.config import models
from rollsafe.execute import registry
model, config, target = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
state, key = sys.argv[4:]
driver = registry.build(getattr(models, model)(**config), Path(state))
print(asyncio.run(driver.upgrade(models.Target(**target), key=key)))
"""

# Counts its run, tells the test its pid, blocks until released, reports its instance.
BLOCKING = (
    "echo run >> {work}/count; echo $$ > {work}/started; read go < {work}/gate; "
    'echo "upgraded {id} $ROLLSAFE_INSTANCE_ID"'
)

DRIVERS = {  # the driver's model, its settings, the instance of the target
    "aws": ("AwsDriver", {"kind": "aws", "name": "ec2"}, "i-0123456789abcdef0"),
    "tencent": (
        "TencentDriver",
        {"kind": "tencent", "name": "cvm", "region": "ap-guangzhou"},
        "ins-web00001",
    ),
}


@pytest.fixture(params=sorted(DRIVERS))
def cloud(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    os.mkfifo(path / "started")
    os.mkfifo(path / "gate")
    return path


@pytest.fixture
def gate(work: Path) -> Iterator[int]:
    """The FIFO's write end, opened read-write so that neither open nor write blocks."""
    fd = os.open(work / "gate", os.O_RDWR)
    yield fd
    os.close(fd)


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    groups: list[int] = []
    yield groups
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def settings(cloud: str) -> dict:
    return {**DRIVERS[cloud][1], "upgrade": ["sh", "-c", BLOCKING]}


def build(cloud: str, state: Path):
    return registry.build(getattr(models, DRIVERS[cloud][0])(**settings(cloud)), state)


def target(cloud: str, work: Path) -> models.Target:
    _, driver, instance = DRIVERS[cloud]
    variables = {"instance_id": instance, "work": str(work)}
    return models.Target(id="web1", driver=driver["name"], vars=variables)


def runs(work: Path) -> int:
    path = work / "count"
    return len(path.read_text().splitlines()) if path.exists() else 0


async def test_a_resumed_upgrade_adopts_the_running_command(cloud, tmp_path, work, gate, leftovers):
    state = tmp_path / "state"
    host = target(cloud, work)
    controller = crashing.controller(
        CONTROLLER,
        DRIVERS[cloud][0],
        json.dumps(settings(cloud)),
        json.dumps(host.model_dump(mode="json")),
        str(state),
        KEY,
    )
    leftovers.append(controller.pid)
    command_pid = int(await read_line(work / "started"))  # the upgrade is running now
    leftovers.append(command_pid)
    os.killpg(controller.pid, signal.SIGKILL)  # the controller dies mid-upgrade
    assert await asyncio.to_thread(controller.wait, 30) == -signal.SIGKILL
    os.kill(command_pid, 0)  # the command lives on under its supervisor

    driver = build(cloud, state)
    async with asyncio.timeout(60):
        resumed = asyncio.create_task(driver.upgrade(host, key=KEY))
        os.write(gate, b"go\n")  # only now may the first (and only) run finish
        output = await resumed
    await process_gone(command_pid)

    instance = DRIVERS[cloud][2]
    assert output == f"upgraded web1 {instance}"
    assert runs(work) == 1
    # Journaled: the same key later neither runs the command nor waits for it.
    again = build(cloud, state)
    assert await again.upgrade(host, key=KEY) == f"upgraded web1 {instance}"
    assert runs(work) == 1
