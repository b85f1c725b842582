"""The host driver with the local transport: script recipe, journal, errors (no SSH needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import registry
from rollsafe.execute.drivers import host
from rollsafe.reach.transports import ssh


def _driver(tmp_path: Path, recipe: dict[str, Any], **extra: Any) -> host.HostDriver:
    config = models.HostDriver.model_validate(
        {"kind": "host", "name": "h", "recipe": recipe, "step_timeout": 10, **extra}
    )
    driver = registry.build(config, tmp_path / "state")
    assert isinstance(driver, host.HostDriver)
    return driver


async def test_script_recipe_runs_the_users_commands_once_per_key(tmp_path):
    log = tmp_path / "log"
    driver = _driver(
        tmp_path,
        {
            "kind": "script",
            "checkpoint": f"echo checkpoint {{id}} $ROLLSAFE_POINT_ID >> {log}; echo saved",
            "rollback": f"echo rollback $ROLLSAFE_STEP >> {log}",
            "verify": f"grep -q rollback {log} && echo fine",
        },
        restart=["sh", "-c", f"echo restart >> {log}"],
    )
    target = models.Target(id="web1")
    point = await driver.checkpoint(target, point_id="rp-9")
    assert point.data["recipe_data"] == {"point_id": "rp-9", "checkpoint_output": "saved"}
    assert point.data["transport"] == "local"
    await driver.precheck(target, point)
    assert driver.rollback_steps(target, point) == ["rollback", "restart"]
    for _ in range(2):  # the second pass is a resumed run: nothing runs again
        for step in driver.rollback_steps(target, point):
            await driver.rollback(target, point, step=step, key=f"k:{step}")
    assert log.read_text().splitlines() == [
        "checkpoint web1 rp-9",
        "rollback rollback",
        "restart",
    ]
    assert await driver.verify(target, point) == "fine"
    assert (await driver.status(target))["reachable"] is True


async def test_a_failing_command_is_a_driver_error_with_its_stderr(tmp_path):
    driver = _driver(
        tmp_path,
        {"kind": "script", "rollback": "echo broken disk >&2; exit 3"},
        upgrade="exit 0",
    )
    target = models.Target(id="web1")
    point = await driver.checkpoint(target, point_id="rp-1")
    with pytest.raises(errors.DriverError, match="broken disk"):
        await driver.rollback(target, point, step="rollback", key="k")
    with pytest.raises(errors.DriverError, match="no rollback step"):
        await driver.rollback(target, point, step="nope", key="k2")
    await driver.upgrade(target, key="k3")
    with pytest.raises(errors.DriverError, match="already used"):
        await driver.rollback(target, point, step="rollback", key="k3")


async def test_directory_recipe_locally(tmp_path):
    live = tmp_path / "site"
    live.mkdir()
    (live / "a.txt").write_text("one\n")
    driver = _driver(tmp_path, {"kind": "directory", "path": str(live)})
    target = models.Target(id="web1")
    point = await driver.checkpoint(target, point_id="rp-1")
    (live / "a.txt").write_text("two\n")
    await driver.rollback(target, point, step="restore", key="r")
    assert (live / "a.txt").read_text() == "one\n"
    assert "matches" in await driver.verify(target, point)


def test_the_ssh_command_line_quotes_env_and_script():
    line = ssh.SshTransport.wrap("echo \"$A\" 'x'", limit_s=2.5, env={"A": "it's $(rm -rf /)"})
    out = subprocess.run(
        ["sh", "-c", line.replace("exec timeout", "timeout")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "it's $(rm -rf /) x\n"
    assert line.startswith("export A=")
    assert "exec timeout --kill-after=2 3 sh -c" in line
    with pytest.raises(errors.DriverError, match="not valid"):
        ssh.SshTransport.wrap("true", limit_s=1, env={"BAD-NAME": "x"})
