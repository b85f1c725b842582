"""Retention deletes restore points on hosts for real: qcow2, directory copies, btrfs, via the
host driver with the local transport (the same shell a remote host runs).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import driving, registry
from rollsafe.execute.drivers import host


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _driver(tmp_path: Path, recipe: dict[str, Any]) -> host.HostDriver:
    config = models.HostDriver.model_validate(
        {"kind": "host", "name": "h", "recipe": recipe, "step_timeout": 60}
    )
    driver = registry.build(config, tmp_path / "state")
    assert isinstance(driver, host.HostDriver)
    assert driving.deleter(driver) is driver
    return driver


def _snapshots(image: Path) -> str:
    return _run("qemu-img", "snapshot", "-l", str(image)).stdout


@pytest.mark.requires("qemu-img", "qemu-io")
async def test_qcow2_snapshot_deleted_once_and_refused_while_the_vm_runs(tmp_path: Path) -> None:
    image = tmp_path / "vm.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "4M"], check=True)
    driver = _driver(tmp_path, {"kind": "qcow2", "image": str(image)})
    target = models.Target(id="vm-1")
    old = await driver.checkpoint(target, point_id="rp-old")
    new = await driver.checkpoint(target, point_id="rp-new")
    assert "rollsafe-rp-old" in _snapshots(image)

    # A "running VM" (qemu-io holding the image lock): the snapshot is kept, retry later.
    vm = subprocess.Popen(
        ["qemu-io", "-f", "qcow2", str(image)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert vm.stdout is not None
        assert vm.stdout.read(len("qemu-io>")) == b"qemu-io>"
        with pytest.raises(errors.DriverTemporaryError, match="in use"):
            await driver.delete(target, old)
    finally:
        vm.kill()
        vm.communicate()  # reaps it and closes its pipes
    assert "rollsafe-rp-old" in _snapshots(image)

    assert await driver.delete(target, old) == f"deleted snapshot rollsafe-rp-old from {image}"
    listing = _snapshots(image)
    assert "rollsafe-rp-old" not in listing
    assert "rollsafe-rp-new" in listing
    assert "already gone" in await driver.delete(target, old)
    await driver.precheck(target, new)  # the kept point is still usable
    assert _run("qemu-img", "check", str(image)).returncode == 0


async def test_directory_copy_removed_and_a_repeat_is_fine(tmp_path: Path) -> None:
    live = tmp_path / "srv" / "app"
    live.mkdir(parents=True)
    (live / "conf").write_text("v1\n")
    driver = _driver(tmp_path, {"kind": "directory", "path": str(live)})
    target = models.Target(id="app-1")
    old = await driver.checkpoint(target, point_id="rp-1")
    new = await driver.checkpoint(target, point_id="rp-2")
    snapshots = tmp_path / "srv" / "app.rollsafe-snapshots"
    assert {p.name for p in snapshots.iterdir()} == {"rp-1", "rp-2"}

    assert await driver.delete(target, old) == f"removed {snapshots / 'rp-1'}"
    assert {p.name for p in snapshots.iterdir()} == {"rp-2"}
    assert "already gone" in await driver.delete(target, old)
    await driver.precheck(target, new)


async def test_a_point_of_another_target_is_refused(tmp_path: Path) -> None:
    live = tmp_path / "srv" / "app"
    live.mkdir(parents=True)
    driver = _driver(tmp_path, {"kind": "directory", "path": str(live)})
    point = await driver.checkpoint(models.Target(id="app-1"), point_id="rp-1")
    with pytest.raises(errors.DriverError, match="belongs to target app-1"):
        await driver.delete(models.Target(id="app-2"), point)
    assert (tmp_path / "srv" / "app.rollsafe-snapshots" / "rp-1").is_dir()


async def test_a_recipe_with_nothing_on_disk_says_so(tmp_path: Path) -> None:
    driver = _driver(tmp_path, {"kind": "script", "rollback": "true"})
    target = models.Target(id="web1")
    point = await driver.checkpoint(target, point_id="rp-9")
    assert "keeps nothing on the host" in await driver.delete(target, point)


@pytest.fixture
def btrfs(tmp_path: Path) -> Iterator[Path]:
    image = tmp_path / "btrfs.img"
    with image.open("wb") as f:
        f.truncate(256 * 1024 * 1024)
    made = _run("mkfs.btrfs", "-q", str(image))
    if made.returncode != 0:
        pytest.fail(f"mkfs.btrfs failed: {made.stderr.strip()}")
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    mounted = _run("mount", "-o", "loop", str(image), str(mount_point))
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a btrfs loop device here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        _run("umount", str(mount_point))


@pytest.mark.requires("root", "mkfs.btrfs")
async def test_btrfs_snapshot_subvolume_deleted(btrfs: Path, tmp_path: Path) -> None:
    subvolume = btrfs / "data"
    assert _run("btrfs", "subvolume", "create", str(subvolume)).returncode == 0
    (subvolume / "file").write_bytes(os.urandom(1024))
    driver = _driver(
        tmp_path,
        {"kind": "btrfs", "subvolume": str(subvolume), "snapshots": str(btrfs / "snaps")},
    )
    target = models.Target(id="db1")
    old = await driver.checkpoint(target, point_id="rp-a")
    new = await driver.checkpoint(target, point_id="rp-b")

    def subvolumes() -> set[str]:
        out = _run("btrfs", "subvolume", "list", str(btrfs)).stdout
        return {line.rsplit(" ", 1)[-1] for line in out.splitlines()}

    assert {"snaps/rollsafe-rp-a", "snaps/rollsafe-rp-b"} <= subvolumes()
    assert "deleted subvolume" in await driver.delete(target, old)
    assert "snaps/rollsafe-rp-a" not in subvolumes()
    assert "already gone" in await driver.delete(target, old)
    await driver.precheck(target, new)

    # A path reused by another subvolume (other UUID) is never deleted in our name.
    assert (
        _run("btrfs", "subvolume", "create", str(btrfs / "snaps" / "rollsafe-rp-a")).returncode == 0
    )
    with pytest.raises(errors.DriverError, match="UUID changed"):
        await driver.delete(target, old)
    assert "snaps/rollsafe-rp-a" in subvolumes()
