"""What the cloud monitoring probes share: the newest datapoint of one metric, as an observation.

Role in the loop (detect): the ``aliyun_cms`` and ``tencent_monitor`` probes ask a cloud's
monitoring service for one metric of one target over the last ``periods`` periods and observe
the newest datapoint, the shape of the ``cloudwatch`` observation: its value in ``value``, its
statistic, time and age in ``text`` (cloud monitors lag; a rule should tolerate a datapoint a
period or two old). Each kind only says how to ask (``Asker``); the timing, the timeout and
the observation are here, once.

The SDK call blocks, so it runs in a worker thread, bounded by the probe's ``timeout``. No
datapoint in the window is an error "no data", never a made-up 0: a metric that stopped
arriving is the detector going blind (or a dimension typo), not a healthy zero. Throttling,
5xx, refused credentials and timeouts are error observations naming the cloud's code.

History (``rollsafe record``): each kind also reads every datapoint of a span (``series``:
CloudWatch ``GetMetricData`` and CloudMonitor ``DescribeMetricList`` paged by their
``NextToken``, Cloud Monitor ``GetMonitorData`` in spans of at most 1,440 points), and
``replay`` turns them into the observation the live probe would have made at each step: the
newest datapoint at or before the step inside the probe's window, or "no data". A datapoint is
taken as known at its own timestamp; live, a cloud publishes it a little later, so a recording
sees each datapoint up to a period sooner than the live probe did.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import datetime
import math
import typing

from rollsafe.config import durations, models
from rollsafe.detect.probes import outcomes
from rollsafe.domain import clocks, ids, observations


@dataclasses.dataclass(frozen=True, slots=True)
class Datapoint:
    """The newest datapoint found: its time (epoch seconds), value and statistic's name."""

    time: float
    value: float
    statistic: str


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """The span asked for: ``(start, end]`` in epoch seconds, ``period`` whole seconds."""

    start: float
    end: float
    period: int


class Unavailable(outcomes.CannotObserve):
    """Throttled, or the service failing (5xx, no answer): worth asking again a little later."""


class Asker(typing.Protocol):
    """One monitoring service's question for one target (blocking: it runs in a thread)."""

    def prepare(self, target: models.Target) -> typing.Callable[[Window], Datapoint]:
        """The call for ``target``, templates rendered now (CannotObserve on a bad one)."""

    def series(self, target: models.Target, window: Window) -> list[Datapoint]:
        """Every datapoint of ``target`` in ``window``, paged (CannotObserve, Unavailable)."""

    def close(self) -> None:
        """Release the SDK clients."""


class DatapointProbe:
    """A cloud monitoring probe: one metric per target, its newest datapoint observed."""

    def __init__(
        self,
        *,
        name: str,
        period: float,
        periods: int,
        timeout: float,
        asker: Asker,
        clock: clocks.Clock,
    ) -> None:
        self.name = name
        self._period = int(period)
        self._periods = periods
        self._timeout = timeout
        self._asker = asker
        self._clock = clock

    async def observe(self, target: models.Target) -> observations.Observation:
        loop = asyncio.get_running_loop()
        started = loop.time()
        now = self._clock.now()
        window = Window(start=now - self._period * self._periods, end=now, period=self._period)
        try:
            ask = self._asker.prepare(target)
            try:
                async with asyncio.timeout(self._timeout):
                    point = await asyncio.to_thread(ask, window)
            except TimeoutError:
                raise outcomes.CannotObserve(outcomes.timeout_reason(self._timeout)) from None
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )
        age = max(0.0, now - point.time)
        stamp = datetime.datetime.fromtimestamp(point.time, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=point.value,
            latency_s=loop.time() - started,
            text=f"{point.statistic} at {stamp} ({durations.format_duration(age)} old)",
        )

    async def close(self) -> None:
        self._asker.close()

    @property
    def asker(self) -> Asker:
        return self._asker

    def window_before(self, time: float) -> Window:
        """The span the live probe asks about when it looks at ``time``."""
        return Window(start=time - self._period * self._periods, end=time, period=self._period)

    def replay(
        self, points: typing.Sequence[Datapoint], *, target: models.Target, times: list[float]
    ) -> list[observations.Observation]:
        """What the live probe would have observed at each of ``times`` (sorted) from
        ``points``: the newest datapoint at or before the time inside its window, else the
        probe's "no data" error."""
        ordered = sorted(points, key=lambda point: point.time)
        stamps = [point.time for point in ordered]
        span = durations.format_duration(self._period * self._periods)
        out: list[observations.Observation] = []
        for time in times:
            window = self.window_before(time)
            index = bisect.bisect_right(stamps, time) - 1
            if index < 0 or ordered[index].time < window.start:
                out.append(
                    outcomes.blind(
                        time=time,
                        target=target,
                        source=self.name,
                        reason=f"no data: no datapoint in the last {span}",
                    )
                )
                continue
            out.append(_observed(ordered[index], target=target, source=self.name, at=time))
        return out


def _observed(
    point: Datapoint,
    *,
    target: models.Target,
    source: str,
    at: float,
    latency_s: float | None = None,
) -> observations.Observation:
    age = max(0.0, at - point.time)
    stamp = datetime.datetime.fromtimestamp(point.time, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return observations.Observation(
        time=at,
        target=ids.TargetId(target.id),
        source=source,
        value=point.value,
        latency_s=latency_s,
        text=f"{point.statistic} at {stamp} ({durations.format_duration(age)} old)",
    )


def number(value: object) -> float | None:
    """``value`` as a finite float, or None (a null, a string, NaN: not a datapoint)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def describe(
    namespace: str, metric: str, dimensions: typing.Mapping[str, str], window: Window
) -> str:
    """``acs_ecs_dashboard CPUUtilization{instanceId=i-1} in the last 5m``, for "no data"."""
    shown = ",".join(f"{key}={value}" for key, value in dimensions.items())
    span = durations.format_duration(window.end - window.start)
    return f"{namespace} {metric}{{{shown}}} in the last {span}"
