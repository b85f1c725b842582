"""Dispatching: routes messages to notifiers by severity, with retries, never blocking the loop.

``publish`` only enqueues; a guarded background task delivers with exponential backoff. A
notifier that keeps failing is logged and skipped: it can never delay or stop a rollback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from rollsafe.config import models
from rollsafe.domain import errors, verdicts
from rollsafe.notify import channels, messages

log = logging.getLogger("rollsafe.notify")


class Dispatcher:
    def __init__(
        self,
        routes: Sequence[tuple[channels.Notifier, verdicts.Severity]],
        *,
        attempts: int = 4,
        first_backoff: float = 1.0,
        queue_size: int = 1000,
    ) -> None:
        self._routes = list(routes)
        self._attempts = attempts
        self._first_backoff = first_backoff
        self._queue: asyncio.Queue[messages.Message] = asyncio.Queue(maxsize=queue_size)
        self.delivered = 0
        self.dropped = 0

    @classmethod
    def from_config(cls, configs: Sequence[models.Notifier]) -> Dispatcher:
        """One route per configured notifier, at its ``min_severity``."""
        return cls([(channels.build(c), verdicts.Severity.parse(c.min_severity)) for c in configs])

    def publish(self, message: messages.Message) -> None:
        """Enqueue for delivery; drops (and counts) when the queue is full rather than block."""
        if not self._routes:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error(  # noqa: TRY400 - a full queue is a condition, not an exception trace
                "notification queue full, dropped: %s", message.title
            )

    async def run(self) -> None:
        """Deliver until cancelled; then close the channels."""
        try:
            while True:
                message = await self._queue.get()
                await asyncio.gather(
                    *(
                        self._deliver(notifier, message)
                        for notifier, floor in self._routes
                        if message.severity >= floor
                    )
                )
        finally:
            for notifier, _ in self._routes:
                with contextlib.suppress(Exception):
                    await notifier.close()

    async def _deliver(self, notifier: channels.Notifier, message: messages.Message) -> None:
        delay = self._first_backoff
        for attempt in range(1, self._attempts + 1):
            try:
                await notifier.send(message)
            except errors.TemporaryError as exc:
                log.warning("notifier %s attempt %d failed: %s", notifier.name, attempt, exc)
                await asyncio.sleep(delay)
                delay *= 2
            except Exception:
                # A broken notifier must never take the loop down; log and move on.
                log.exception("notifier %s failed for good", notifier.name)
                return
            else:
                self.delivered += 1
                return
        log.error("notifier %s gave up after %d attempts", notifier.name, self._attempts)
