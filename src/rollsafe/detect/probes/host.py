"""Host probe: CPU, memory and disk I/O of the machine rollsafe itself runs on.

This probe reads the LOCAL host through psutil, whatever target it is asked about: it is meant
for a controller that runs on the machine it guards (or for the demo fleet on one machine).
Remote hosts are measured by their own exporters (Prometheus, CloudWatch) and reach rollsafe
through those probes and intakes.

- ``cpu``: percent of CPU time busy since this probe's previous look for the same target. The
  baseline is sampled when the probe is built, so the first look is already meaningful and
  nothing ever blocks waiting for an interval. The probe keeps its own samples instead of
  ``psutil.cpu_percent(None)``, whose single process-wide baseline every other caller would
  move.
- ``memory``: percent of memory in use.
- ``disk_io``: bytes read plus written per second since the previous look for the same
  target. The very first look has nothing to compare with and is an error ("warming up: first
  sample"), never a made-up zero.

The psutil calls read ``/proc`` and return in microseconds, so they run on the loop directly;
``timeout`` cannot be exceeded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil

from rollsafe.config import models
from rollsafe.detect.probes import outcomes
from rollsafe.domain import clocks, errors, ids, observations


@dataclass(frozen=True, slots=True)
class _CpuSample:
    busy: float
    total: float


@dataclass(frozen=True, slots=True)
class _DiskSample:
    at: float  # time.monotonic(): rates must not jump when the wall clock is set
    bytes: int


class HostProbe:
    """Reads one metric of the local machine; keeps per-target samples for rates."""

    def __init__(self, config: models.HostProbe, clock: clocks.Clock) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        self._cpu_baseline = _cpu_sample() if config.metric == "cpu" else None
        self._cpu: dict[str, _CpuSample] = {}
        self._disk: dict[str, _DiskSample] = {}

    async def observe(self, target: models.Target) -> observations.Observation:
        try:
            value = self._measure(target.id)
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=value,
        )

    def _measure(self, target_id: str) -> float:
        metric = self._config.metric
        if metric == "memory":
            return float(psutil.virtual_memory().percent)
        if metric == "cpu":
            return self._cpu_percent(target_id)
        return self._disk_rate(target_id)

    def _cpu_percent(self, target_id: str) -> float:
        now = _cpu_sample()
        before = self._cpu.get(target_id, self._cpu_baseline)
        self._cpu[target_id] = now
        if before is None:  # only when built for another metric; kept for type safety
            raise outcomes.CannotObserve("warming up: first sample")
        total = now.total - before.total
        if total <= 0:
            raise outcomes.CannotObserve("no CPU time elapsed since the previous sample")
        busy = max(0.0, now.busy - before.busy)
        return min(100.0, 100.0 * busy / total)

    def _disk_rate(self, target_id: str) -> float:
        counters = psutil.disk_io_counters()
        if counters is None:
            raise outcomes.CannotObserve("no disk I/O counters on this host")
        now = _DiskSample(at=time.monotonic(), bytes=counters.read_bytes + counters.write_bytes)
        before = self._disk.get(target_id)
        self._disk[target_id] = now
        if before is None:
            raise outcomes.CannotObserve("warming up: first sample")
        elapsed = now.at - before.at
        moved = now.bytes - before.bytes
        if elapsed <= 0:
            raise outcomes.CannotObserve("no time elapsed since the previous sample")
        if moved < 0:
            # A disk vanished or counters were reset: this interval has no honest rate.
            raise outcomes.CannotObserve("disk counters went backwards; sampling again")
        return moved / elapsed

    async def close(self) -> None:
        """Nothing to release."""


def _cpu_sample() -> _CpuSample:
    times = psutil.cpu_times()
    fields = times._asdict()
    # Guest time is already counted in user/nice on Linux; idle and iowait are not busy.
    total = sum(fields.values()) - fields.get("guest", 0.0) - fields.get("guest_nice", 0.0)
    busy = total - fields.get("idle", 0.0) - fields.get("iowait", 0.0)
    return _CpuSample(busy=busy, total=total)


def create(config: models.Probe, clock: clocks.Clock) -> HostProbe:
    """Factory registered under ``host``."""
    if not isinstance(config, models.HostProbe):
        raise errors.ConfigError(f"probe {config.name}: not a host probe")
    return HostProbe(config, clock)
