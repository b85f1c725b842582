"""What every recipe shares: one table of steps, checked scripts, rendered commands and paths.

The step tables are read without a host (an unknown step must be refused before any command
is sent); the script builder and the command rendering run through a real ``sh``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import commands
from rollsafe.execute.recipes import building, checked, recipes
from rollsafe.reach.transports import local
from rollsafe.testing import ScriptedTransport

TARGET = models.Target(id="web-1", address="10.0.0.5", labels={"release": "2.1"})

# One configuration of every kind, with the restore point data its steps depend on.
KINDS: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = [
    ({"kind": "directory", "path": "/srv/app"}, {}, ["restore"]),
    ({"kind": "btrfs", "subvolume": "/srv/app", "snapshots": "/srv/.s"}, {}, ["restore"]),
    ({"kind": "script", "rollback": "true"}, {}, ["rollback"]),
    ({"kind": "snapper"}, {"mode": "undochange"}, ["undo"]),
    ({"kind": "snapper"}, {"mode": "rollback"}, ["rollback", "reboot", "wait"]),
    (
        {"kind": "lvm", "volume_group": "vg", "logical_volume": "lv"},
        {},
        ["merge", "reboot", "wait"],
    ),
    ({"kind": "apt"}, {}, ["install"]),
    ({"kind": "dnf"}, {}, ["undo"]),
    ({"kind": "rpm-ostree"}, {}, ["rollback", "reboot", "wait"]),
    ({"kind": "bootc"}, {}, ["rollback", "reboot", "wait"]),
    ({"kind": "qcow2", "image": "/vm/disk.qcow2"}, {}, ["stop", "apply", "start"]),
]


def _recipe(config: dict[str, Any]) -> recipes.Recipe:
    driver = models.HostDriver.model_validate(
        {"kind": "host", "name": "h", "transport": {"kind": "local"}, "recipe": config}
    )
    return building.build(driver.recipe)


@pytest.mark.parametrize(("config", "data", "steps"), KINDS)
async def test_the_planned_steps_are_the_performed_ones_and_others_are_refused(
    config: dict[str, Any], data: dict[str, Any], steps: list[str]
) -> None:
    recipe = _recipe(config)
    assert list(recipe.rollback_steps(data)) == steps
    transport = ScriptedTransport()  # any command sent would fail the test loudly
    with pytest.raises(errors.DriverError) as raised:
        await recipe.rollback(recipes.Host(transport, TARGET), data, step="no-such-step", limit_s=5)
    assert str(raised.value) == (
        f"{recipe.kind} recipe has no step 'no-such-step' (its steps: {', '.join(steps)})"
    )
    assert transport.commands == []


async def test_script_values_are_data_never_shell(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    hostile = f'it\'s $(touch {planted}) `touch {planted}`; "quoted"\nnext line'
    script = checked.script('printf "%s" "$V"', V=hostile)
    host = recipes.Host(local.LocalTransport(), TARGET)
    result = await checked.run(host, script, limit_s=10, what="printing")
    assert result.stdout == hostile
    assert not planted.exists()


async def test_a_failed_script_says_what_failed_with_the_hosts_last_words() -> None:
    host = recipes.Host(local.LocalTransport(), TARGET)
    script = checked.script('echo "no $THING here" >&2; exit 7', THING="snapshot")
    with pytest.raises(errors.PrecheckFailed) as raised:
        await checked.run(host, script, limit_s=10, what="checking it", error=errors.PrecheckFailed)
    assert str(raised.value) == "web-1: checking it failed (exit 7): no snapshot here"


def test_point_ids_and_paths_are_checked_before_any_command() -> None:
    assert checked.safe_point_id("rp-0a1b") == "rp-0a1b"
    with pytest.raises(errors.DriverError, match="not a safe file name"):
        checked.safe_point_id("../etc")
    with pytest.raises(errors.PrecheckFailed):
        checked.safe_point_id("a b", error=errors.PrecheckFailed)
    assert checked.absolute_path("/srv/{release}/./app/", TARGET, what="r") == "/srv/2.1/app"
    for bad in ("srv/app", "/", "/srv/.."):
        with pytest.raises(errors.DriverError, match="absolute path other than /"):
            checked.absolute_path(bad, TARGET, what="r")
    with pytest.raises(errors.DriverError, match="cannot be rendered for web-1"):
        checked.absolute_path("/srv/{nope}", TARGET, what="r")


def test_a_command_renders_the_same_for_every_driver_and_recipe() -> None:
    assert commands.shell_text("deploy {release} && echo {id}", TARGET, what="x") == (
        "deploy 2.1 && echo web-1"
    )
    # A list is argv: each word rendered, then quoted, so a value never splits a word.
    listed = ["sh", "-c", "echo {address} > /tmp/o"]
    assert commands.shell_text(listed, TARGET, what="x") == "sh -c 'echo 10.0.0.5 > /tmp/o'"
    assert commands.argv("deploy '{release} now'", TARGET, what="x") == ["deploy", "2.1 now"]
    for render in (commands.shell_text, commands.argv):
        with pytest.raises(errors.DriverError, match=r"the stop command cannot be rendered"):
            render("halt {nope}", TARGET, what="stop")
    with pytest.raises(errors.DriverError, match="the stop command is empty"):
        commands.argv("  ", TARGET, what="stop")
