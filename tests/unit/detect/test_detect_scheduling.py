"""The scheduler: every pair observed on its interval, broken probes contained, clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable

import pytest

from rollsafe.config import models
from rollsafe.detect import scheduling
from rollsafe.domain import clocks, observations
from rollsafe.testing import Blind, FakeClock, FakeProbe, probe_factory


def _config(*probes: dict[str, object], targets: int = 3) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [
                {"id": f"web-{i}", "labels": {"role": "web" if i < 3 else "db"}}
                for i in range(1, targets + 1)
            ],
            "probes": list(probes),
        }
    )


def _command(name: str, **options: object) -> dict[str, object]:
    return {"kind": "command", "name": name, "command": "true", "interval": "200ms", **options}


class _Collector:
    """The sink: keeps observations and wakes a waiter when a condition holds."""

    def __init__(self) -> None:
        self.seen: list[observations.Observation] = []
        self._changed = asyncio.Event()

    def __call__(self, observation: observations.Observation) -> None:
        self.seen.append(observation)
        self._changed.set()

    async def until(self, condition: Callable[[list[observations.Observation]], bool]) -> None:
        async def wait() -> None:
            while not condition(self.seen):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout=20)

    def per_pair(self) -> Counter[tuple[str, str]]:
        return Counter((o.source, o.target) for o in self.seen)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_every_probe_target_pair_is_observed_repeatedly() -> None:
    clock = FakeClock()
    health, load = FakeProbe("health", clock=clock), FakeProbe("load", clock=clock, default=0.5)
    sink = _Collector()
    config = _config(_command("health"), _command("load", targets={"labels": {"role": "web"}}))
    scheduler = scheduling.Scheduler(
        config, clock=clock, sink=sink, probe_factory=probe_factory(health, load)
    )
    expected = {
        ("health", "web-1"), ("health", "web-2"), ("health", "web-3"),
        ("load", "web-1"), ("load", "web-2"),
    }  # fmt: skip
    assert set(scheduler.pairs()) == expected
    task = asyncio.create_task(scheduler.run())
    await sink.until(
        lambda _: set(sink.per_pair()) == expected and min(sink.per_pair().values()) >= 3
    )
    await _stop(task)
    assert all(o.ok and o.time == clock.now() for o in sink.seen)
    assert {o.value for o in sink.seen if o.source == "load"} == {0.5}
    stats = scheduler.stats()
    assert stats.completed == len(sink.seen)
    assert (stats.errors, stats.crashes) == (0, 0)
    assert stats.max_lag_s >= stats.lag_p99_s >= 0.0
    assert health.closed
    assert load.closed


async def test_a_crashing_probe_yields_errors_and_the_others_carry_on(caplog) -> None:
    clock = FakeClock()
    good = FakeProbe("good", clock=clock)
    bad = FakeProbe("bad", clock=clock).script("web-2", RuntimeError("probe bug"))
    sink = _Collector()
    scheduler = scheduling.Scheduler(
        _config(_command("good"), _command("bad")),
        clock=clock,
        sink=sink,
        probe_factory=probe_factory(good, bad),
    )
    with caplog.at_level(logging.ERROR, logger="rollsafe.detect.scheduling"):
        task = asyncio.create_task(scheduler.run())
        await sink.until(
            lambda _: min(sink.per_pair().values(), default=0) >= 3 and len(sink.per_pair()) == 6
        )
        await _stop(task)
    crashed = [o for o in sink.seen if o.source == "bad" and o.target == "web-2"]
    assert crashed
    assert all(o.error == "probe crashed: RuntimeError: probe bug" for o in crashed)
    assert all(o.ok for o in sink.seen if (o.source, o.target) != ("bad", "web-2"))
    assert scheduler.stats().crashes == len(crashed)
    assert "probe bad crashed on target web-2" in caplog.text


async def test_probe_errors_pass_through_as_observations() -> None:
    clock = FakeClock()
    probe = FakeProbe("health", clock=clock).script("web-1", 1.0, Blind("timeout after 2s"), 0.0)
    sink = _Collector()
    scheduler = scheduling.Scheduler(
        _config(_command("health"), targets=1),
        clock=clock,
        sink=sink,
        probe_factory=probe_factory(probe),
    )
    task = asyncio.create_task(scheduler.run())
    await sink.until(lambda seen: len(seen) >= 4)
    await _stop(task)
    assert [(o.value, o.error) for o in sink.seen[:4]] == [
        (1.0, None), (None, "timeout after 2s"), (0.0, None), (0.0, None)
    ]  # fmt: skip
    assert scheduler.stats().errors == 1


async def test_a_hanging_probe_is_given_up_after_its_timeout_and_grace() -> None:
    clock = FakeClock()

    class Hanging(FakeProbe):
        async def observe(self, target: models.Target) -> observations.Observation:
            if target.id == "web-1":
                await asyncio.Event().wait()
            return await super().observe(target)

    probe = Hanging("health", clock=clock)
    sink = _Collector()
    scheduler = scheduling.Scheduler(
        _config(_command("health", timeout="100ms")),
        clock=clock,
        sink=sink,
        probe_factory=probe_factory(probe),
        grace_s=0.1,
    )
    task = asyncio.create_task(scheduler.run())
    await sink.until(lambda seen: any(o.target == "web-1" for o in seen))
    await _stop(task)
    hung = [o for o in sink.seen if o.target == "web-1"]
    assert hung[0].error == "probe did not return within 0.2s"


async def test_a_failing_sink_does_not_stop_observation(caplog) -> None:
    clock = FakeClock()
    probe = FakeProbe("health", clock=clock)
    delivered: list[observations.Observation] = []
    done = asyncio.Event()

    def sink(observation: observations.Observation) -> None:
        delivered.append(observation)
        if len(delivered) >= 5:
            done.set()
        raise OSError("store is down")

    scheduler = scheduling.Scheduler(
        _config(_command("health")), clock=clock, sink=sink, probe_factory=probe_factory(probe)
    )
    with caplog.at_level(logging.ERROR, logger="rollsafe.detect.scheduling"):
        task = asyncio.create_task(scheduler.run())
        await asyncio.wait_for(done.wait(), timeout=20)
        await _stop(task)
    assert "observation sink failed" in caplog.text


async def test_concurrency_is_bounded_by_the_semaphore() -> None:
    clock = FakeClock()
    gate = asyncio.Event()
    state = {"now": 0, "peak": 0}
    two_in_flight = asyncio.Event()

    class Gated(FakeProbe):
        async def observe(self, target: models.Target) -> observations.Observation:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            if state["now"] == 2:
                two_in_flight.set()
            try:
                await gate.wait()
            finally:
                state["now"] -= 1
            return await super().observe(target)

    probe = Gated("health", clock=clock)
    sink = _Collector()
    scheduler = scheduling.Scheduler(
        _config(_command("health", interval="10ms"), targets=6),
        clock=clock,
        sink=sink,
        probe_factory=probe_factory(probe),
        max_concurrency=2,
    )
    task = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(two_in_flight.wait(), timeout=20)
    for _ in range(50):  # let every other due pair try to start
        await asyncio.sleep(0)
    assert state["peak"] == 2
    gate.set()
    await sink.until(lambda _: len(sink.per_pair()) == 6)
    await _stop(task)
    assert state["peak"] == 2


async def test_first_runs_are_spread_over_the_interval() -> None:
    clock = FakeClock()
    loop = asyncio.get_running_loop()
    started: list[float] = []

    class Timed(FakeProbe):
        async def observe(self, target: models.Target) -> observations.Observation:
            started.append(loop.time())
            return await super().observe(target)

    probe = Timed("health", clock=clock)
    sink = _Collector()
    scheduler = scheduling.Scheduler(
        _config(_command("health", interval="1s"), targets=40),
        clock=clock,
        sink=sink,
        probe_factory=probe_factory(probe),
        rng=random.Random(7),
    )
    task = asyncio.create_task(scheduler.run())
    await sink.until(lambda _: len(sink.per_pair()) == 40)
    await _stop(task)
    first = started[:40]
    # Runs never start before their due time, so a burst would need every offset near one
    # instant; 40 uniform offsets over 1s span most of it.
    assert max(first) - min(first) > 0.5


async def test_cancellation_stops_in_flight_observations_and_closes_probes() -> None:
    clock = FakeClock()
    entered = asyncio.Event()
    cancelled = asyncio.Event()

    class Slow(FakeProbe):
        async def observe(self, target: models.Target) -> observations.Observation:
            entered.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
            raise AssertionError("unreachable")

    probe = Slow("health", clock=clock)
    sink = _Collector()
    scheduler = scheduling.Scheduler(
        _config(_command("health", timeout="60s")),
        clock=clock,
        sink=sink,
        probe_factory=probe_factory(probe),
    )
    task = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(entered.wait(), timeout=20)
    await _stop(task)
    assert cancelled.is_set()
    assert probe.closed
    assert sink.seen == []
    with pytest.raises(RuntimeError, match="runs once"):
        await scheduler.run()


async def test_observe_once_looks_now_and_feeds_the_sink() -> None:
    clock = FakeClock()
    health = FakeProbe("health", clock=clock).script("web-2", 0.0)
    load = FakeProbe("load", clock=clock, default=0.25)
    sink = _Collector()
    scheduler = scheduling.Scheduler(
        _config(_command("health"), _command("load", targets={"ids": ["web-1"]})),
        clock=clock,
        sink=sink,
        probe_factory=probe_factory(health, load),
    )
    one = await scheduler.observe_once("web-2")
    assert [(o.source, o.target, o.value) for o in one] == [("health", "web-2", 0.0)]
    every = await scheduler.observe_once()
    assert sorted((o.source, o.target) for o in every) == [
        ("health", "web-1"), ("health", "web-2"), ("health", "web-3"), ("load", "web-1")
    ]  # fmt: skip
    assert sink.seen == one + every
    with pytest.raises(KeyError):
        await scheduler.observe_once("nope")
    await scheduler.close()
    assert health.closed
    assert load.closed
    with pytest.raises(RuntimeError, match="closed"):
        await scheduler.observe_once()


def test_max_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        scheduling.Scheduler(_config(), clock=FakeClock(), sink=lambda _: None, max_concurrency=0)


async def test_a_watched_target_is_probed_at_once_then_at_the_watch_interval() -> None:
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "a"}, {"id": "b"}],
            "probes": [{"name": "p", "kind": "tcp", "port": 1, "interval": 3600}],
        }
    )
    seen: list[tuple[str, float]] = []
    got_three = asyncio.Event()

    class Quick:
        name = "p"

        async def observe(self, target: models.Target) -> observations.Observation:
            return observations.Observation(time=0.0, target=target.id, source="p", value=1.0)

        async def close(self) -> None:
            return None

    def sink(o: observations.Observation) -> None:
        seen.append((o.target, asyncio.get_running_loop().time()))
        if sum(1 for t, _ in seen if t == "a") >= 3:
            got_three.set()

    scheduler = scheduling.Scheduler(
        config,
        clock=clocks.SystemClock(),
        sink=sink,
        probe_factory=lambda _c, _clock: Quick(),  # type: ignore[arg-type,return-value]
        rng=random.Random(1),
    )
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0)  # run() arms the hour-long schedule
    assert scheduler.watch("nobody", duration=60, interval=0.01) == 0
    assert scheduler.watch("a", duration=60, interval=0.01) == 1
    async with asyncio.timeout(30):
        await got_three.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # "a" was looked at three times within the hour-long interval; "b" was left alone.
    assert [t for t, _ in seen].count("a") >= 3
    assert "b" not in [t for t, _ in seen]


async def test_a_watch_not_at_once_waits_one_watch_interval_first() -> None:
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "a"}],
            "probes": [{"name": "p", "kind": "tcp", "port": 1, "interval": 3600}],
        }
    )
    seen: list[float] = []
    second = asyncio.Event()

    class Quick:
        name = "p"

        async def observe(self, target: models.Target) -> observations.Observation:
            return observations.Observation(time=0.0, target=target.id, source="p", value=1.0)

        async def close(self) -> None:
            return None

    def sink(o: observations.Observation) -> None:
        seen.append(asyncio.get_running_loop().time())
        if len(seen) >= 2:
            second.set()

    scheduler = scheduling.Scheduler(
        config,
        clock=clocks.SystemClock(),
        sink=sink,
        probe_factory=lambda _c, _clock: Quick(),  # type: ignore[arg-type,return-value]
        rng=random.Random(2),
    )
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0)
    asked = asyncio.get_running_loop().time()
    assert scheduler.watch("a", duration=60, interval=0.2, at_once=False) == 1
    async with asyncio.timeout(30):
        await second.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # Nothing ran before one watch interval had passed; then it ran every interval. The
    # scheduler keeps deadlines on the wall clock and sleeps on the loop's monotonic one: the
    # two can disagree by a few milliseconds on a loaded machine, never by an interval.
    slack = 0.05
    assert seen[0] >= asked + 0.2 - slack
    assert seen[1] >= seen[0] + 0.2 - slack
