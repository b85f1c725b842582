"""Waiting for a long cloud operation: one poller with bounded backoff for every cloud.

Role in the loop (shared): a snapshot being taken, a disk being reset, an instance starting
are watched by calling a ``look`` until it returns a result. The pause between looks starts at
``interval`` and grows by ``BACKOFF`` up to ``max_interval``; the whole wait is bounded by
``limit`` and ends in ``DriverError`` naming what was last seen. A look that fails with
``DriverTemporaryError`` (throttled, a 5xx, no answer) is a late look, not the end of the wait:
the next one comes after the pause (longer if the error asks for it). Any other error ends the
wait at once: ``look`` raises ``DriverError`` for a state that will never come right.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from rollsafe.domain import errors

BACKOFF = 1.5
"""Each pause is this many times the one before, up to ``max_interval``."""

_T = TypeVar("_T")


class GaveUp(errors.DriverError):
    """The wait ran out; ``seen`` is what the last look saw (a caller may cancel and say so)."""

    def __init__(self, message: str, *, seen: str) -> None:
        super().__init__(message)
        self.seen = seen


Look = Callable[[], Awaitable[tuple[_T | None, str]]]
"""Returns ``(result or None while not there yet, what it saw)``."""


async def until(
    look: Look[_T],
    *,
    what: str,
    limit: float,
    interval: float,
    max_interval: float,
    hint: str = "",
) -> _T:
    """Call ``look`` until it returns a result; ``GaveUp`` (a DriverError) after ``limit`` s.

    ``hint`` is appended to the give-up message (what the operator can change).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    delay = interval
    seen = looked = "nothing yet"
    while True:
        pause = delay
        try:
            result, looked = await look()
            seen = looked
        except errors.DriverTemporaryError as exc:
            result, seen = None, f"{looked}; then {exc}"
            pause = max(delay, exc.retry_after or 0.0)
        if result is not None:
            return result
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise GaveUp(
                f"gave up waiting for {what} after {limit:g}s (last seen: {seen}){hint}", seen=seen
            )
        await asyncio.sleep(min(pause, remaining))
        delay = min(delay * BACKOFF, max_interval)
