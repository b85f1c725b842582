"""The snapper recipe against outputs of snapper 0.10.4 (see outputs/README.md).

The list, create, status and undochange outputs were captured from the real snapper; the
rollback-mode ones (``snapper rollback``, lists after it and after the reboot) are written by
hand, since ``rollback`` only works on a root file system. The undochange mode also runs for
real in tests/integration/test_recipe_snapper_real.py.
"""

from __future__ import annotations

import pytest
from tool_outputs import fail, from_file, ok

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import recipes, snapper
from rollsafe.reach.transports import transporting
from rollsafe.testing import ScriptedTransport

TARGET = models.Target(id="web-1")


def on(transport: transporting.Transport) -> recipes.Host:
    """``TARGET`` reached through ``transport``."""
    return recipes.Host(transport, TARGET)


UNDO = {"config": "root", "number": 42, "mode": "undochange", "point_id": "rp-abc123"}
ROLLBACK = {**UNDO, "mode": "rollback", "boot_id": "b0"}


def recipe(**fields: object) -> snapper.SnapperRecipe:
    config = models.SnapperRecipe.model_validate({"kind": "snapper", **fields})
    return snapper.make(config, poll_interval=0.0)


async def test_checkpoint_creates_a_numbered_pre_snapshot() -> None:
    t = ScriptedTransport()
    t.on("list", from_file("snapper_list_before.txt"))
    t.on("create", from_file("snapper_create_print_number.txt"))
    data = await recipe().checkpoint(on(t), point_id="rp-abc123", limit_s=30)
    assert data == UNDO
    assert t.commands == [
        "snapper -c root list",
        "snapper -c root create --type pre --print-number --cleanup-algorithm number "
        "--description 'rollsafe rp-abc123'",
    ]
    assert t.limits == [30, 30]


async def test_repeated_checkpoint_reuses_the_snapshot_and_quotes_the_config() -> None:
    t = ScriptedTransport().on("list", from_file("snapper_list_created.txt"))
    t.on("boot_id", ok("b0\n"))
    data = await recipe(config="my root", mode="rollback").checkpoint(
        on(t), point_id="rp-abc123", limit_s=30
    )
    assert data == {**ROLLBACK, "config": "my root"}
    assert t.commands == ["snapper -c 'my root' list", "cat /proc/sys/kernel/random/boot_id"]


async def test_no_dbus_goes_into_every_command() -> None:
    r = recipe(no_dbus=True)
    t = ScriptedTransport().on("list", from_file("snapper_list_before.txt"))
    t.on("create", from_file("snapper_create_print_number.txt"))
    data = await r.checkpoint(on(t), point_id="rp-abc123", limit_s=30)
    t.on("list", from_file("snapper_list_created.txt"))
    await r.precheck(on(t), data, limit_s=30)
    t.on("status 42..0", from_file("snapper_status_changes.txt"), ok(""))
    t.on("undochange", from_file("snapper_undochange.txt"))
    await r.rollback(on(t), data, step="undo", limit_s=30)
    await r.verify(on(t), data, limit_s=30)
    assert t.commands == [
        "snapper --no-dbus -c root list",
        "snapper --no-dbus -c root create --type pre --print-number --cleanup-algorithm number "
        "--description 'rollsafe rp-abc123'",
        "snapper --no-dbus -c root list",
        "snapper --no-dbus -c root status 42..0",
        "snapper --no-dbus -c root undochange 42..0",
        "snapper --no-dbus -c root status 42..0",
    ]

    rolling = ScriptedTransport().on("list", from_file("snapper_list_created.txt"))
    rolling.on("rollback 42", from_file("snapper_rollback.txt"))
    await recipe(no_dbus=True, mode="rollback").rollback(
        on(rolling), ROLLBACK, step="rollback", limit_s=30
    )
    assert rolling.commands == [
        "snapper --no-dbus -c root list",
        "snapper --no-dbus -c root rollback 42",  # the flag once, not twice
    ]


async def test_create_failure_carries_stderr() -> None:
    t = ScriptedTransport().on("list", from_file("snapper_list_before.txt"))
    t.on("create", fail(1, "Creating snapshot failed.\n"))
    with pytest.raises(errors.DriverError, match="Creating snapshot failed"):
        await recipe().checkpoint(on(t), point_id="rp-abc123", limit_s=30)


async def test_precheck() -> None:
    t = ScriptedTransport().on("list", from_file("snapper_list_created.txt"))
    await recipe().precheck(on(t), UNDO, limit_s=30)
    t.on("list", from_file("snapper_list_before.txt"))
    with pytest.raises(errors.PrecheckFailed, match="42"):
        await recipe().precheck(on(t), UNDO, limit_s=30)


async def test_undochange_step_is_idempotent_and_verified() -> None:
    r = recipe()
    assert r.rollback_steps(UNDO) == ["undo"]
    t = ScriptedTransport().on("status 42..0", from_file("snapper_status_changes.txt"))
    t.on("undochange", from_file("snapper_undochange.txt"))
    text = await r.rollback(on(t), UNDO, step="undo", limit_s=30)
    assert "undid" in text
    assert t.commands == ["snapper -c root status 42..0", "snapper -c root undochange 42..0"]
    with pytest.raises(errors.VerificationFailed, match=r"nginx\.conf"):
        await r.verify(on(t), UNDO, limit_s=30)

    done = ScriptedTransport().on("status 42..0", ok(""))
    assert "already undone" in await r.rollback(on(done), UNDO, step="undo", limit_s=30)
    assert done.sent("undochange") == []
    assert "no file differs" in await r.verify(on(done), UNDO, limit_s=30)


async def test_rollback_mode_steps() -> None:
    r = recipe(mode="rollback")
    assert r.rollback_steps(ROLLBACK) == ["rollback", "reboot", "wait"]

    t = ScriptedTransport().on("list", from_file("snapper_list_created.txt"))
    t.on("rollback 42", from_file("snapper_rollback.txt"))
    text = await r.rollback(on(t), ROLLBACK, step="rollback", limit_s=30)
    assert text == "snapshot 44 (writable copy of 42) is the new default"
    assert t.commands[-1] == "snapper --no-dbus -c root rollback 42"

    # Repeated after the controller died: snapshot 44 is already the default.
    again = ScriptedTransport().on("list", from_file("snapper_list_rolled_back.txt"))
    text = await r.rollback(on(again), ROLLBACK, step="rollback", limit_s=30)
    assert "already the default" in text
    assert again.sent("rollback 42") == []


async def test_reboot_and_wait() -> None:
    r = recipe(mode="rollback")
    t = ScriptedTransport().on("list", from_file("snapper_list_rolled_back.txt"))
    t.on("test -e", fail(1))
    t.on("systemctl reboot", errors.DriverTemporaryError("connection lost"))
    text = await r.rollback(on(t), ROLLBACK, step="reboot", limit_s=30)
    assert "connection was lost" in text
    assert t.commands[1:] == [
        "test -e /run/rollsafe-rp-abc123.reboot",
        "cat /proc/sys/kernel/random/boot_id > /run/rollsafe-rp-abc123.reboot && systemctl reboot",
    ]

    w = ScriptedTransport().on(
        "if [ -e /run/rollsafe-rp-abc123.reboot ]",
        ok("rollsafe-reboot-pending b1\n"),
        errors.DriverTemporaryError("connection refused"),
        fail(255, "ssh: connect to host web-1 port 22: Connection refused"),
        ok("b2\n"),
    )
    assert await r.rollback(on(w), ROLLBACK, step="wait", limit_s=30) == (
        "host is back with boot id b2"
    )
    assert len(w.commands) == 4

    booted = ScriptedTransport().on("list", from_file("snapper_list_rebooted.txt"))
    text = await r.rollback(on(booted), ROLLBACK, step="reboot", limit_s=30)
    assert "no reboot needed" in text
    assert booted.sent("reboot") == []


async def test_wait_gives_up_after_the_reboot_timeout() -> None:
    r = recipe(mode="rollback", reboot_timeout=0.05)
    t = ScriptedTransport().on("if [ -e", ok("rollsafe-reboot-pending b1\n"))
    with pytest.raises(errors.DriverError, match="gave up waiting"):
        await r.rollback(on(t), ROLLBACK, step="wait", limit_s=30)


async def test_rollback_mode_verify() -> None:
    r = recipe(mode="rollback")
    t = ScriptedTransport().on("list", from_file("snapper_list_rebooted.txt"))
    assert "snapshot 44" in await r.verify(on(t), ROLLBACK, limit_s=30)
    t.on("list", from_file("snapper_list_rolled_back.txt"))
    with pytest.raises(errors.VerificationFailed, match="not active"):
        await r.verify(on(t), ROLLBACK, limit_s=30)
    t.on("list", from_file("snapper_list_created.txt"))
    with pytest.raises(errors.VerificationFailed, match="writable copy of snapshot 42"):
        await r.verify(on(t), ROLLBACK, limit_s=30)


async def test_unknown_step() -> None:
    with pytest.raises(errors.DriverError, match="no step"):
        await recipe().rollback(on(ScriptedTransport()), UNDO, step="merge", limit_s=30)
