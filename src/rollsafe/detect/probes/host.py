"""Host probe: CPU, memory, disk I/O and load of this machine, or of the target over a transport.

Without ``transport`` the probe reads the LOCAL host, whatever target it is asked about: it is
meant for a controller that runs on the machine it guards (or for the demo fleet on one
machine). With ``transport`` (``remote.RemoteHostProbe``) it reads the target's own ``/proc``
through SSH or a cloud's run-command agent. Both hand the same files to ``hoststats``, so a
figure means the same thing wherever it was read.

- ``cpu``: percent of CPU time busy since this probe's previous look for the same target. The
  local baseline is sampled when the probe is built, so the first look is already meaningful
  and nothing ever blocks waiting for an interval.
- ``memory``: percent of memory in use (``MemTotal - MemAvailable``).
- ``disk_io``: bytes read plus written per second since the previous look for the same
  target. The very first look has nothing to compare with and is an error ("warming up: first
  sample"), never a made-up zero.
- ``load``: the 1-minute load average.

The local files are read on the loop directly (``/proc`` answers in microseconds), so
``timeout`` cannot be exceeded.
"""

from __future__ import annotations

import time
from pathlib import Path

from rollsafe.config import models
from rollsafe.detect import probing
from rollsafe.detect.probes import hoststats, outcomes, remote
from rollsafe.domain import clocks, errors, ids, observations

_PROC = Path("/proc")
_BLOCK = Path("/sys/block")


class HostProbe:
    """Reads one metric of the local machine; keeps per-target samples for rates."""

    def __init__(self, config: models.HostProbe, clock: clocks.Clock) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        # A CPU baseline taken now makes the first look meaningful (disk rates still warm up:
        # their first interval would be the build-to-first-look gap, too long to mean much).
        self._baseline = local_sample() if config.metric == "cpu" else None
        self._previous: dict[str, hoststats.Sample] = {}

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
        try:
            sample = local_sample()
        except (OSError, hoststats.Unreadable) as exc:
            raise outcomes.CannotObserve(f"cannot read this host's /proc: {exc}") from None
        if target_id not in self._previous and self._baseline is not None:
            self._previous[target_id] = self._baseline
        return remote.metric_of(self._config.metric, self._previous, target_id, sample)

    async def close(self) -> None:
        """Nothing to release."""


def local_sample() -> hoststats.Sample:
    """This machine's reading of the files ``hoststats.READ_SCRIPT`` prints remotely."""
    sections = {
        "stat": (_PROC / "stat").read_text(),
        "meminfo": (_PROC / "meminfo").read_text(),
        "diskstats": (_PROC / "diskstats").read_text() if (_PROC / "diskstats").exists() else "",
        "loadavg": (_PROC / "loadavg").read_text(),
        "block": "\n".join(d.name for d in _BLOCK.iterdir()) if _BLOCK.is_dir() else "",
    }
    return hoststats.sample_from(sections, at=time.monotonic())


def create(config: models.Probe, clock: clocks.Clock) -> probing.Probe:
    """Factory registered under ``host``: local, or remote when the probe names a transport."""
    if not isinstance(config, models.HostProbe):
        raise errors.ConfigError(f"probe {config.name}: not a host probe")
    if config.transport is not None:
        return remote.RemoteHostProbe(config, clock)
    return HostProbe(config, clock)
