"""Dispatching: routes messages to notifiers, with retries, never blocking the loop.

``publish`` only enqueues: each route (one configured notifier) has its own queue and its own
guarded worker, so a notifier that is down, slow or backing off delays nobody else, and
nothing ever waits on a notifier on the way to a rollback. A route takes a message when its
severity reaches the route's floor (``min_severity``) and its event matches the route's
``events`` patterns (all events when none are given); the route's templates then reword it.

Delivery retries a ``TemporaryError`` with exponential backoff (or the server's
``Retry-After``) up to ``attempts`` times; a ``PermanentError`` or anything else is logged
and the message is given up for that notifier. A full queue drops the newest message for
that notifier (counted) rather than grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from rollsafe.config import models
from rollsafe.domain import clocks, errors, verdicts
from rollsafe.notify import channels, messages, templates

__all__ = ["Dispatcher", "Outcome", "Route"]

log = logging.getLogger("rollsafe.notify")

Outcome = str
"""What happened to one message at one notifier: delivered, retried, failed or dropped."""


@dataclass(frozen=True, slots=True)
class Route:
    """One notifier and which messages it takes."""

    notifier: channels.Notifier
    min_severity: verdicts.Severity = verdicts.Severity.WARNING
    events: tuple[str, ...] | None = None
    templates: Mapping[str, models.MessageTemplate] = field(default_factory=dict)

    def accepts(self, message: messages.Message) -> bool:
        if message.severity < self.min_severity:
            return False
        if self.events is None:
            return True
        return any(fnmatch.fnmatchcase(message.event, pattern) for pattern in self.events)

    @classmethod
    def from_config(cls, config: models.Notifier, *, clock: clocks.Clock | None = None) -> Route:
        return cls(
            notifier=channels.build(config, clock=clock),
            min_severity=verdicts.Severity.parse(config.min_severity),
            events=tuple(config.events) if config.events is not None else None,
            templates=dict(config.templates),
        )


class Dispatcher:
    """Delivers published messages through its routes until ``run`` is cancelled.

    ``on_outcome(notifier name, outcome)`` is told about every delivery, retry, give-up and
    drop (the daemon counts them for /metrics); it must not raise.
    """

    def __init__(
        self,
        routes: Sequence[Route | tuple[channels.Notifier, verdicts.Severity]],
        *,
        attempts: int = 4,
        first_backoff: float = 1.0,
        max_backoff: float = 60.0,
        queue_size: int = 1000,
        on_outcome: Callable[[str, Outcome], None] | None = None,
    ) -> None:
        self.routes = [
            r if isinstance(r, Route) else Route(notifier=r[0], min_severity=r[1]) for r in routes
        ]
        self._attempts = attempts
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._on_outcome = on_outcome
        self._queues: list[asyncio.Queue[messages.Message]] = [
            asyncio.Queue(maxsize=queue_size) for _ in self.routes
        ]
        self.outcomes: Counter[tuple[str, Outcome]] = Counter()

    @classmethod
    def from_config(
        cls,
        configs: Sequence[models.Notifier],
        *,
        clock: clocks.Clock | None = None,
        on_outcome: Callable[[str, Outcome], None] | None = None,
    ) -> Dispatcher:
        """One route per configured notifier."""
        return cls([Route.from_config(c, clock=clock) for c in configs], on_outcome=on_outcome)

    @property
    def delivered(self) -> int:
        return sum(n for (_, outcome), n in self.outcomes.items() if outcome == "delivered")

    @property
    def dropped(self) -> int:
        return sum(n for (_, outcome), n in self.outcomes.items() if outcome == "dropped")

    def publish(self, message: messages.Message) -> None:
        """Enqueue for every route that takes ``message``; never blocks, never raises."""
        for route, queue in zip(self.routes, self._queues, strict=True):
            if not route.accepts(message):
                continue
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self._count(route.notifier.name, "dropped")
                log.error(  # noqa: TRY400 - a full queue is a condition, not an exception trace
                    "notification queue of %s full, dropped: %s", route.notifier.name, message.title
                )

    async def run(self) -> None:
        """Deliver until cancelled (one worker per route); then close the channels."""
        workers = [
            asyncio.create_task(self._work(route, queue), name=f"rollsafe-notify-{i}")
            for i, (route, queue) in enumerate(zip(self.routes, self._queues, strict=True))
        ]
        try:
            if workers:
                await asyncio.gather(*workers)
            else:
                await asyncio.Event().wait()  # nothing to deliver: idle until cancelled
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            for route in self.routes:
                with contextlib.suppress(Exception):
                    await route.notifier.close()

    async def _work(self, route: Route, queue: asyncio.Queue[messages.Message]) -> None:
        while True:
            message = await queue.get()
            try:
                await self._deliver(route, templates.render(message, route.templates))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifier %s crashed on %s", route.notifier.name, message.event)

    async def _deliver(self, route: Route, message: messages.Message) -> None:
        notifier = route.notifier
        delay = self._first_backoff
        for attempt in range(1, self._attempts + 1):
            try:
                await notifier.send(message)
            except errors.TemporaryError as exc:
                if attempt == self._attempts:
                    break
                self._count(notifier.name, "retried")
                wait = exc.retry_after if exc.retry_after is not None else delay
                wait = min(wait, self._max_backoff)
                log.warning(
                    "notifier %s attempt %d failed: %s (again in %.1fs)",
                    notifier.name,
                    attempt,
                    exc,
                    wait,
                )
                await asyncio.sleep(wait)
                delay *= 2
            except Exception as exc:
                self._count(notifier.name, "failed")
                if isinstance(exc, errors.PermanentError):
                    log.error("notifier %s failed for good: %s", notifier.name, exc)  # noqa: TRY400
                else:
                    log.exception("notifier %s failed for good", notifier.name)
                return
            else:
                self._count(notifier.name, "delivered")
                return
        self._count(notifier.name, "failed")
        log.error("notifier %s gave up after %d attempts", notifier.name, self._attempts)

    def _count(self, name: str, outcome: Outcome) -> None:
        self.outcomes[(name, outcome)] += 1
        if self._on_outcome is not None:
            try:
                self._on_outcome(name, outcome)
            except Exception:
                log.exception("notification outcome listener failed")
