"""The rpm-ostree and bootc recipes against recorded-format ``status --json`` outputs."""

from __future__ import annotations

import pytest
from tool_outputs import fail, from_file, ok

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import ostree, recipes
from rollsafe.reach.transports import transporting
from rollsafe.testing import ScriptedTransport

TARGET = models.Target(id="edge-1")


def on(transport: transporting.Transport) -> recipes.Host:
    """``TARGET`` reached through ``transport``."""
    return recipes.Host(transport, TARGET)


OLD = "8f3c2b1a9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c"
DIGEST = "sha256:3b7d2a0e6a5f9c8d1e4b7a0c3f6e9d2b5a8c1f4e7d0a3b6c9f2e5d8a1b4c7f0e"


def recipe(kind: str) -> ostree.OstreeRecipe:
    return ostree.make(models.OstreeRecipe.model_validate({"kind": kind}), poll_interval=0.0)


async def test_rpm_ostree_checkpoint() -> None:
    t = ScriptedTransport().on("status --json", from_file("rpm_ostree_status_before.json"))
    t.on("boot_id", ok("b0\n"))
    data = await recipe("rpm-ostree").checkpoint(on(t), point_id="rp-1", limit_s=60)
    assert data == {
        "tool": "rpm-ostree",
        "deployment": OLD,
        "checksum": OLD,
        "version": "39.20240210.3.0",
        "boot_id": "b0",
        "point_id": "rp-1",
    }
    assert t.commands == ["rpm-ostree status --json", "cat /proc/sys/kernel/random/boot_id"]


async def test_rpm_ostree_full_rollback() -> None:
    r = recipe("rpm-ostree")
    data = {"deployment": OLD, "point_id": "rp-1", "version": "39.20240210.3.0"}
    assert r.rollback_steps(data) == ["rollback", "reboot", "wait"]
    t = ScriptedTransport().on(
        "status --json",
        from_file("rpm_ostree_status_upgraded.json"),  # precheck
        from_file("rpm_ostree_status_upgraded.json"),  # rollback: before
        from_file("rpm_ostree_status_rolled_back.json"),  # rollback: after
        from_file("rpm_ostree_status_rolled_back.json"),  # reboot
        from_file("rpm_ostree_status_rebooted.json"),  # verify
    )
    t.on("rpm-ostree rollback", ok("Moving 'c41d7e0b' to be first deployment\n"))
    t.on("test -e", fail(1)).on("systemctl reboot", fail(-1, "connection closed"))
    t.on("if [ -e", ok("rollsafe-reboot-pending b1\n"), ok("b2\n"))
    await r.precheck(on(t), data, limit_s=60)
    assert "default again" in await r.rollback(on(t), data, step="rollback", limit_s=60)
    assert await r.rollback(on(t), data, step="reboot", limit_s=60) == "reboot requested"
    assert "b2" in await r.rollback(on(t), data, step="wait", limit_s=60)
    assert "39.20240210.3.0" in await r.verify(on(t), data, limit_s=60)
    assert t.sent("rpm-ostree rollback") == ["rpm-ostree rollback"]


async def test_rpm_ostree_steps_are_idempotent() -> None:
    r = recipe("rpm-ostree")
    data = {"deployment": OLD, "point_id": "rp-1"}
    t = ScriptedTransport().on("status --json", from_file("rpm_ostree_status_rolled_back.json"))
    assert "already the default" in await r.rollback(on(t), data, step="rollback", limit_s=60)
    t.on("status --json", from_file("rpm_ostree_status_rebooted.json"))
    assert "already the default" in await r.rollback(on(t), data, step="rollback", limit_s=60)
    assert "no reboot needed" in await r.rollback(on(t), data, step="reboot", limit_s=60)
    # The reboot was asked for already (marker on the host) and the host is still up.
    t.on("status --json", from_file("rpm_ostree_status_upgraded.json"))
    t.on("test -e", ok())
    text = await r.rollback(on(t), data, step="reboot", limit_s=60)
    assert "already requested" in text
    assert t.sent("rpm-ostree rollback") == []
    assert t.sent("systemctl") == []


async def test_rpm_ostree_staged_update_is_dropped_without_reboot() -> None:
    # Upgrade staged, never booted: rollback makes the booted deployment the default again.
    r = recipe("rpm-ostree")
    data = {"deployment": OLD, "point_id": "rp-1"}
    t = ScriptedTransport().on(
        "status --json",
        from_file("rpm_ostree_status_staged.json"),
        from_file("rpm_ostree_status_before.json"),
    )
    t.on("rpm-ostree rollback", ok())
    assert "default again" in await r.rollback(on(t), data, step="rollback", limit_s=60)
    assert "no reboot needed" in await r.rollback(on(t), data, step="reboot", limit_s=60)
    assert t.sent("rpm-ostree rollback") == ["rpm-ostree rollback"]


async def test_rpm_ostree_refuses_a_lost_deployment() -> None:
    r = recipe("rpm-ostree")
    data = {"deployment": OLD, "point_id": "rp-1"}
    t = ScriptedTransport().on("status --json", from_file("rpm_ostree_status_gc.json"))
    with pytest.raises(errors.PrecheckFailed, match="no longer on the host"):
        await r.precheck(on(t), data, limit_s=60)
    with pytest.raises(errors.DriverError, match="would not reach"):
        await r.rollback(on(t), data, step="rollback", limit_s=60)
    t.on("status --json", from_file("rpm_ostree_status_upgraded.json"))
    with pytest.raises(errors.VerificationFailed, match="not 8f3c"):
        await r.verify(on(t), data, limit_s=60)


async def test_rpm_ostree_rollback_that_did_not_take() -> None:
    r = recipe("rpm-ostree")
    data = {"deployment": OLD, "point_id": "rp-1"}
    t = ScriptedTransport().on("status --json", from_file("rpm_ostree_status_upgraded.json"))
    t.on("rpm-ostree rollback", ok())
    with pytest.raises(errors.DriverError, match="default deployment is not"):
        await r.rollback(on(t), data, step="rollback", limit_s=60)


async def test_bootc_rollback() -> None:
    r = recipe("bootc")
    t = ScriptedTransport().on("bootc status --json", from_file("bootc_status_before.json"))
    t.on("boot_id", ok("b0\n"))
    data = await r.checkpoint(on(t), point_id="rp-1", limit_s=60)
    assert data["deployment"] == DIGEST
    assert data["checksum"] == OLD
    assert data["tool"] == "bootc"

    t.on(
        "bootc status --json",
        from_file("bootc_status_upgraded.json"),
        from_file("bootc_status_queued.json"),
    )
    t.on("bootc rollback", ok("Next boot: rollback deployment\n"))
    assert "default again" in await r.rollback(on(t), data, step="rollback", limit_s=60)
    assert "already the default" in await r.rollback(on(t), data, step="rollback", limit_s=60)
    assert t.sent("bootc rollback") == ["bootc rollback"]
    with pytest.raises(errors.VerificationFailed):
        await r.verify(on(t), data, limit_s=60)
    t.on("bootc status --json", from_file("bootc_status_rebooted.json"))
    assert "9.20240502.0" in await r.verify(on(t), data, limit_s=60)
