"""The snapper recipe in ``undochange`` mode with the real snapper, through the local transport.

A fresh btrfs file system on a loop device of its own stands for the host's root; a snapper
config made for it (``--no-dbus``: there is no snapperd here) is the recipe's ``config``.
Needs root, snapper and mkfs.btrfs (Debian packages ``snapper``, ``btrfs-progs``; .ci/run
installs them): a machine without them fails these tests rather than skipping them.

Only what the fixture made is undone afterwards: its own snapper config, mount point and
loop device (never ``losetup -D``: other tests may hold loop devices at the same time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import recipes, snapper
from rollsafe.reach.transports import local, transporting

TARGET = models.Target(id="snapper-host")


def on(transport: transporting.Transport) -> recipes.Host:
    """``TARGET`` reached through ``transport``."""
    return recipes.Host(transport, TARGET)


LIMIT_S = 60.0


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)


def _must(*argv: str) -> str:
    done = _run(*argv)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class SnapperVolume:
    root: Path  # the mounted btrfs file system
    config: str  # the snapper config made for it


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[SnapperVolume]:
    if os.geteuid() != 0:
        pytest.fail("the real snapper test needs root (a loop device, mount, snapper --no-dbus)")
    for tool, package in (
        ("snapper", "snapper"),
        ("mkfs.btrfs", "btrfs-progs"),
        ("losetup", "mount"),
        ("mount", "mount"),
        ("umount", "mount"),
    ):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: apt-get install {package} (.ci/run does)")
    image = tmp_path / "btrfs.img"
    with image.open("wb") as f:
        f.truncate(256 * 1024 * 1024)
    _must("mkfs.btrfs", "-q", str(image))
    root = tmp_path / "mnt"
    root.mkdir()
    config = f"rollsafe-test-{uuid.uuid4().hex[:10]}"
    loop_device: str | None = None
    mounted = made = False
    try:
        # Our own loop device, by name, so the clean-up detaches exactly this one.
        loop_device = _must("losetup", "--find", "--show", str(image)).strip()
        _must("mount", loop_device, str(root))
        mounted = True
        _must("snapper", "--no-dbus", "-c", config, "create-config", str(root))
        made = True
        yield SnapperVolume(root=root, config=config)
    finally:
        if made:
            _run("snapper", "--no-dbus", "-c", config, "delete-config")
        if mounted:
            _run("umount", str(root))
        if loop_device:
            _run("losetup", "-d", loop_device)


def tree(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry under ``root`` but snapper's own ``.snapshots``: kind, mode and content."""
    found: dict[str, tuple[str, int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".snapshots":
            continue
        mode = path.lstat().st_mode & 0o7777
        if path.is_dir():
            found[str(rel)] = ("dir", mode, b"")
        else:
            found[str(rel)] = ("file", mode, path.read_bytes())
    return found


def recipe(volume: SnapperVolume) -> snapper.SnapperRecipe:
    config = models.SnapperRecipe(kind="snapper", config=volume.config, no_dbus=True)
    return snapper.make(config, poll_interval=0.05)


def populate(root: Path) -> None:
    (root / "etc" / "app").mkdir(parents=True)
    (root / "etc" / "app" / "app.conf").write_text("workers = 4\n")
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "usr" / "lib" / "libfoo.so.1").write_bytes(os.urandom(64 * 1024))
    (root / "usr" / "lib" / "libfoo.so.1").chmod(0o755)


def upgrade(root: Path) -> None:
    """What a bad upgrade does: one file changed, one added, one removed."""
    (root / "etc" / "app" / "app.conf").write_text("workers = 0\n")
    (root / "usr" / "lib" / "libfoo.so.2").write_bytes(b"new library")
    (root / "usr" / "lib" / "libfoo.so.1").unlink()


async def test_undochange_restores_the_file_tree_exactly(volume: SnapperVolume) -> None:
    populate(volume.root)
    before = tree(volume.root)
    r = recipe(volume)
    transport = local.LocalTransport()

    data = await r.checkpoint(on(transport), point_id="rp-real1", limit_s=LIMIT_S)
    number = data["number"]
    assert data == {
        "config": volume.config,
        "number": number,
        "mode": "undochange",
        "point_id": "rp-real1",
    }
    assert isinstance(number, int)
    assert number >= 1
    # A repeated checkpoint (controller restarted) finds that snapshot instead of a new one.
    again = await r.checkpoint(on(transport), point_id="rp-real1", limit_s=LIMIT_S)
    assert again["number"] == number

    upgrade(volume.root)
    assert tree(volume.root) != before
    await r.precheck(on(transport), data, limit_s=LIMIT_S)
    with pytest.raises(errors.VerificationFailed, match=r"app\.conf"):
        await r.verify(on(transport), data, limit_s=LIMIT_S)

    steps = r.rollback_steps(data)
    assert steps == ["undo"]
    for step in steps:
        text = await r.rollback(on(transport), data, step=step, limit_s=LIMIT_S)
        assert text == f"undid the changes made since snapshot {number}"

    after = tree(volume.root)
    assert after == before
    assert (volume.root / "etc" / "app" / "app.conf").read_text() == "workers = 4\n"
    assert not (volume.root / "usr" / "lib" / "libfoo.so.2").exists()
    assert (volume.root / "usr" / "lib" / "libfoo.so.1").exists()
    verified = await r.verify(on(transport), data, limit_s=LIMIT_S)
    assert verified == f"no file differs from snapshot {number}"

    # The same step again (the controller died after it): nothing left to undo.
    for step in steps:
        text = await r.rollback(on(transport), data, step=step, limit_s=LIMIT_S)
        assert text == f"nothing changed since snapshot {number}: already undone"
    assert tree(volume.root) == before
    await r.verify(on(transport), data, limit_s=LIMIT_S)


async def test_precheck_fails_once_the_snapshot_is_gone(volume: SnapperVolume) -> None:
    populate(volume.root)
    r = recipe(volume)
    transport = local.LocalTransport()
    data = await r.checkpoint(on(transport), point_id="rp-real2", limit_s=LIMIT_S)
    await r.precheck(on(transport), data, limit_s=LIMIT_S)

    _must("snapper", "--no-dbus", "-c", volume.config, "delete", str(data["number"]))

    with pytest.raises(errors.PrecheckFailed, match=f"snapshot {data['number']} .* no longer"):
        await r.precheck(on(transport), data, limit_s=LIMIT_S)


async def test_retention_deletes_only_the_snapshot_it_made(volume: SnapperVolume) -> None:
    populate(volume.root)
    r = recipe(volume)
    transport = local.LocalTransport()
    old = await r.checkpoint(on(transport), point_id="rp-old", limit_s=LIMIT_S)
    new = await r.checkpoint(on(transport), point_id="rp-new", limit_s=LIMIT_S)

    def numbers() -> set[int]:
        listed = _must("snapper", "--no-dbus", "-c", volume.config, "--csvout", "list")
        return {int(line.split(",")[2]) for line in listed.splitlines()[1:] if line}

    assert {old["number"], new["number"]} <= numbers()
    said = await r.delete(on(transport), old, limit_s=LIMIT_S)
    assert said == f"deleted snapper snapshot {old['number']}"
    assert old["number"] not in numbers()
    assert new["number"] in numbers()
    assert "already gone" in await r.delete(on(transport), old, limit_s=LIMIT_S)
    # A number that now belongs to another snapshot is left alone.
    stranger = {**new, "point_id": "rp-someone-else"}
    assert "left alone" in await r.delete(on(transport), stranger, limit_s=LIMIT_S)
    assert new["number"] in numbers()
    await r.precheck(on(transport), new, limit_s=LIMIT_S)
