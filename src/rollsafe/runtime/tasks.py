"""Guarded background tasks: every task is named, its crash is logged, shutdown is ordered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from rollsafe.domain import errors

log = logging.getLogger("rollsafe.runtime")


class TaskGroup:
    """Named tasks started in order and cancelled in reverse order, each within a timeout.

    When a task marked ``critical`` ends unexpectedly (crash or early return), ``failed`` is set
    with its name: the daemon then stops rather than keep running half blind. A task ended by
    a refused write (``FencedOut``: another replica leads) is no failure: it sets ``fenced``,
    and the daemon ends the leader term it belonged to.
    """

    def __init__(self, *, stopping: asyncio.Event | None = None) -> None:
        # Tasks that end on their own once ``stopping`` is set (they watch it) are not failures.
        self._stopping = stopping or asyncio.Event()
        self._tasks: list[tuple[str, asyncio.Task[Any]]] = []
        self.failed = asyncio.Event()
        self.fenced = asyncio.Event()
        self.failure: str | None = None

    def start(
        self, name: str, coro: Coroutine[Any, Any, Any], *, critical: bool = True
    ) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(lambda t: self._ended(name, t, critical=critical))
        self._tasks.append((name, task))
        return task

    def _ended(self, name: str, task: asyncio.Task[Any], *, critical: bool) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, errors.FencedOut):
            log.warning("task %s stopped: %s", name, exc)
            self.fenced.set()
            return
        if exc is not None:
            log.error("task %s crashed", name, exc_info=exc)
        elif self._stopping.is_set():
            return
        elif critical:
            log.error("task %s ended unexpectedly", name)
        if critical and self.failure is None:
            self.failure = f"{name}: {exc!r}" if exc else f"{name} ended"
            self.failed.set()

    async def stop(self, *, grace: float = 10.0) -> None:
        """Cancel tasks newest first, waiting up to ``grace`` seconds for each."""
        for name, task in reversed(self._tasks):
            if task.done():
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                try:
                    await asyncio.wait_for(asyncio.shield(task), grace)
                except TimeoutError:
                    log.error("task %s did not stop within %.0fs", name, grace)  # noqa: TRY400
                    raise
                except Exception:  # noqa: BLE001 - already logged by _ended
                    log.debug("task %s ended with an error during shutdown", name)
        self._tasks.clear()
