"""A fake probe for tests of the scheduler, the judge wiring, verification and the daemon.

It implements ``rollsafe.detect.probing.Probe`` and returns scripted observations per target,
in order; when a target's script runs out its last step repeats (a target that went down
stays down), and a target with no script gets ``default``::

    probe = FakeProbe("health", clock=clock)
    probe.script("web-1", 1.0, 1.0, 0.0)              # up, up, then down for good
    probe.script("web-2", Blind("timeout after 2s"))  # the detector cannot see web-2
    probe.script("web-3", RuntimeError("bug"))        # observe() raises: a crashing probe
    scheduler = Scheduler(config, clock=clock, sink=sink, probe_factory=probe_factory(probe))

A step is a number (``value``), ``None`` (an observation with no value), ``Blind(reason)``
(an error observation), an ``Observation`` (returned with this call's time, target and
source: script status, latency or text this way), or an exception instance (raised).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from rollsafe.config import models
from rollsafe.detect import probing
from rollsafe.domain import clocks, errors, ids, observations


@dataclasses.dataclass(frozen=True, slots=True)
class Blind:
    """A scripted probe error: the fake could not look."""

    reason: str = "scripted probe error"


Step = float | None | Blind | observations.Observation | BaseException


class FakeProbe:
    """Implements ``rollsafe.detect.probing.Probe``; see the module docstring."""

    def __init__(
        self,
        name: str = "fake",
        *,
        clock: clocks.Clock | None = None,
        default: Step = 1.0,
    ) -> None:
        self.name: str = name
        self.clock: clocks.Clock = clock or clocks.SystemClock()
        self.default: Step = default
        self.calls: list[str] = []  # target ids, in the order they were observed
        self.closed = False
        self._scripts: dict[str, list[Step]] = {}
        self._positions: dict[str, int] = {}
        self._called = asyncio.Event()

    def script(self, target_id: str, *steps: Step) -> FakeProbe:
        """Append ``steps`` to what ``target_id`` will see; returns the probe for chaining."""
        self._scripts.setdefault(target_id, []).extend(steps)
        return self

    def calls_for(self, target_id: str) -> int:
        return sum(1 for called in self.calls if called == target_id)

    async def wait_for_calls(self, count: int) -> None:
        """Return once ``observe`` was called at least ``count`` times in total."""
        while len(self.calls) < count:
            self._called.clear()
            await self._called.wait()

    async def observe(self, target: models.Target) -> observations.Observation:
        self.calls.append(target.id)
        self._called.set()
        step = self._next(target.id)
        if isinstance(step, BaseException):
            # A repeating step raises the same instance again: start its traceback afresh.
            raise step.with_traceback(None)
        now = self.clock.now()
        target_id = ids.TargetId(target.id)
        if isinstance(step, observations.Observation):
            return dataclasses.replace(step, time=now, target=target_id, source=self.name)
        if isinstance(step, Blind):
            return observations.Observation(
                time=now, target=target_id, source=self.name, error=step.reason
            )
        return observations.Observation(time=now, target=target_id, source=self.name, value=step)

    async def close(self) -> None:
        self.closed = True

    def _next(self, target_id: str) -> Step:
        steps: Sequence[Step] = self._scripts.get(target_id, ())
        if not steps:
            return self.default
        position = self._positions.get(target_id, 0)
        self._positions[target_id] = position + 1
        return steps[min(position, len(steps) - 1)]


def probe_factory(*fakes: FakeProbe) -> probing.ProbeFactory:
    """A probe factory handing out ``fakes`` by the configured probe's name."""
    by_name = {fake.name: fake for fake in fakes}

    def build(config: models.Probe, clock: clocks.Clock) -> probing.Probe:
        try:
            return by_name[config.name]
        except KeyError:
            raise errors.ConfigError(
                f"probe {config.name}: no FakeProbe of that name (have: {sorted(by_name)})"
            ) from None

    return build
