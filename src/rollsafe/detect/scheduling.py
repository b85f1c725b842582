"""Scheduling: when each probe looks at each target, so the judge gets a steady stream.

The scheduler builds one ``Probe`` per configured probe and runs, for every (probe, target it
selects) pair, one observation every ``interval``. Each pair starts at a random offset in
``[0, interval)`` and each run is delayed by a random ``[0, jitter)``, so that ten thousand
pairs spread over the interval instead of firing in one burst at every tick.

Mechanics, chosen for many pairs on few cores:

- the event loop's own timer heap wakes pairs (``loop.call_at``); due pairs queue up and a
  single dispatcher starts them as the ``max_concurrency`` semaphore allows, so at most that
  many observations (and tasks) are in flight, whatever the number of pairs;
- a pair never overlaps itself: its next run is armed when the current one finishes. A pair
  that falls more than a whole interval behind skips the ticks it missed (counted in
  ``stats().skipped``) rather than running them back to back;
- scheduling uses the loop's monotonic time; the ``Clock`` only stamps observations, so a
  wall clock that jumps never bunches or stalls probes;
- a probe that raises, or hangs past its timeout plus a grace period, yields an error
  observation for that pair (the detector is blind there) and the crash is logged: one
  broken probe never stops the others;
- ``stats()`` reports completed observations, errors, crashes, skipped ticks and the lag
  between a run's due time and its start (maximum and 99th percentile), the numbers
  benchmarks watch.

``run()`` runs until cancelled, then cancels in-flight observations and closes the probes.
``observe_once()`` looks at once with every applicable probe (verification uses it).

Rounds: the remote probes of one target reading it through the same cloud run-command
transport (``aws_ssm``, ``aliyun_assistant``, ``tencent_tat``, where a command costs seconds
and counts against a rate limit) are one schedulable unit, a ``_Group``: it ticks at the
shortest interval among them (jitter: the largest), and at each tick the probes whose own
interval has come round observe together inside one ``batching.Round``, which sends their
commands as ONE cloud command and hands each probe its own part. A probe in a group is so
observed about as often as its own interval asks, at the nearest tick (a 1 m log probe beside
a 15 s host probe joins every fourth round), never more often. SSH and local probes keep one
schedule per pair: a command on an open SSH connection costs milliseconds.

``watch(target, duration=, interval=)`` puts one target under close watch, because it was just
upgraded: its probes run at once and then every ``interval`` (when shorter than their own)
until ``duration`` has passed. An upgrade is when failures are most likely, and the time to
notice one is the probe interval, so a 15 s steady-state cadence would cost up to 15 s of
outage per bad upgrade; watching the few targets being upgraded closely costs little.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from rollsafe.config import models
from rollsafe.detect import probes, probing
from rollsafe.domain import clocks, ids, observations
from rollsafe.reach.transports import batching

logger = logging.getLogger(__name__)

GRACE_S = 5.0
"""Extra time a probe gets beyond its own timeout before the scheduler gives up on it."""

SHUTDOWN_TIMEOUT_S = 10.0
"""How long shutdown waits for cancelled observations, then for each probe to close."""

_LAG_SAMPLES = 10_000

Sink = Callable[[observations.Observation], None]


@dataclass(frozen=True, slots=True)
class Stats:
    """Counters since the scheduler was created."""

    completed: int
    errors: int
    crashes: int
    skipped: int
    max_lag_s: float
    lag_p99_s: float


@dataclass(slots=True, eq=False)
class _Pair:
    """One probe looking at one target, and where it is in its schedule."""

    probe: probing.Probe
    config: models.Probe
    target: models.Target
    base: float = 0.0  # nominal due time of the current run, loop time, before jitter
    timer: asyncio.TimerHandle | None = None
    watch_until: float = 0.0  # loop time until which ``watch_interval`` applies
    watch_interval: float = 0.0
    group: _Group | None = None  # the round it is observed in, over a cloud run-command
    due: float = -math.inf  # in a round: loop time from which its own interval has come round

    def interval(self, now: float) -> float:
        """The pair's interval at loop time ``now``: shorter while it is watched."""
        if now < self.watch_until and 0 < self.watch_interval < self.config.interval:
            return self.watch_interval
        return self.config.interval

    @property
    def jitter(self) -> float:
        return self.config.jitter

    @property
    def name(self) -> str:
        return f"probe:{self.config.name}:{self.target.id}"


@dataclass(slots=True, eq=False)
class _Group:
    """The pairs of one target sharing a cloud run-command transport: observed in rounds."""

    pairs: list[_Pair]
    target: models.Target
    transport: models.Transport
    base: float = 0.0
    timer: asyncio.TimerHandle | None = None

    def interval(self, now: float) -> float:
        return min(pair.interval(now) for pair in self.pairs)

    def due(self, now: float) -> list[_Pair]:
        """The pairs whose own interval has come round at this tick. Half a tick early
        counts, so that jitter never makes a probe wait a whole extra tick."""
        slack = self.interval(now) / 2.0
        return [pair for pair in self.pairs if pair.due <= now + slack]

    @property
    def jitter(self) -> float:
        return max(pair.config.jitter for pair in self.pairs)

    @property
    def name(self) -> str:
        return f"probe-round:{self.target.id}"


_Unit = _Pair | _Group


class Scheduler:
    """Runs every configured probe against every target it selects, on its interval."""

    def __init__(
        self,
        config: models.RollsafeConfig,
        *,
        clock: clocks.Clock,
        sink: Sink,
        probe_factory: probing.ProbeFactory = probes.build,
        max_concurrency: int = 256,
        grace_s: float = GRACE_S,
        rng: random.Random | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._clock = clock
        self._sink = sink
        self._grace = grace_s
        self._rng = rng or random.Random()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._probes: list[probing.Probe] = []
        self._pairs: list[_Pair] = []
        self._target_ids = {target.id for target in config.targets}
        for probe_config in config.probes:
            probe = probe_factory(probe_config, clock)
            self._probes.append(probe)
            self._pairs.extend(
                _Pair(probe=probe, config=probe_config, target=target)
                for target in config.targets
                if models.selects(probe_config.targets, target)
            )
        self._units: list[_Unit] = _units(self._pairs)
        self._ready: collections.deque[tuple[_Unit, float]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._stopping = False
        self._closed = False
        self._completed = 0
        self._errors = 0
        self._crashes = 0
        self._skipped = 0
        self._max_lag = 0.0
        self._lags: collections.deque[float] = collections.deque(maxlen=_LAG_SAMPLES)
        self._early_watches: list[tuple[str, float, float]] = []

    # ------------------------------------------------------------------ public

    def pairs(self) -> list[tuple[str, ids.TargetId]]:
        """Every (probe name, target id) the scheduler observes."""
        return [(pair.config.name, ids.TargetId(pair.target.id)) for pair in self._pairs]

    async def run(self) -> None:
        """Observe on schedule until cancelled; then stop in-flight work and close probes."""
        if self._started or self._closed:
            raise RuntimeError("a Scheduler runs once; build a new one")
        self._started = True
        loop = asyncio.get_running_loop()
        try:
            start = loop.time()
            for unit in self._units:
                unit.base = start + self._rng.random() * unit.interval(start)
                self._arm(unit)
            for target_id, until, interval in self._early_watches:
                self.watch(target_id, duration=until - start, interval=interval)
            self._early_watches.clear()
            await self._dispatch(loop)
        finally:
            await self._shutdown()

    async def observe_once(self, target_id: str | None = None) -> list[observations.Observation]:
        """Run every applicable probe once, now, on one target or all; also sent to the sink.

        Raises KeyError for a target id the configuration does not have.
        """
        if self._closed:
            raise RuntimeError("the scheduler is closed")
        if target_id is not None and target_id not in self._target_ids:
            raise KeyError(target_id)
        chosen = [p for p in self._pairs if target_id is None or p.target.id == target_id]
        rounds: dict[_Group, list[_Pair]] = {}
        for pair in chosen:
            if pair.group is not None:
                rounds.setdefault(pair.group, []).append(pair)

        async def once(pair: _Pair) -> list[observations.Observation]:
            async with self._semaphore:
                seen = await self._observe(pair)
            self._deliver(seen)
            return [seen]

        async def together(pairs: list[_Pair]) -> list[observations.Observation]:
            async with self._semaphore:
                seen = await self._observe_round(pairs)
            for one in seen:
                self._deliver(one)
            return seen

        done = await asyncio.gather(
            *(once(pair) for pair in chosen if pair.group is None),
            *(together(pairs) for pairs in rounds.values()),
        )
        return [seen for some in done for seen in some]

    def watch(
        self, target_id: str, *, duration: float, interval: float, at_once: bool = True
    ) -> int:
        """Probe ``target_id`` now (or in ``interval`` when not ``at_once``: it was just
        looked at), then every ``interval`` for ``duration`` seconds.

        Probes whose own interval is shorter keep it. Watching again extends the window.
        Asked before ``run()`` (a daemon replaying recent upgrades at start), it applies once
        the schedule starts. Returns the number of (probe, target) pairs watched.
        """
        if self._stopping or duration <= 0 or interval <= 0:
            return 0
        now = asyncio.get_running_loop().time()
        if not self._started:
            self._early_watches.append((target_id, now + duration, interval))
            return sum(1 for pair in self._pairs if pair.target.id == target_id)
        watched = 0
        for pair in self._pairs:
            if pair.target.id != target_id:
                continue
            watched += 1
            pair.watch_until = max(pair.watch_until, now + duration)
            pair.watch_interval = interval
            if at_once:
                pair.due = -math.inf  # in a round: in the very next one
        for unit in self._units:
            if unit.target.id != target_id:
                continue
            if unit.timer is not None and unit.timer.when() > now:
                # Armed for later: look now instead. A unit running right now re-arms itself
                # with the short interval when it finishes.
                soon = now if at_once else now + interval
                if soon < unit.timer.when():
                    unit.timer.cancel()
                    unit.base = soon
                    self._arm(unit)
        return watched

    def stats(self) -> Stats:
        return Stats(
            completed=self._completed,
            errors=self._errors,
            crashes=self._crashes,
            skipped=self._skipped,
            max_lag_s=self._max_lag,
            lag_p99_s=self.lag_p99(),
        )

    def lag_p99(self) -> float:
        """99th percentile of the recent start lags (due time -> start), in seconds."""
        if not self._lags:
            return 0.0
        ordered = sorted(self._lags)
        return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]

    def log_backlog(self) -> dict[str, tuple[int, int]]:
        """Per probe that follows remote files: bytes not read yet and files behind (see
        ``RemoteLogProbe.backlog``); for ``/metrics``."""
        found: dict[str, tuple[int, int]] = {}
        for probe in self._probes:
            backlog = getattr(probe, "backlog", None)
            if callable(backlog):
                found[probe.name] = backlog()
        return found

    async def close(self) -> None:
        """Close every probe (for callers that only used ``observe_once``). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for probe in self._probes:
            try:
                async with asyncio.timeout(SHUTDOWN_TIMEOUT_S):
                    await probe.close()
            except Exception:  # one probe failing to close must not stop the rest
                logger.exception("probe %s failed to close", probe.name)

    # ------------------------------------------------------------------ schedule

    def _arm(self, unit: _Unit) -> None:
        if self._stopping:
            return  # a probe that swallowed its cancellation must not re-arm after shutdown
        due = unit.base + self._rng.random() * unit.jitter
        loop = asyncio.get_running_loop()
        unit.timer = loop.call_at(due, self._on_due, unit, due)

    def _on_due(self, unit: _Unit, due: float) -> None:
        unit.timer = None
        self._ready.append((unit, due))
        self._wakeup.set()

    async def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            while not self._ready:
                self._wakeup.clear()
                await self._wakeup.wait()
            unit, due = self._ready.popleft()
            await self._semaphore.acquire()
            lag = max(0.0, loop.time() - due)
            self._lags.append(lag)
            self._max_lag = max(self._max_lag, lag)
            task = loop.create_task(self._run_unit(unit), name=unit.name)
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    async def _run_unit(self, unit: _Unit) -> None:
        try:
            if isinstance(unit, _Group):
                start = asyncio.get_running_loop().time()
                members = unit.due(start)
                for pair in members:
                    pair.due = start + pair.interval(start)
                seen = await self._observe_round(members) if members else []
            else:
                seen = [await self._observe(unit)]
        finally:
            self._semaphore.release()
        for one in seen:
            self._deliver(one)
        now = asyncio.get_running_loop().time()
        interval = unit.interval(now)
        unit.base += interval
        behind = now - unit.base
        if behind > interval:
            missed = math.floor(behind / interval)
            unit.base += missed * interval
            self._skipped += missed
        self._arm(unit)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None:
            # _observe and _deliver contain probe and sink failures; this is a scheduler bug,
            # and the pair it hit is no longer scheduled, so say so loudly.
            logger.error("%s failed; its pair stopped", task.get_name(), exc_info=failure)

    # ------------------------------------------------------------------ guarded observation

    async def _observe(self, pair: _Pair) -> observations.Observation:
        limit = pair.config.timeout + self._grace
        try:
            async with asyncio.timeout(limit):
                return await pair.probe.observe(pair.target)
        except TimeoutError:
            self._crashes += 1
            logger.warning(
                "probe %s did not return within %.1fs on target %s",
                pair.config.name,
                limit,
                pair.target.id,
            )
            reason = f"probe did not return within {limit:g}s"
        except Exception as exc:  # a broken probe must never stop detection
            self._crashes += 1
            logger.exception("probe %s crashed on target %s", pair.config.name, pair.target.id)
            reason = f"probe crashed: {type(exc).__name__}: {exc}"
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(pair.target.id),
            source=pair.config.name,
            error=reason[:500],
        )

    async def _observe_round(self, pairs: list[_Pair]) -> list[observations.Observation]:
        """``pairs`` (of one group) observed together: their commands go as one batch."""
        transport = getattr(pairs[0].config, "transport", None)
        round_ = batching.Round(config=transport, target_id=pairs[0].target.id, members=len(pairs))

        async def member(pair: _Pair) -> observations.Observation:
            try:
                return await self._observe(pair)
            finally:
                round_.leave()

        # The members' tasks are created inside `opened`, so each sees the round.
        try:
            with batching.opened(round_):
                return list(await asyncio.gather(*(member(pair) for pair in pairs)))
        finally:
            await round_.close()

    def _deliver(self, seen: observations.Observation) -> None:
        self._completed += 1
        if seen.error is not None:
            self._errors += 1
        try:
            self._sink(seen)
        except Exception:  # the sink's failure is its own; keep observing
            logger.exception("observation sink failed for %s/%s", seen.source, seen.target)

    async def _shutdown(self) -> None:
        self._stopping = True
        for unit in self._units:
            if unit.timer is not None:
                unit.timer.cancel()
                unit.timer = None
        self._ready.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_S)
            for task in pending:
                logger.warning("observation %s did not stop within shutdown", task.get_name())
        await self.close()


def _units(pairs: list[_Pair]) -> list[_Unit]:
    """What is scheduled: each pair on its own, but one group per (target, cloud transport)."""
    units: list[_Unit] = []
    groups: dict[tuple[str, models.Transport], _Group] = {}
    for pair in pairs:
        transport = getattr(pair.config, "transport", None)
        if transport is None or not batching.batched(transport):
            units.append(pair)
            continue
        key = (pair.target.id, transport)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(pairs=[], target=pair.target, transport=transport)
            units.append(group)
        group.pairs.append(pair)
        pair.group = group
    return units
