"""The local driver's precheck refuses every unusable restore point, with a precise reason."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.drivers import local


@pytest.fixture
def target(tmp_path: Path) -> models.Target:
    return models.Target(id="web1", vars={"root": str(tmp_path / "srv")})


@pytest.fixture
def live(tmp_path: Path, target: models.Target) -> Path:
    path = tmp_path / "srv" / target.id
    (path / "conf").mkdir(parents=True)
    (path / "conf" / "app.conf").write_text("version = 1\n")
    (path / "payload.bin").write_bytes(b"\x00\x01\x02" * 1000)
    (path / "link").symlink_to("conf/app.conf")
    return path


def make_driver(tmp_path: Path, **overrides) -> local.LocalDriver:
    fields = {"kind": "local", "name": "files", "directory": "{root}/{id}", **overrides}
    return local.LocalDriver(models.LocalDriver(**fields), tmp_path / "state")


@pytest.fixture
def driver(tmp_path: Path) -> local.LocalDriver:
    return make_driver(tmp_path)


async def test_a_good_point_passes(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    await driver.precheck(target, point)


async def test_another_targets_point_is_refused(driver, target, live, tmp_path):
    other = models.Target(id="web2", vars={"root": str(tmp_path / "srv")})
    point = await driver.checkpoint(target, point_id="rp-1")

    with pytest.raises(errors.PrecheckFailed, match="belongs to target web1, not web2"):
        await driver.precheck(other, point)


async def test_another_drivers_point_is_refused(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    foreign = dataclasses.replace(point, driver="other")

    with pytest.raises(errors.PrecheckFailed, match="taken by driver other"):
        await driver.precheck(target, foreign)


async def test_a_point_without_complete_marker_is_refused(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    (Path(point.data["copy"]).parent / "complete").unlink()

    with pytest.raises(errors.PrecheckFailed, match="incomplete"):
        await driver.precheck(target, point)


async def test_one_corrupted_byte_in_the_copy_is_found(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    victim = Path(point.data["copy"]) / "payload.bin"
    data = bytearray(victim.read_bytes())
    data[1234] ^= 0x01
    victim.write_bytes(bytes(data))

    with pytest.raises(errors.PrecheckFailed, match=r"payload.bin: expected file") as caught:
        await driver.precheck(target, point)
    assert "1 differences" in str(caught.value)


async def test_missing_and_extra_files_in_the_copy_are_found(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    copy = Path(point.data["copy"])
    (copy / "conf" / "app.conf").unlink()
    (copy / "intruder").write_text("x")

    with pytest.raises(errors.PrecheckFailed) as caught:
        await driver.precheck(target, point)
    assert "missing conf/app.conf" in str(caught.value)
    assert "unexpected intruder" in str(caught.value)


async def test_a_changed_mode_in_the_copy_is_found(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    (Path(point.data["copy"]) / "payload.bin").chmod(0o777)

    with pytest.raises(errors.PrecheckFailed, match=r"payload.bin"):
        await driver.precheck(target, point)


async def test_a_tampered_manifest_is_refused(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    manifest_path = Path(point.data["copy"]).parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["entries"]["payload.bin"]["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest, sort_keys=True))

    with pytest.raises(errors.PrecheckFailed, match=r"manifest .* was altered"):
        await driver.precheck(target, point)


async def test_a_missing_copy_is_refused(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    copy = Path(point.data["copy"])
    copy.rename(copy.with_name("moved"))

    with pytest.raises(errors.PrecheckFailed, match=r"copy .* is missing"):
        await driver.precheck(target, point)


async def test_a_copy_outside_the_state_directory_is_refused(driver, target, live, tmp_path):
    point = await driver.checkpoint(target, point_id="rp-1")
    elsewhere = dataclasses.replace(point, data={**point.data, "copy": str(tmp_path / "x")})

    with pytest.raises(errors.PrecheckFailed, match="names its copy"):
        await driver.precheck(target, elsewhere)


async def test_a_point_of_another_directory_is_refused(driver, target, live, tmp_path):
    point = await driver.checkpoint(target, point_id="rp-1")
    moved = make_driver(tmp_path, directory="{root}/{id}-v2")

    with pytest.raises(errors.PrecheckFailed, match=r"now manages .*web1-v2"):
        await moved.precheck(target, point)


async def test_a_live_symlink_is_refused(driver, target, live, tmp_path):
    point = await driver.checkpoint(target, point_id="rp-1")
    live.rename(tmp_path / "real")
    live.symlink_to(tmp_path / "real")

    with pytest.raises(errors.PrecheckFailed, match="is a symlink"):
        await driver.precheck(target, point)


async def test_a_missing_parent_is_refused(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    live.parent.rename(live.parent.with_name("gone"))

    with pytest.raises(errors.PrecheckFailed, match="is missing"):
        await driver.precheck(target, point)


@pytest.mark.may_skip  # root may write anywhere: the refusal is only observable as non-root
async def test_a_read_only_parent_is_refused(driver, target, live):
    point = await driver.checkpoint(target, point_id="rp-1")
    live.parent.chmod(0o555)
    try:
        if os.access(live.parent, os.W_OK):
            pytest.skip("this process may write to read-only directories (root)")
        with pytest.raises(errors.PrecheckFailed, match="not writable"):
            await driver.precheck(target, point)
    finally:
        live.parent.chmod(0o755)


async def test_a_command_only_point_needs_the_rollback_executable(tmp_path, target):
    ok = make_driver(tmp_path, directory=None, rollback="sh -c 'exit 0'")
    point = await ok.checkpoint(target, point_id="rp-1")
    await ok.precheck(target, point)
    assert ok.rollback_steps(target, point) == ["run-rollback-command"]

    missing = make_driver(tmp_path, directory=None, rollback="/opt/nowhere/bin/undo {id}")
    with pytest.raises(errors.PrecheckFailed, match="'/opt/nowhere/bin/undo' was not found"):
        await missing.precheck(target, point)

    off_path = make_driver(tmp_path, directory=None, rollback="no-such-tool-on-path")
    with pytest.raises(errors.PrecheckFailed, match="no-such-tool-on-path"):
        await off_path.precheck(target, point)


async def test_a_restart_command_that_cannot_be_found_fails_precheck(tmp_path, target, live):
    driver = make_driver(tmp_path, restart=["restart-{id}-nowhere"])
    point = await driver.checkpoint(target, point_id="rp-1")

    with pytest.raises(errors.PrecheckFailed, match="restart command's executable 'restart-web1"):
        await driver.precheck(target, point)


async def test_a_command_only_point_does_not_fit_a_directory_driver(tmp_path, target, live):
    command_only = make_driver(tmp_path, directory=None, rollback="true")
    point = await command_only.checkpoint(target, point_id="rp-1")

    with pytest.raises(errors.PrecheckFailed, match="holds no copy of a directory"):
        await make_driver(tmp_path).precheck(target, point)
