"""The qcow2 recipe with the real qemu-img and qemu-io, through the local transport.

A small qcow2 image stands for a VM disk; a ``qemu-io`` process holding it open stands for a
running VM (it takes the same image lock QEMU does).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import qcow2, recipes
from rollsafe.reach.transports import local, transporting

pytestmark = pytest.mark.requires("qemu-img", "qemu-io")
TARGET = models.Target(id="vm-1")


def on(transport: transporting.Transport) -> recipes.Host:
    """``TARGET`` reached through ``transport``."""
    return recipes.Host(transport, TARGET)


def qemu_io(image: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", command, str(image)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "vm disk.qcow2"  # a space, to prove the quoting
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "4M"], check=True)
    assert qemu_io(path, "write -P 0xab 0 64k").returncode == 0
    return path


@pytest.fixture
async def running_vm(image: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        "qemu-io",
        "-f",
        "qcow2",
        str(image),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    # The prompt appears once the image is open, and so locked.
    assert (await proc.stdout.readexactly(len("qemu-io>"))) == b"qemu-io>"
    yield proc
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


async def test_checkpoint_change_rollback_verify(image: Path, tmp_path: Path) -> None:
    log = tmp_path / "vm.log"
    config = models.Qcow2Recipe(
        kind="qcow2",
        image=str(image),
        stop=["sh", "-c", f"echo stop >> '{log}'"],
        start=["sh", "-c", f"echo start {{id}} >> '{log}'"],
    )
    recipe = qcow2.make(config, poll_interval=0.05)
    transport = local.LocalTransport()

    data = await recipe.checkpoint(on(transport), point_id="rp-abc123", limit_s=60)
    assert data == {
        "image": str(image),
        "tag": "rollsafe-rp-abc123",
        "virtual_size": 4 * 1024 * 1024,
        "point_id": "rp-abc123",
    }
    await recipe.precheck(on(transport), data, limit_s=60)
    # Repeated checkpoint: the snapshot is there already, no second one.
    await recipe.checkpoint(on(transport), point_id="rp-abc123", limit_s=60)
    listed = subprocess.run(
        ["qemu-img", "snapshot", "-l", str(image)], capture_output=True, text=True, check=True
    )
    assert listed.stdout.count("rollsafe-rp-abc123") == 1

    # "The upgrade": the guest's data changes.
    assert qemu_io(image, "write -P 0xcd 0 64k").returncode == 0
    assert qemu_io(image, "read -P 0xab 0 64k").returncode != 0

    assert recipe.rollback_steps(data) == ["stop", "apply", "start"]
    texts = [
        await recipe.rollback(on(transport), data, step=step, limit_s=60)
        for step in recipe.rollback_steps(data)
    ]
    assert "already stopped" in texts[0]
    assert "back at snapshot rollsafe-rp-abc123" in texts[1]
    assert texts[2] == "the VM was started"
    assert log.read_text() == "start vm-1\n"

    assert qemu_io(image, "read -P 0xab 0 64k").returncode == 0  # the data is back
    assert "clean qemu-img check" in await recipe.verify(on(transport), data, limit_s=60)


async def test_a_running_vm_is_stopped_for_the_checkpoint(
    image: Path, running_vm: asyncio.subprocess.Process, tmp_path: Path
) -> None:
    transport = local.LocalTransport()
    bare = qcow2.make(models.Qcow2Recipe(kind="qcow2", image=str(image)), poll_interval=0.05)
    with pytest.raises(errors.DriverError, match="in use by a running VM"):
        await bare.checkpoint(on(transport), point_id="rp-1", limit_s=30)
    data = {"image": str(image), "tag": "rollsafe-rp-1", "virtual_size": 4194304}
    with pytest.raises(errors.DriverError, match="refusing to apply"):
        await bare.rollback(on(transport), data, step="apply", limit_s=30)

    started = tmp_path / "started"
    config = models.Qcow2Recipe(
        kind="qcow2",
        image=str(image),
        stop=f"kill {running_vm.pid}",  # a shell line, as users write them
        start=["touch", str(started)],
    )
    recipe = qcow2.make(config, poll_interval=0.05)
    taken = await recipe.checkpoint(on(transport), point_id="rp-1", limit_s=30)
    assert await running_vm.wait() != 0  # it was stopped
    assert started.exists()  # and started again after the snapshot
    await recipe.precheck(on(transport), taken, limit_s=30)


async def test_precheck_and_verify_without_the_snapshot(image: Path) -> None:
    transport = local.LocalTransport()
    recipe = qcow2.make(models.Qcow2Recipe(kind="qcow2", image=str(image)))
    data = {"image": str(image), "tag": "rollsafe-gone", "virtual_size": 4194304}
    with pytest.raises(errors.PrecheckFailed, match="no longer"):
        await recipe.precheck(on(transport), data, limit_s=30)
    with pytest.raises(errors.VerificationFailed, match="missing"):
        await recipe.verify(on(transport), data, limit_s=30)
    with pytest.raises(errors.DriverError, match="qemu-img snapshot -a failed"):
        await recipe.rollback(on(transport), data, step="apply", limit_s=30)
