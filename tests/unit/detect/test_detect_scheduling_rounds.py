"""The scheduler's rounds: a target's remote probes over a cloud run-command go as one command.

The cloud is stood in for by ``rollsafe.testing.FakeTransport`` with an ``aws_ssm``
configuration (so the scheduler groups its probes): it runs each script on this machine,
counting the calls per target.
SSH and local probes keep one schedule per pair.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

from rollsafe.config import models
from rollsafe.detect import probing, scheduling
from rollsafe.detect.probes import remote
from rollsafe.domain import clocks, observations
from rollsafe.testing import FakeClock, FakeTransport

SSM = {"kind": "aws_ssm", "region": "eu-west-1"}


def _cloud(config: models.Transport) -> FakeTransport:
    """Stands in for the cloud: counts the commands per target, runs them on this machine."""
    return FakeTransport(kind=config.kind, config=config)


def _config(tmp_path: Path, transport: dict[str, object]) -> models.RollsafeConfig:
    remote_probe = {"transport": "fleet", "interval": "50ms", "timeout": 10}
    return models.RollsafeConfig.model_validate(
        {
            "transports": {"fleet": transport},
            "targets": [{"id": f"web-{i}", "vars": {"instance_id": f"i-{i}"}} for i in (1, 2)],
            "probes": [
                {"kind": "host", "name": "memory", "metric": "memory", **remote_probe},
                {"kind": "host", "name": "load", "metric": "load", **remote_probe},
                {
                    "kind": "log",
                    "name": "errors",
                    "path": str(tmp_path / "{id}.log"),
                    "patterns": ["ERROR"],
                    **remote_probe,
                },
            ],
        }
    )


def _factory(cloud: FakeTransport) -> probing.ProbeFactory:
    def build(config: models.Probe, clock: clocks.Clock) -> probing.Probe:
        if isinstance(config, models.HostProbe):
            return remote.RemoteHostProbe(config, clock, transport=cloud)
        assert isinstance(config, models.LogProbe)
        return remote.RemoteLogProbe(config, clock, transport=cloud)

    return build


class _Seen:
    """The sink: keeps observations and wakes the test when one arrives."""

    def __init__(self) -> None:
        self.all: list[observations.Observation] = []
        self._arrived = asyncio.Event()

    def __call__(self, observation: observations.Observation) -> None:
        self.all.append(observation)
        self._arrived.set()

    async def until(self, scheduler: scheduling.Scheduler, count: int) -> None:
        task = asyncio.create_task(scheduler.run())
        try:
            async with asyncio.timeout(60):
                while len(self.all) < count:
                    self._arrived.clear()
                    await self._arrived.wait()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_each_round_of_a_target_is_one_cloud_command(tmp_path: Path) -> None:
    for i in (1, 2):
        (tmp_path / f"web-{i}.log").write_text("")
    config = _config(tmp_path, SSM)
    assert config.probes[0].transport is not None
    cloud = _cloud(config.probes[0].transport)
    seen = _Seen()
    scheduler = scheduling.Scheduler(
        config, clock=FakeClock(start=0.0), sink=seen, probe_factory=_factory(cloud)
    )
    await seen.until(scheduler, 3 * 2 * 4)  # three probes, two targets, four rounds
    per_target = collections.Counter(o.target for o in seen.all)
    for target in ("web-1", "web-2"):
        observed = per_target[target]
        assert observed % 3 == 0  # rounds are whole: every probe of the target each time
        # One command per round (the last may have been sent when the test stopped).
        assert observed // 3 <= cloud.calls[target] <= observed // 3 + 1
    # Each command carried the round: one /proc reading for both host probes, one log read.
    for script in cloud.scripts:
        started = [line.split()[:2] for line in script.splitlines() if line.startswith("part ")]
        assert started == [["part", "0"], ["part", "1"]]
    assert all(o.ok for o in seen.all), [o.error for o in seen.all if not o.ok]


async def test_observe_once_makes_one_command_per_target(tmp_path: Path) -> None:
    config = _config(tmp_path, SSM)
    assert config.probes[0].transport is not None
    cloud = _cloud(config.probes[0].transport)
    scheduler = scheduling.Scheduler(
        config, clock=FakeClock(start=0.0), sink=lambda _: None, probe_factory=_factory(cloud)
    )
    seen = await scheduler.observe_once()
    await scheduler.close()
    assert len(seen) == 6
    assert cloud.calls == {"web-1": 1, "web-2": 1}
    errors = {o.source: o.error for o in seen if o.target == "web-1"}
    assert errors == {
        "memory": None,
        "load": None,
        "errors": "file not found: " + str(tmp_path / "web-1.log"),
    }


async def test_ssh_probes_keep_their_own_schedule(tmp_path: Path) -> None:
    config = _config(
        tmp_path, {"kind": "ssh", "user": "probe", "known_hosts": str(tmp_path / "known_hosts")}
    )
    assert config.probes[0].transport is not None
    cloud = _cloud(config.probes[0].transport)  # counts the commands; runs them here
    scheduler = scheduling.Scheduler(
        config, clock=FakeClock(start=0.0), sink=lambda _: None, probe_factory=_factory(cloud)
    )
    await scheduler.observe_once("web-1")
    await scheduler.close()
    # No round: the log probe its own command, the two host probes share one reading.
    assert cloud.calls["web-1"] == 2


async def test_a_watched_target_is_observed_in_rounds_at_the_watch_interval(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, SSM)
    hourly = [p.model_copy(update={"interval": 3600.0}) for p in config.probes]
    config = config.model_copy(update={"probes": hourly})
    assert config.probes[0].transport is not None
    cloud = _cloud(config.probes[0].transport)
    seen = _Seen()
    scheduler = scheduling.Scheduler(
        config, clock=FakeClock(start=0.0), sink=seen, probe_factory=_factory(cloud)
    )
    # Asked before the schedule starts (a daemon replaying recent upgrades): applied at start.
    # Hourly probes look only because of the watch: three rounds of web-1's three probes.
    assert scheduler.watch("web-1", duration=600, interval=0.05) == 3
    await seen.until(scheduler, 9)
    watched = [o for o in seen.all if o.target == "web-1"]
    assert len(watched) >= 9
    assert cloud.calls["web-1"] >= 3
    assert cloud.calls["web-1"] <= len(watched) // 3 + 1  # still one command per round


async def test_a_probe_with_a_longer_interval_joins_only_the_rounds_it_is_due_in(
    tmp_path: Path,
) -> None:
    (tmp_path / "web-1.log").write_text("")
    config = _config(tmp_path, SSM)
    slower = [
        p.model_copy(update={"interval": 0.2}) if p.name == "errors" else p for p in config.probes
    ]
    config = config.model_copy(update={"probes": slower})  # host probes 50 ms, the log 200 ms
    assert config.probes[0].transport is not None
    cloud = _cloud(config.probes[0].transport)
    seen = _Seen()
    scheduler = scheduling.Scheduler(
        config, clock=FakeClock(start=0.0), sink=seen, probe_factory=_factory(cloud)
    )
    await seen.until(scheduler, 2 * 2 * 16)
    counts = collections.Counter((o.target, o.source) for o in seen.all)
    for target in ("web-1", "web-2"):
        rounds = counts[(target, "memory")]
        assert rounds == counts[(target, "load")]
        # About one round in four; never every round, as before rounds took only due probes.
        assert 1 <= counts[(target, "errors")] <= rounds // 2 + 1
    assert (
        sum(cloud.calls.values()) <= counts[("web-1", "memory")] + counts[("web-2", "memory")] + 2
    )
