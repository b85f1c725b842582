"""The durable-controller skeleton: one serve loop for whatever the store holds open (execute).

Role in the loop: rollback runs (``execute.runs.Executor``) and rollouts
(``rollouts.conducting.RolloutConductor``) are durable things that a controller finds open in the
store and drives to their end, resuming wherever a crash left them. Both are served by one
``ServeLoop``, so the rules below hold for both and cannot drift apart:

- **poll and wake**: the store is read every ``poll_interval`` (items opened by another
  process: the CLI, another replica's API); ``wake`` reads it at once (an item opened here).
- **one guarded task per item**, named ``rollsafe-<kind>-<id>``: a crash is logged and the
  item is tried again after ``retry_after``; it never takes the loop down.
- **fencing**: ``serve(fence=...)`` binds the leader term's token (``storage.fencing``) for
  every task it starts, so each of their writes is refused once another replica leads. The
  first refused write (``FencedOut``) halts the whole loop: another replica drives these
  items now, and none of ours may act one step more.
- **halt vs stop**: ``stop`` is an orderly shutdown: ``closing`` is called (items stop at
  their next safe point) and tasks for which ``graced`` says so get ``shutdown_grace`` seconds
  to get there; the rest are cancelled at once (their state is durable). ``halt`` (the lease
  was lost, or a write was fenced out) gives no grace: everything is cancelled now.
- **fault hooks**: ``kill_at_boundary`` is the default fault hook of both (a TEST HOOK: with
  ``ROLLSAFE_FAULT_KILL_AT`` naming a boundary the process SIGKILLs itself there).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol

from rollsafe.domain import errors
from rollsafe.storage import fencing

__all__ = ["FAULT_ENV", "ServeLoop", "kill_at_boundary", "wait_any"]

_log = logging.getLogger(__name__)

FAULT_ENV = "ROLLSAFE_FAULT_KILL_AT"


def kill_at_boundary(boundary: str) -> None:
    """The default fault hook: SIGKILL this process if ``ROLLSAFE_FAULT_KILL_AT`` names it."""
    if os.environ.get(FAULT_ENV) == boundary:
        _log.warning("fault injection: killing the controller at %s", boundary)
        os.kill(os.getpid(), signal.SIGKILL)


async def wait_any(*events: asyncio.Event, seconds: float | None) -> None:
    """Until any of ``events`` is set, or ``seconds`` have passed (None: no time limit)."""
    if not events:
        await asyncio.sleep(seconds or 0.0)
        return
    waiters = [
        asyncio.create_task(event.wait(), name=f"rollsafe-wait-{i}")
        for i, event in enumerate(events)
    ]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class _Stateful(Protocol):
    """What ``drive`` returns: the item as stored last (its state is logged)."""

    @property
    def state(self) -> enum.Enum: ...


def _always(_item: str) -> bool:
    return True


def _nothing() -> None:
    return None


@dataclasses.dataclass(kw_only=True)
class ServeLoop:
    """Serves the open items of one kind until stopped or halted; see the module notes.

    ``find`` lists the ids of the open items (oldest first), ``drive`` drives one to its end
    or to a safe point and returns it as stored last. ``kind`` names the tasks and log lines.
    """

    kind: str
    find: Callable[[], Iterable[str]]
    drive: Callable[[str], Awaitable[_Stateful]]
    poll_interval: float
    shutdown_grace: float
    retry_after: float = 0.0
    graced: Callable[[str], bool] = _always
    closing: Callable[[], None] = _nothing
    # item -> time.monotonic() of its last crash
    _crashed: dict[str, float] = dataclasses.field(default_factory=dict, init=False, repr=False)

    async def serve(
        self,
        stop: asyncio.Event,
        *,
        fence: int | None = None,
        halt: asyncio.Event | None = None,
        wake: asyncio.Event | None = None,
    ) -> None:
        """Drive every open item until ``stop`` or ``halt`` is set (or a write is fenced out).

        ``fence``: the leader-lease token every write of the items carries; None keeps the
        one bound by the caller's term, if any.
        """
        halt = halt or asyncio.Event()
        wake = wake or asyncio.Event()
        # This task's context, copied into every item task created below.
        bound = fencing.bind(fence) if fence is not None else None
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            while not stop.is_set() and not halt.is_set():
                wake.clear()
                for item, task in list(tasks.items()):
                    if task.done():
                        del tasks[item]
                for item in self._open_items():
                    if item not in tasks and not self._resting(item):
                        tasks[item] = asyncio.create_task(
                            self._guarded(item, halt), name=f"rollsafe-{self.kind}-{item}"
                        )
                if not halt.is_set():
                    await wait_any(wake, stop, halt, seconds=self.poll_interval)
        finally:
            self.closing()
            await self._shut_down(tasks, grace=0.0 if halt.is_set() else self.shutdown_grace)
            if bound is not None:
                fencing.unbind(bound)

    def _open_items(self) -> list[str]:
        try:
            return list(self.find())
        except errors.StoreError:
            _log.exception("cannot list open %ss; trying again", self.kind)
            return []

    def _resting(self, item: str) -> bool:
        """True while a crashed item waits before it is tried again (no crash loop)."""
        crashed = self._crashed.get(item)
        return crashed is not None and time.monotonic() - crashed < self.retry_after

    async def _guarded(self, item: str, halt: asyncio.Event) -> None:
        try:
            driven = await self.drive(item)
        except asyncio.CancelledError:
            raise
        except errors.FencedOut as exc:
            # Another replica leads and drives this now: not one more step from here.
            _log.warning("%s %s left to the new leader: %s", self.kind, item, exc)
            halt.set()
            return
        except Exception:  # noqa: BLE001 - the guard of a background task: log, never vanish
            _log.exception("%s %s could not be driven; trying again soon", self.kind, item)
            self._crashed[item] = time.monotonic()
            return
        self._crashed.pop(item, None)
        _log.info("%s %s is %s", self.kind, item, driven.state.value)

    async def _shut_down(self, tasks: Mapping[str, asyncio.Task[None]], *, grace: float) -> None:
        """Graced tasks get ``grace`` to reach a safe point; the others stop now."""
        graced = []
        for item, task in tasks.items():
            if grace > 0 and self.graced(item):
                graced.append(task)
            else:
                task.cancel()
        if graced:
            _, late = await asyncio.wait(graced, timeout=grace)
            for task in late:
                _log.warning("%s task %s cancelled at shutdown", self.kind, task.get_name())
                task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
