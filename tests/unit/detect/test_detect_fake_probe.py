"""The FakeProbe plays its script per target, then repeats the last step."""

from __future__ import annotations

import asyncio

import pytest

from rollsafe.config import models
from rollsafe.domain import errors, observations
from rollsafe.testing import Blind, FakeClock, FakeProbe, probe_factory

WEB = models.Target(id="web-1")
DB = models.Target(id="db-1")


async def test_script_plays_in_order_then_repeats_its_last_step() -> None:
    clock = FakeClock(start=10.0)
    probe = FakeProbe("health", clock=clock).script("web-1", 1.0, Blind("refused"), 0.0)
    seen = [await probe.observe(WEB) for _ in range(4)]
    assert [(o.value, o.error) for o in seen] == [
        (1.0, None), (None, "refused"), (0.0, None), (0.0, None)
    ]  # fmt: skip
    assert all((o.time, o.source, o.target) == (10.0, "health", "web-1") for o in seen)
    assert probe.calls == ["web-1"] * 4


async def test_unscripted_targets_get_the_default() -> None:
    probe = FakeProbe("health", default=None).script("web-1", 1.0)
    assert (await probe.observe(DB)).value is None
    assert (await probe.observe(WEB)).value == 1.0
    assert probe.calls_for("db-1") == 1


async def test_observation_steps_keep_their_details_and_get_this_call_stamped() -> None:
    clock = FakeClock(start=99.0)
    step = observations.Observation(
        time=0.0,
        target="x",
        source="x",
        value=0.0,
        status=503,
        latency_s=1.5,  # type: ignore[arg-type]
    )
    seen = await FakeProbe("health", clock=clock).script("web-1", step).observe(WEB)
    assert (seen.time, seen.target, seen.source) == (99.0, "web-1", "health")
    assert (seen.value, seen.status, seen.latency_s) == (0.0, 503, 1.5)


async def test_exception_steps_are_raised_every_time() -> None:
    probe = FakeProbe("health").script("web-1", RuntimeError("bug"))
    for _ in range(2):
        with pytest.raises(RuntimeError, match="bug"):
            await probe.observe(WEB)


async def test_wait_for_calls_and_close() -> None:
    probe = FakeProbe("health")
    waiter = asyncio.create_task(probe.wait_for_calls(2))
    await probe.observe(WEB)
    assert not waiter.done()
    await probe.observe(DB)
    await asyncio.wait_for(waiter, timeout=10)
    await probe.close()
    assert probe.closed


def test_probe_factory_hands_out_fakes_by_name() -> None:
    health = FakeProbe("health")
    build = probe_factory(health)
    config = models.CommandProbe(kind="command", name="health", command="true")
    assert build(config, FakeClock()) is health
    other = models.CommandProbe(kind="command", name="load", command="true")
    with pytest.raises(errors.ConfigError, match="no FakeProbe"):
        build(other, FakeClock())
