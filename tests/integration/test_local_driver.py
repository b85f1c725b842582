"""The local driver end to end on real files: checkpoint, damage, roll back, prove identity."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.execute import registry
from rollsafe.execute.drivers import directories, local

KEY = "run-1:restore-directory"


def make_tree(root: Path) -> None:
    """A small application directory with every kind of entry a restore must get right."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "app.conf").write_text("listen = 8080\nworkers = 4\n")
    (root / "bin").mkdir()
    (root / "bin" / "app").write_bytes(b"#!/bin/sh\necho v1\n")
    (root / "bin" / "app").chmod(0o755)
    (root / "data").mkdir()
    (root / "data" / "blob.bin").write_bytes(bytes(range(256)) * 64)
    (root / "data" / "doomed.txt").write_text("deleted by the upgrade\n")
    (root / "empty").mkdir()
    (root / "secret").write_text("only for the owner\n")
    (root / "secret").chmod(0o600)
    (root / "current").symlink_to("bin/app")
    (root / "dangling").symlink_to("nowhere/at/all")
    (root / "readonly").mkdir()
    (root / "readonly" / "fixed.txt").write_text("fixed\n")
    (root / "readonly").chmod(0o555)


def upgrade_damage(root: Path) -> None:
    """Everything an upgrade may do to a directory."""
    (root / "etc" / "app.conf").write_text("listen = 9090\n")  # edit
    (root / "data" / "doomed.txt").unlink()  # delete
    (root / "data" / "new.txt").write_text("added by the upgrade\n")  # add
    (root / "bin" / "app").chmod(0o700)  # mode
    (root / "current").unlink()
    (root / "current").symlink_to("bin/app-v2")  # symlink target
    (root / "added-empty-dir").mkdir()  # empty dir
    shutil.rmtree(root / "empty")  # empty dir removed
    (root / "readonly").chmod(0o755)
    (root / "readonly" / "extra").mkdir()


def mtimes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.lstat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def target(tmp_path: Path) -> models.Target:
    return models.Target(id="web1", vars={"root": str(tmp_path / "srv")})


@pytest.fixture
def live(tmp_path: Path, target: models.Target) -> Iterator[Path]:
    path = tmp_path / "srv" / target.id
    make_tree(path)
    yield path
    # Let pytest clean up read-only directories however the test left them.
    for directory, _dirs, _files in os.walk(tmp_path):
        Path(directory).chmod(0o755)


@pytest.fixture
def driver(tmp_path: Path) -> local.LocalDriver:
    config = models.LocalDriver(kind="local", name="files", directory="{root}/{id}")
    built = registry.build(config, tmp_path / "state")
    assert isinstance(built, local.LocalDriver)
    return built


def restores_log(driver: local.LocalDriver) -> list[dict]:
    path = driver.state_dir / "driver-journal" / local.RESTORES_LOG
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_checkpoint_records_the_tree_and_seals_it(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1", label="before 2.0")

    assert point.id == "rp-1"
    assert point.target == "web1"
    assert point.driver == "files"
    assert point.label == "before 2.0"
    assert point.data["directory"] == str(live)
    copy = Path(point.data["copy"])
    assert copy == driver.state_dir / "restore-points" / "web1" / "rp-1" / "tree"
    assert (copy.parent / "complete").is_file()
    assert directories.scan(copy) == directories.scan(live)
    assert mtimes(copy) == mtimes(live)
    assert (copy / "current").readlink() == Path("bin/app")
    assert point.data["files"] == 6
    assert point.data["bytes"] == sum(
        p.stat().st_size for p in live.rglob("*") if p.is_file() and not p.is_symlink()
    )
    manifest = json.loads((copy.parent / "manifest.json").read_text())
    assert manifest["entries"]["secret"]["mode"] == 0o600
    assert manifest["entries"]["dangling"] == {"type": "symlink", "target": "nowhere/at/all"}
    assert manifest["entries"]["empty"] == {"type": "dir", "mode": 0o755}
    status = await driver.status(target)
    assert status == {
        "restore_points_dir": str(driver.state_dir / "restore-points" / "web1"),
        "directory": str(live),
        "exists": True,
        "restore_points": ["rp-1"],
    }


async def test_rollback_makes_the_live_tree_identical_to_the_checkpoint(driver, target, live):
    before = directories.scan(live)
    before_mtimes = mtimes(live)
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.precheck(target, point)
    upgrade_damage(live)
    assert directories.diff(before, directories.scan(live))

    assert driver.rollback_steps(target, point) == ["restore-directory"]
    output = await driver.rollback(target, point, step="restore-directory", key=KEY)

    assert "restored" in output
    assert directories.diff(before, directories.scan(live)) == []
    assert mtimes(live) == before_mtimes
    assert (live / "etc" / "app.conf").read_text() == "listen = 8080\nworkers = 4\n"
    assert (live / "current").readlink() == Path("bin/app")
    assert not any(p.name.startswith(".rollsafe-") for p in live.parent.iterdir())
    [line] = restores_log(driver)
    assert line["target"] == "web1"
    assert line["point"] == "rp-1"
    assert line["key"] == KEY
    # The restore point itself is untouched and still usable for another rollback.
    await driver.precheck(target, point)


async def test_a_second_call_with_the_same_key_is_a_no_op(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    upgrade_damage(live)
    first = await driver.rollback(target, point, step="restore-directory", key=KEY)
    (live / "written-after-the-restore").write_text("the restarted service wrote this\n")

    second = await driver.rollback(target, point, step="restore-directory", key=KEY)

    assert second == first
    assert (live / "written-after-the-restore").exists()  # nothing was redone
    assert len(restores_log(driver)) == 1
    # A new key is a new restore.
    await driver.rollback(target, point, step="restore-directory", key="run-2:restore")
    assert not (live / "written-after-the-restore").exists()
    assert [e["key"] for e in restores_log(driver)] == [KEY, "run-2:restore"]


def copy_tree(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


async def test_interruption_between_the_two_renames_is_completed(driver, target, live):
    before = directories.scan(live)
    point = await driver.checkpoint(target, point_id="rp-1")
    upgrade_damage(live)
    # The state a crash leaves after `live -> old` and before `staging -> live`.
    paths = directories.swap_paths(live, local.step_slug(KEY))
    copy_tree(Path(point.data["copy"]), paths.staging)
    live.rename(paths.old)

    await driver.rollback(target, point, step="restore-directory", key=KEY)

    assert directories.diff(before, directories.scan(live)) == []
    assert not os.path.lexists(paths.old)
    assert not os.path.lexists(paths.staging)
    assert len(restores_log(driver)) == 1


async def test_interruption_with_a_damaged_staging_tree_rebuilds_it(driver, target, live):
    before = directories.scan(live)
    point = await driver.checkpoint(target, point_id="rp-1")
    paths = directories.swap_paths(live, local.step_slug(KEY))
    copy_tree(Path(point.data["copy"]), paths.staging)
    (paths.staging / "etc" / "app.conf").write_text("torn write\n")
    live.rename(paths.old)

    await driver.rollback(target, point, step="restore-directory", key=KEY)

    assert directories.diff(before, directories.scan(live)) == []
    assert not os.path.lexists(paths.staging)


async def test_interruption_after_both_renames_only_cleans_up(driver, target, live):
    before = directories.scan(live)
    point = await driver.checkpoint(target, point_id="rp-1")
    upgrade_damage(live)
    paths = directories.swap_paths(live, local.step_slug(KEY))
    live.rename(paths.old)
    copy_tree(Path(point.data["copy"]), live)

    await driver.rollback(target, point, step="restore-directory", key=KEY)

    assert directories.diff(before, directories.scan(live)) == []
    assert not os.path.lexists(paths.old)
    assert len(restores_log(driver)) == 1


async def test_interruption_before_the_first_rename_completes_the_swap(driver, target, live):
    before = directories.scan(live)
    point = await driver.checkpoint(target, point_id="rp-1")
    upgrade_damage(live)
    paths = directories.swap_paths(live, local.step_slug(KEY))
    copy_tree(Path(point.data["copy"]), paths.build)  # a half-built tree from a crash
    (paths.build / "data" / "blob.bin").write_bytes(b"half")

    await driver.rollback(target, point, step="restore-directory", key=KEY)

    assert directories.diff(before, directories.scan(live)) == []
    assert not os.path.lexists(paths.build)
    assert not os.path.lexists(paths.old)


async def test_interruption_after_the_swap_before_the_journal_does_not_redo_it(
    driver, target, live
):
    point = await driver.checkpoint(target, point_id="rp-1")
    upgrade_damage(live)
    await driver.rollback(target, point, step="restore-directory", key=KEY)
    # Forget the journal entry and the log line, keep the swap marker: the state of a crash
    # right after the old tree was removed.
    journal = driver.state_dir / "driver-journal"
    slug = local.step_slug(KEY)
    (journal / f"{slug}.done").unlink()
    (journal / local.RESTORES_LOG).unlink()
    (journal / f"{slug}.swap").write_text("{}")
    (live / "written-after-the-restore").write_text("must survive\n")

    await driver.rollback(target, point, step="restore-directory", key=KEY)

    assert (live / "written-after-the-restore").exists()
    assert len(restores_log(driver)) == 1


async def test_a_lost_log_line_is_written_once_on_the_next_call(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.rollback(target, point, step="restore-directory", key=KEY)
    log = driver.state_dir / "driver-journal" / local.RESTORES_LOG
    log.write_text('{"key": "earlier", "torn')  # a torn append, then a crash

    await driver.rollback(target, point, step="restore-directory", key=KEY)
    await driver.rollback(target, point, step="restore-directory", key=KEY)

    lines = log.read_text().splitlines()
    assert lines[0] == '{"key": "earlier", "torn'
    assert [json.loads(line)["key"] for line in lines[1:]] == [KEY]


async def test_restores_a_directory_the_upgrade_removed(driver, target, live):
    before = directories.scan(live)
    point = await driver.checkpoint(target, point_id="rp-1")
    directories.remove_tree(live)

    await driver.rollback(target, point, step="restore-directory", key=KEY)

    assert directories.diff(before, directories.scan(live)) == []


async def test_steps_run_in_order_with_commands(tmp_path, target, live):
    marker = tmp_path / "steps.txt"
    config = models.LocalDriver(
        kind="local",
        name="files",
        directory="{root}/{id}",
        rollback=["sh", "-c", f"echo rollback >> {marker}"],
        restart=["sh", "-c", f"echo restart >> {marker}; echo restarted {{id}}"],
    )
    driver = local.LocalDriver(config, tmp_path / "state")
    point = await driver.checkpoint(target, point_id="rp-1")
    steps = driver.rollback_steps(target, point)
    assert steps == ["restore-directory", "run-rollback-command", "restart"]

    outputs = [await driver.rollback(target, point, step=s, key=f"run-1:{s}") for s in steps]
    outputs += [await driver.rollback(target, point, step=s, key=f"run-1:{s}") for s in steps]

    assert marker.read_text() == "rollback\nrestart\n"
    assert outputs[2] == outputs[5] == "restarted web1"


async def test_a_large_tree_round_trips(driver, target, tmp_path):
    live = tmp_path / "srv" / target.id
    for d in range(40):
        sub = live / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(50):
            (sub / f"f{f:02}.txt").write_text(f"{d}/{f}\n" * (f + 1))
    before = directories.scan(live)
    point = await driver.checkpoint(target, point_id="rp-big")
    assert point.data["files"] == 2000
    await driver.precheck(target, point)
    for d in range(0, 40, 3):
        (live / f"d{d:02}" / "f07.txt").write_text("changed\n")
        (live / f"d{d:02}" / "f08.txt").unlink()
    shutil.rmtree(live / "d39")

    await driver.rollback(target, point, step="restore-directory", key=KEY)

    assert directories.diff(before, directories.scan(live)) == []
