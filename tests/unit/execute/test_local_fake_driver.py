"""The shipped FakeDriver behaves like a driver: keyed effects, scripted failures and hangs."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from rollsafe import testing
from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import driving

TARGET = models.Target(id="web1")


def as_driver(driver: driving.Driver) -> driving.Driver:
    return driver  # mypy checks here that the fake satisfies the Protocol


async def test_records_calls_and_performs_each_key_once():
    clock = testing.FakeClock(start=1000.0)
    fake = testing.FakeDriver(clock=clock, checks={"rows": 42})
    driver = as_driver(fake)
    point = await driver.checkpoint(TARGET, point_id="rp-1", label="pre")
    await driver.precheck(TARGET, point)

    outputs = [
        await driver.rollback(TARGET, point, step=step, key=f"k-{step}")
        for step in [*driver.rollback_steps(TARGET, point), "restore"]
    ]

    assert point.created_at == 1000.0
    assert point.checks == {"rows": 42}
    assert outputs == ["restore web1 to rp-1", "restart web1 to rp-1", "restore web1 to rp-1"]
    assert [c.method for c in fake.calls] == [
        "checkpoint",
        "precheck",
        "rollback",
        "rollback",
        "rollback",
    ]
    assert [e.step for e in fake.effects_of("restore")] == ["restore"]
    assert (await driver.status(TARGET))["restore_points"] == ["rp-1"]


async def test_scripted_failures_strike_the_given_number_of_times():
    fake = testing.FakeDriver()
    point = await fake.checkpoint(TARGET, point_id="rp-1")
    fake.fail("restore", errors.DriverTemporaryError("throttled", retry_after=1), times=2)

    for _ in range(2):
        with pytest.raises(errors.DriverTemporaryError):
            await fake.rollback(TARGET, point, step="restore", key="k")
    assert await fake.rollback(TARGET, point, step="restore", key="k") == "restore web1 to rp-1"
    assert len(fake.effects_of("restore")) == 1


async def test_a_failure_after_the_effect_does_not_repeat_it_on_retry():
    fake = testing.FakeDriver()
    point = await fake.checkpoint(TARGET, point_id="rp-1")
    fake.fail("restore", after_effect=True)

    with pytest.raises(errors.DriverError, match="scripted failure"):
        await fake.rollback(TARGET, point, step="restore", key="k")
    await fake.rollback(TARGET, point, step="restore", key="k")

    assert len(fake.effects_of("restore")) == 1


async def test_precheck_failures_and_mismatches():
    fake = testing.FakeDriver()
    point = await fake.checkpoint(TARGET, point_id="rp-1")
    fake.fail("precheck")

    with pytest.raises(errors.PrecheckFailed, match="scripted"):
        await fake.precheck(TARGET, point)
    with pytest.raises(errors.PrecheckFailed, match="belongs to target web1"):
        await fake.precheck(models.Target(id="web2"), point)
    with pytest.raises(errors.DriverError, match="no step"):
        await fake.rollback(TARGET, point, step="reboot", key="k")


async def test_a_hang_blocks_until_released():
    fake = testing.FakeDriver()
    point = await fake.checkpoint(TARGET, point_id="rp-1")
    hang = fake.hang("restart")
    step = asyncio.create_task(fake.rollback(TARGET, point, step="restart", key="k"))

    await hang.entered.wait()
    assert fake.effects_of("restart") == []
    hang.release()

    assert await step == "restart web1 to rp-1"
    assert len(fake.effects_of("restart")) == 1


async def test_a_cancelled_hang_leaves_no_effect_and_a_retry_performs_it_once():
    fake = testing.FakeDriver()
    point = await fake.checkpoint(TARGET, point_id="rp-1")
    hang = fake.hang("restore")
    step = asyncio.create_task(fake.rollback(TARGET, point, step="restore", key="k"))
    await hang.entered.wait()

    step.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await step

    assert fake.effects_of("restore") == []
    await fake.rollback(TARGET, point, step="restore", key="k")
    assert len(fake.effects_of("restore")) == 1


async def test_upgrade_is_keyed_too():
    fake = testing.FakeDriver()

    await fake.upgrade(TARGET, key="u")
    await fake.upgrade(TARGET, key="u")

    assert len(fake.effects_of("upgrade")) == 1
