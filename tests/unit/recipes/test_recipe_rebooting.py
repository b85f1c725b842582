"""Reboot and wait-for-new-boot, scripted, plus the wait script run by a real ``sh``."""

from __future__ import annotations

from pathlib import Path

import pytest
from tool_outputs import fail, ok

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import rebooting, recipes
from rollsafe.reach.transports import local, transporting
from rollsafe.testing import ScriptedTransport

TARGET = models.Target(id="web-1")


def on(transport: transporting.Transport) -> recipes.Host:
    """``TARGET`` reached through ``transport``."""
    return recipes.Host(transport, TARGET)


async def test_wait_ignores_a_host_still_on_the_old_boot() -> None:
    t = ScriptedTransport().on(
        "if [ -e",
        ok("rollsafe-reboot-pending b1\n"),
        ok("b1\n"),  # marker gone but the same boot: not rebooted, keep waiting
        ok("b2\n"),
    )
    text = await rebooting.wait_for_new_boot(
        on(t), point_id="rp-1", timeout_s=30, poll_interval=0.0
    )
    assert text == "host is back with boot id b2"
    assert len(t.commands) == 3


async def test_reboot_refused_is_an_error() -> None:
    t = ScriptedTransport().on("test -e", fail(1))
    t.on("systemctl reboot", fail(1, "Failed to reboot system: Access denied"))
    with pytest.raises(errors.DriverError, match="Access denied"):
        await rebooting.reboot(on(t), point_id="rp-1", limit_s=30)


async def test_wait_script_on_a_real_shell() -> None:
    # Read-only: no marker exists for this id, so the script prints this machine's boot id.
    boot_id = Path(rebooting.BOOT_ID_PATH).read_text().strip()
    text = await rebooting.wait_for_new_boot(
        on(local.LocalTransport()),
        point_id="rp-never-rebooted",
        timeout_s=30,
        poll_interval=0.0,
    )
    assert text == f"host is back with boot id {boot_id}"
    assert await rebooting.read_boot_id(on(local.LocalTransport()), limit_s=30) == boot_id
