"""A fake log platform for tests of the log platform probes' shared part and of recordings.

It implements ``rollsafe.detect.probes.platforms.Querier`` over events kept in memory::

    platform = FakeLogPlatform()
    platform.add("web-1", 1700000000.0, "kernel: oom-kill:constraint=NONE")
    probe = platforms.PlatformProbe(config, clock, platform)

``count`` and ``newest`` answer from the events of the target whose time lies in the window,
as a platform would. ``fail_count`` / ``fail_newest`` make the next calls raise (a
``CannotObserve`` such as ``platforms.Unavailable``), ``hang_newest`` makes ``newest`` wait
until ``release``; ``calls`` records every question as ``(method, target, window)``.
"""

from __future__ import annotations

import asyncio
import dataclasses

from rollsafe.config import models
from rollsafe.detect.probes import outcomes, platforms


@dataclasses.dataclass
class FakeLogPlatform:
    """Implements ``platforms.Querier``; see the module docstring."""

    events: list[tuple[str, float, str]] = dataclasses.field(default_factory=list)
    calls: list[tuple[str, str, platforms.Window]] = dataclasses.field(default_factory=list)
    fail_count: list[outcomes.CannotObserve] = dataclasses.field(default_factory=list)
    fail_newest: list[outcomes.CannotObserve] = dataclasses.field(default_factory=list)
    hang_newest: bool = False
    closed: bool = False
    _release: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def add(self, target: str, time: float, line: str) -> None:
        self.events.append((target, time, line))

    def release(self) -> None:
        self._release.set()

    def _in(self, target: models.Target, window: platforms.Window) -> list[tuple[float, str]]:
        return sorted(
            (time, line)
            for who, time, line in self.events
            if who == target.id and window.start < time <= window.end
        )

    async def count(self, target: models.Target, window: platforms.Window) -> int:
        self.calls.append(("count", target.id, window))
        if self.fail_count:
            raise self.fail_count.pop(0)
        return len(self._in(target, window))

    async def newest(self, target: models.Target, window: platforms.Window) -> str | None:
        self.calls.append(("newest", target.id, window))
        if self.fail_newest:
            raise self.fail_newest.pop(0)
        if self.hang_newest:
            await self._release.wait()
        found = self._in(target, window)
        return found[-1][1] if found else None

    async def close(self) -> None:
        self.closed = True
