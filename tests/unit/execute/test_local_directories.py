"""Directory restore points: what is captured, what is refused, and a restore that never lies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.drivers import directories, local


def make_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "deeper" / "leaf.txt").write_text("leaf\n")
    (root / "exec.sh").write_text("#!/bin/sh\n")
    (root / "exec.sh").chmod(0o4755)
    (root / "link").symlink_to("../outside")
    (root / "empty").mkdir(mode=0o700)
    (root / "empty").chmod(0o700)
    (root / "bytes.bin").write_bytes(os.urandom(100_000))
    (root / "name with spaces and ü").write_text("unicode\n")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    make_tree(root)
    return root


@pytest.fixture
def target(tmp_path: Path) -> models.Target:
    return models.Target(id="db1", vars={"root": str(tmp_path)})


def make_driver(tmp_path: Path) -> local.LocalDriver:
    config = models.LocalDriver(kind="local", name="files", directory="{root}/{id}")
    return local.LocalDriver(config, tmp_path / "state")


def test_scan_describes_every_entry(tree):
    manifest = directories.scan(tree)

    assert manifest["."] == directories.Entry(type="dir", mode=0o755)
    assert manifest["exec.sh"].mode == 0o4755
    assert manifest["link"] == directories.Entry(type="symlink", target="../outside")
    assert manifest["empty"] == directories.Entry(type="dir", mode=0o700)
    assert manifest["sub/deeper/leaf.txt"].size == 5
    assert manifest["bytes.bin"].sha256 == directories.file_sha256(tree / "bytes.bin")
    assert "name with spaces and ü" in manifest


def test_manifest_bytes_round_trip_through_json(tree):
    manifest = directories.scan(tree)
    raw = json.loads(directories.manifest_bytes(manifest))

    assert raw["version"] == 1
    assert {rel: directories.Entry.from_json(e) for rel, e in raw["entries"].items()} == manifest


def test_diff_names_each_difference(tree):
    before = directories.scan(tree)
    (tree / "sub" / "deeper" / "leaf.txt").unlink()
    (tree / "new").write_text("n")
    (tree / "exec.sh").chmod(0o755)

    problems = directories.diff(before, directories.scan(tree))

    assert problems == [
        "exec.sh: expected file mode 4755 size 10 sha256 "
        + before["exec.sh"].sha256[:12]
        + ", found file mode 755 size 10 sha256 "
        + before["exec.sh"].sha256[:12],
        "unexpected new",
        "missing sub/deeper/leaf.txt",
    ]


def test_the_portable_copy_keeps_the_same_manifest(tree, tmp_path):
    directories.python_copy_tree(tree, tmp_path / "copy")

    assert directories.diff(directories.scan(tree), directories.scan(tmp_path / "copy")) == []


def test_take_seals_the_point_last_and_retaking_replaces_it(tree, tmp_path):
    point_dir = tmp_path / "point"
    first = directories.take(tree, point_dir)
    (tree / "later.txt").write_text("after the first point")

    second = directories.take(tree, point_dir)

    assert first.manifest_sha256 != second.manifest_sha256
    assert (second.copy / "later.txt").exists()
    marker = json.loads((point_dir / "complete").read_text())
    assert marker["manifest_sha256"] == second.manifest_sha256
    assert directories.verify_point(point_dir, manifest_sha256=second.manifest_sha256)
    with pytest.raises(errors.PrecheckFailed, match="altered"):
        directories.verify_point(point_dir, manifest_sha256=first.manifest_sha256)


async def test_checkpoint_refuses_a_missing_directory(tmp_path, target):
    with pytest.raises(errors.DriverError, match="does not exist"):
        await make_driver(tmp_path).checkpoint(target, point_id="rp-1")


async def test_checkpoint_refuses_a_file_and_a_symlink(tmp_path, target):
    driver = make_driver(tmp_path)
    (tmp_path / "db1").write_text("not a directory")
    with pytest.raises(errors.DriverError, match="is not a directory"):
        await driver.checkpoint(target, point_id="rp-1")

    (tmp_path / "db1").unlink()
    (tmp_path / "real").mkdir()
    (tmp_path / "db1").symlink_to(tmp_path / "real")
    with pytest.raises(errors.DriverError, match="is a symlink"):
        await driver.checkpoint(target, point_id="rp-1")


async def test_checkpoint_refuses_special_files(tmp_path, target):
    (tmp_path / "db1").mkdir()
    os.mkfifo(tmp_path / "db1" / "pipe")

    driver = make_driver(tmp_path)
    with pytest.raises(errors.DriverError, match=r"not files, directories or symlinks .*: pipe"):
        await driver.checkpoint(target, point_id="rp-1")
    assert not (driver.state_dir / "restore-points" / "db1" / "rp-1").exists()


@pytest.mark.parametrize("point_id", ["../escape", "a/b", "", ".hidden", "x" * 200])
async def test_checkpoint_refuses_point_ids_that_are_not_names(tmp_path, target, point_id):
    (tmp_path / "db1").mkdir()

    with pytest.raises(errors.DriverError, match="not usable as a directory name"):
        await make_driver(tmp_path).checkpoint(target, point_id=point_id)


async def test_a_copy_corrupted_after_precheck_is_never_swapped_in(tmp_path, target):
    live = tmp_path / "db1"
    make_tree(live)
    driver = make_driver(tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.precheck(target, point)
    (live / "upgraded.txt").write_text("v2")
    upgraded = directories.scan(live)
    (Path(point.data["copy"]) / "bytes.bin").write_bytes(b"bit rot")

    with pytest.raises(errors.DriverError, match="does not match the manifest"):
        await driver.rollback(target, point, step="restore-directory", key="k")

    assert directories.scan(live) == upgraded
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".rollsafe")) == []
    assert not (driver.state_dir / "driver-journal" / local.RESTORES_LOG).exists()


async def test_rollback_refuses_an_incomplete_point(tmp_path, target):
    live = tmp_path / "db1"
    make_tree(live)
    driver = make_driver(tmp_path)
    point = await driver.checkpoint(target, point_id="rp-1")
    (Path(point.data["copy"]).parent / "complete").unlink()

    with pytest.raises(errors.PrecheckFailed, match="incomplete"):
        await driver.rollback(target, point, step="restore-directory", key="k")


def test_step_slugs_are_safe_and_distinct():
    slugs = {local.step_slug(k) for k in ("run/1:a", "run_1_a", "run 1 a", "../../etc")}

    assert len(slugs) == 4
    assert all("/" not in s and " " not in s for s in slugs)
