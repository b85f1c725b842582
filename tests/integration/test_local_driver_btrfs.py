"""On btrfs the local driver's copies are reflinks: instant and sharing the original's extents.

Needs root, mkfs.btrfs (Debian package ``btrfs-progs``), filefrag (``e2fsprogs``) and loop
devices; skipped with the reason when any is missing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.drivers import directories, local
from support import system_tools


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@pytest.fixture
def btrfs(tmp_path: Path) -> Iterator[Path]:
    system_tools.require("root", "mkfs.btrfs", "filefrag")
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


def shared_extents(path: Path) -> bool:
    out = _run("filefrag", "-v", str(path))
    assert out.returncode == 0, out.stderr
    return "shared" in out.stdout


async def test_copies_are_reflinks_and_restore_works(btrfs):
    live = btrfs / "srv" / "db1"
    live.mkdir(parents=True)
    (live / "big.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    (live / "small.txt").write_text("config\n")
    os.sync()  # give the original its extents before it is cloned
    before = directories.scan(live)
    config = models.LocalDriver(kind="local", name="files", directory=str(live))
    driver = local.LocalDriver(config, btrfs / "state")
    target = models.Target(id="db1")

    point = await driver.checkpoint(target, point_id="rp-1")

    copy = Path(point.data["copy"])
    assert shared_extents(copy / "big.bin")
    assert shared_extents(live / "big.bin")
    await driver.precheck(target, point)
    (live / "big.bin").write_bytes(b"upgraded")
    await driver.rollback(target, point, step="restore-directory", key="k")
    assert directories.diff(before, directories.scan(live)) == []
    assert shared_extents(live / "big.bin")  # the restore was cloned from the copy too


async def test_a_mount_point_is_refused(btrfs):
    config = models.LocalDriver(kind="local", name="files", directory=str(btrfs))
    driver = local.LocalDriver(config, btrfs.parent / "state")

    with pytest.raises(errors.DriverError, match="is a mount point"):
        await driver.checkpoint(models.Target(id="db1"), point_id="rp-1")
