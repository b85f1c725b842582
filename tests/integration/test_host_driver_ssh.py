"""The host driver over real SSH (network namespace hosts) with the btrfs and directory recipes.

The btrfs recipe runs on a real btrfs file system on a loop device, mounted before the sshd
servers start so that their sessions see it. Needs root, ip, openssh-server and btrfs-progs;
fails naming what is missing otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rollsafe.config import models
from rollsafe.domain import errors, restore_points
from rollsafe.execute import driving, registry
from rollsafe.execute.drivers import host as host_driver
from rollsafe.execute.recipes import recipes
from support import netns_hosts


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@dataclass
class Env:
    lab: netns_hosts.Lab
    btrfs: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    netns_hosts.require()
    for tool in ("mkfs.btrfs", "btrfs", "mount", "umount"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run scripts/install-system-deps as root")
    root = tmp_path_factory.mktemp("host-driver")
    image = root / "btrfs.img"
    with image.open("wb") as f:
        f.truncate(256 * 1024 * 1024)
    made = _run("mkfs.btrfs", "-q", str(image))
    if made.returncode != 0:
        pytest.fail(f"mkfs.btrfs failed: {made.stderr.strip()}")
    mount_point = root / "mnt"
    mount_point.mkdir()
    mounted = _run("mount", "-o", "loop", str(image), str(mount_point))
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a btrfs loop device here: {mounted.stderr.strip()}")
    try:
        with netns_hosts.hosts(root / "lab", 1) as lab:
            yield Env(lab=lab, btrfs=mount_point)
    finally:
        _run("umount", str(mount_point))


class Calls:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, operation: str, details: Any) -> None:
        self.items.append((operation, dict(details)))


@pytest.fixture
def calls() -> Iterator[Calls]:
    recorded = Calls()
    token = driving.recording_api_calls(recorded)
    yield recorded
    driving.reset_api_calls(token)


def _driver(
    where: Env, state: Path, recipe: dict[str, Any], **extra: Any
) -> host_driver.HostDriver:
    config = models.HostDriver.model_validate(
        {
            "kind": "host",
            "name": "hosts",
            "transport": where.lab.transport(),
            "recipe": recipe,
            "step_timeout": 30,
            **extra,
        }
    )
    driver = registry.build(config, state)
    assert isinstance(driver, host_driver.HostDriver)
    return driver


def _target(env: Env) -> models.Target:
    return models.Target(id="app1", address=env.lab.hosts[0].address)


def _uuid(path: Path, field: str = "UUID") -> str:
    shown = _run("btrfs", "subvolume", "show", str(path)).stdout
    for line in shown.splitlines():
        name, _, value = line.strip().partition(":")
        if name == field:
            return value.strip()
    raise AssertionError(f"no {field} in {shown}")


async def _roll_back(
    driver: host_driver.HostDriver,
    target: models.Target,
    point: restore_points.RestorePoint,
    run: str,
) -> list[str]:
    return [
        await driver.rollback(target, point, step=step, key=f"{run}:{step}")
        for step in driver.rollback_steps(target, point)
    ]


async def test_btrfs_checkpoint_upgrade_rollback_verify_over_ssh(env, tmp_path, calls):
    sub = env.btrfs / "app"
    snaps = env.btrfs / "snaps"
    assert _run("btrfs", "subvolume", "create", str(sub)).returncode == 0
    (sub / "version").write_text("v1\n")
    restarts = tmp_path / "restarts"
    driver = _driver(
        env,
        tmp_path / "state",
        {"kind": "btrfs", "subvolume": str(sub), "snapshots": str(snaps)},
        upgrade=f"echo v2 > {sub}/version",
        restart=f"echo restarted >> {restarts}",
        env={"DEPLOY_TOKEN": "hunter2-token"},
    )
    target = _target(env)
    try:
        point = await driver.checkpoint(target, point_id="rp-1")
        assert point.data["transport"] == "ssh"
        assert point.data["host"] == target.address
        snapshot = Path(point.data["recipe_data"]["snapshot"])
        assert snapshot == snaps / "rollsafe-rp-1"
        assert point.data["recipe_data"]["uuid"] == _uuid(snapshot)
        await driver.precheck(target, point)

        await driver.upgrade(target, key="up-1")
        assert (sub / "version").read_text() == "v2\n"
        assert driver.rollback_steps(target, point) == ["restore", "restart"]
        outputs = await _roll_back(driver, target, point, "run-1")
        assert "restored" in outputs[0]
        assert (sub / "version").read_text() == "v1\n"
        assert _uuid(sub, "Parent UUID") == _uuid(snapshot)
        assert (snaps / "rollsafe-broken-rp-1" / "version").read_text() == "v2\n"
        assert restarts.read_text() == "restarted\n"
        assert "parent UUID" in await driver.verify(target, point)

        # Repeating the steps with the same keys does nothing more.
        assert await _roll_back(driver, target, point, "run-1") == outputs
        assert restarts.read_text() == "restarted\n"

        # The recipe alone, repeated with the same attempt, sees its work done.
        data = {**point.data["recipe_data"], "attempt": "again"}
        first = await driver.recipe.rollback(
            recipes.Host(driver.transport, target), data, step="restore", limit_s=30
        )
        active = _uuid(sub)
        second = await driver.recipe.rollback(
            recipes.Host(driver.transport, target), data, step="restore", limit_s=30
        )
        assert "already restored" in second
        assert "already" not in first
        assert _uuid(sub) == active

        # A later upgrade and a new rollback to the same point restore again.
        await driver.upgrade(target, key="up-2")
        assert (sub / "version").read_text() == "v2\n"
        await _roll_back(driver, target, point, "run-2")
        assert (sub / "version").read_text() == "v1\n"
    finally:
        await driver.close()

    commands = [d for op, d in calls.items if op == "host.command"]
    assert commands, "every command is audited"
    assert {d["step"] for d in commands} >= {
        "checkpoint",
        "precheck",
        "upgrade",
        "restore",
        "restart",
    }
    assert all({"exit_status", "duration", "stdout", "stderr"} <= d.keys() for d in commands)
    assert all("hunter2-token" not in repr(d) for d in commands)


async def test_btrfs_precheck_refuses_a_missing_or_foreign_snapshot(env, tmp_path, calls):
    sub = env.btrfs / "other"
    snaps = env.btrfs / "snaps-other"
    assert _run("btrfs", "subvolume", "create", str(sub)).returncode == 0
    driver = _driver(
        env, tmp_path / "state", {"kind": "btrfs", "subvolume": str(sub), "snapshots": str(snaps)}
    )
    target = _target(env)
    try:
        point = await driver.checkpoint(target, point_id="rp-2")
        moved = models.Target(id="app1", address="10.0.0.99")
        with pytest.raises(errors.PrecheckFailed, match="taken on host"):
            await driver.precheck(moved, point)
        assert _run("btrfs", "subvolume", "delete", str(snaps / "rollsafe-rp-2")).returncode == 0
        with pytest.raises(errors.PrecheckFailed, match="missing"):
            await driver.precheck(target, point)
    finally:
        await driver.close()


async def test_directory_recipe_over_ssh(env, tmp_path, calls):
    live = tmp_path / "srv" / "site"
    (live / "conf").mkdir(parents=True)
    (live / "conf" / "app.ini").write_text("mode=1\n")
    (live / "index.html").write_text("hello\n")
    (live / "home").symlink_to("index.html")
    driver = _driver(
        env,
        tmp_path / "state",
        {"kind": "directory", "path": str(live)},
        upgrade=f"echo mode=2 > {live}/conf/app.ini; rm {live}/index.html; touch {live}/new",
    )
    target = _target(env)
    try:
        point = await driver.checkpoint(target, point_id="rp-3")
        await driver.precheck(target, point)
        await driver.upgrade(target, key="up")
        with pytest.raises(errors.VerificationFailed):
            await driver.verify(target, point)
        outputs = await _roll_back(driver, target, point, "run")
        assert "restored" in outputs[0]
        assert (live / "conf" / "app.ini").read_text() == "mode=1\n"
        assert (live / "index.html").read_text() == "hello\n"
        assert not (live / "new").exists()
        assert (live / "home").readlink() == Path("index.html")
        assert "matches" in await driver.verify(target, point)
        # The recipe sees a restored directory and leaves it alone.
        again = await driver.recipe.rollback(
            recipes.Host(driver.transport, target),
            point.data["recipe_data"],
            step="restore",
            limit_s=30,
        )
        assert "already restored" in again
        # A damaged copy is refused before anything is touched.
        (Path(point.data["recipe_data"]["copy"]) / "index.html").write_text("tampered\n")
        with pytest.raises(errors.PrecheckFailed, match="changed"):
            await driver.precheck(target, point)
    finally:
        await driver.close()
    assert not list(live.parent.glob("*.rollsafe-restore"))
    assert not list(live.parent.glob("*.rollsafe-old"))
