"""Time as a dependency: the live loop reads the wall clock, tests and backtests a virtual one.

Times are float seconds since the Unix epoch (UTC) everywhere inside rollsafe.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Where the loop reads the current time."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()
