"""The LVM recipe against recorded-format ``lvs --reportformat json`` outputs."""

from __future__ import annotations

import pytest
from tool_outputs import fail, from_file, ok

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import lvm, recipes
from rollsafe.reach.transports import transporting
from rollsafe.testing import ScriptedTransport

TARGET = models.Target(id="db-1")


def on(transport: transporting.Transport) -> recipes.Host:
    """``TARGET`` reached through ``transport``."""
    return recipes.Host(transport, TARGET)


LVS = "lvs --reportformat json -o lv_name,vg_name,lv_attr,origin,data_percent,lv_merging vg0"
DATA = {
    "volume_group": "vg0",
    "origin": "root",
    "snapshot": "rollsafe-rp-abc123",
    "point_id": "rp-abc123",
}


def recipe(**fields: object) -> lvm.LvmRecipe:
    config = models.LvmRecipe.model_validate(
        {"kind": "lvm", "volume_group": "vg0", "logical_volume": "root", **fields}
    )
    return lvm.make(config, poll_interval=0.0)


async def test_checkpoint_creates_the_snapshot_once() -> None:
    t = ScriptedTransport().on("lvs", from_file("lvs_before.json")).on("lvcreate", ok())
    data = await recipe(snapshot_size="20%ORIGIN").checkpoint(
        on(t), point_id="rp-abc123", limit_s=60
    )
    assert data == DATA
    assert t.commands == [LVS, "lvcreate -s -n rollsafe-rp-abc123 -L 20%ORIGIN vg0/root"]

    again = ScriptedTransport().on("lvs", from_file("lvs_snapshot.json"))
    assert await recipe().checkpoint(on(again), point_id="rp-abc123", limit_s=60) == DATA
    assert again.sent("lvcreate") == []


async def test_checkpoint_failure_names_lvcreate() -> None:
    t = ScriptedTransport().on("lvs", from_file("lvs_before.json"))
    t.on("lvcreate", fail(5, '  Volume group "vg0" has insufficient free space (0 extents).'))
    with pytest.raises(errors.DriverError, match=r"lvcreate failed.*insufficient free space"):
        await recipe().checkpoint(on(t), point_id="rp-abc123", limit_s=60)


async def test_precheck_refuses_missing_and_overflowed_snapshots() -> None:
    t = ScriptedTransport().on("lvs", from_file("lvs_snapshot.json"))
    await recipe().precheck(on(t), DATA, limit_s=60)
    t.on("lvs", from_file("lvs_snapshot_invalid.json"))
    with pytest.raises(errors.PrecheckFailed, match="invalid"):
        await recipe().precheck(on(t), DATA, limit_s=60)
    t.on("lvs", from_file("lvs_before.json"))
    with pytest.raises(errors.PrecheckFailed, match="gone"):
        await recipe().precheck(on(t), DATA, limit_s=60)


async def test_merge_of_an_origin_in_use_then_reboot_and_wait() -> None:
    r = recipe()
    assert r.rollback_steps(DATA) == ["merge", "reboot", "wait"]
    t = ScriptedTransport().on("lvs", from_file("lvs_snapshot.json"))
    t.on("lvconvert", from_file("lvconvert_merge_delayed.txt"))
    text = await r.rollback(on(t), DATA, step="merge", limit_s=60)
    assert "will occur on next activation" in text
    assert t.commands == [LVS, "lvconvert --merge vg0/rollsafe-rp-abc123"]

    # Repeated: the snapshot is already marked for merging.
    t.on("lvs", from_file("lvs_merge_pending.json"))
    assert "already merging" in await r.rollback(on(t), DATA, step="merge", limit_s=60)
    assert len(t.sent("lvconvert")) == 1

    t.on("test -e", fail(1)).on("systemctl reboot", ok())
    assert await r.rollback(on(t), DATA, step="reboot", limit_s=60) == "reboot requested"

    # While the host is down lvs fails; after the boot the merge runs, then the LV is gone.
    t.on(
        "lvs",
        errors.DriverTemporaryError("connection reset"),
        from_file("lvs_merging_unmounted.json"),
        from_file("lvs_merged.json"),
    )
    text = await r.rollback(on(t), DATA, step="wait", limit_s=60)
    assert "has been merged" in text
    assert "merged; root is active" in await r.verify(on(t), DATA, limit_s=60)


async def test_no_reboot_when_merged_or_origin_unused() -> None:
    r = recipe()
    t = ScriptedTransport().on("lvs", from_file("lvs_merged.json"))
    assert "merge already happened" in await r.rollback(on(t), DATA, step="merge", limit_s=60)
    assert "no reboot needed" in await r.rollback(on(t), DATA, step="reboot", limit_s=60)
    t.on("lvs", from_file("lvs_merging_unmounted.json"))
    text = await r.rollback(on(t), DATA, step="reboot", limit_s=60)
    assert "merge runs now" in text
    assert t.sent("reboot") == []


async def test_verify_failures() -> None:
    r = recipe()
    t = ScriptedTransport().on("lvs", from_file("lvs_merge_pending.json"))
    with pytest.raises(errors.VerificationFailed, match="still exists"):
        await r.verify(on(t), DATA, limit_s=60)
    t.on("lvs", from_file("lvs_merged_inactive.json"))
    with pytest.raises(errors.VerificationFailed, match="not active"):
        await r.verify(on(t), DATA, limit_s=60)


async def test_wait_gives_up() -> None:
    r = recipe(reboot_timeout=0.05)
    t = ScriptedTransport().on("lvs", from_file("lvs_merge_pending.json"))
    with pytest.raises(errors.DriverError, match="gave up waiting for the merge"):
        await r.rollback(on(t), DATA, step="wait", limit_s=60)


async def test_retention_removes_the_snapshot_once() -> None:
    t = ScriptedTransport().on("lvs", from_file("lvs_snapshot.json")).on("lvremove", ok())
    said = await recipe().delete(on(t), DATA, limit_s=60)
    assert said == "removed LVM snapshot vg0/rollsafe-rp-abc123"
    assert t.sent("lvremove") == ["lvremove -y vg0/rollsafe-rp-abc123"]

    gone = ScriptedTransport().on("lvs", from_file("lvs_before.json"))
    assert "already gone" in await recipe().delete(on(gone), DATA, limit_s=60)
    assert gone.sent("lvremove") == []


async def test_retention_leaves_a_volume_that_is_not_our_snapshot() -> None:
    t = ScriptedTransport().on("lvs", from_file("lvs_snapshot.json"))
    other = {**DATA, "origin": "home"}
    assert "left alone" in await recipe().delete(on(t), other, limit_s=60)
    assert t.sent("lvremove") == []


async def test_retention_never_removes_a_snapshot_being_merged() -> None:
    t = ScriptedTransport().on("lvs", from_file("lvs_merge_pending.json"))
    with pytest.raises(errors.DriverError, match="being merged"):
        await recipe().delete(on(t), DATA, limit_s=60)
    assert t.sent("lvremove") == []
