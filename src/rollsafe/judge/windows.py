"""Windows: the judge's bounded memory of what one source saw on one target.

The engine keeps one :class:`Window` per ``(target, source)`` and folds every observation into
it; rules then read time ranges and "the last N values" out of it. Three things are kept, each
bounded:

* **values**: valid observations (no ``error``) in time order, trimmed to ``span`` seconds
  behind the newest one (plus the one value just before that horizon), but never fewer than
  ``keep`` of them (a ``consecutive: N`` threshold needs the last N values however old they
  are), and never more than ``max_samples``. With ``span`` = the longest history a rule reads
  plus a margin, every rule computes exactly what it would with unbounded memory, as long as
  it is evaluated at a ``now`` no more than the margin before the newest value;
* **errors**: probe errors newer than the newest value, at most ``error_memory`` of them. They
  are not values and no rule computes with them; they only tell whether the detector is blind;
* **pins**: copies of the values in a reference period before an ``upgrade`` mark, so a
  baseline rule can still compare against "before the upgrade" long after the period slid out
  of ``span``. Observations arriving later inside a pinned period are added to it too.

Everything is ordered by :func:`order_key`, a total order on observations (time first, then
their content), and trimming always keeps the same *set* whatever the insertion order. That is
what makes the judge deterministic: the same observations, fed in any order, leave the same
windows and so produce the same decisions.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from rollsafe.domain import observations

__all__ = ["OrderKey", "Streak", "Window", "order_key"]

_NumberKey = tuple[int, float]
OrderKey = tuple[float, int, str, _NumberKey, _NumberKey, _NumberKey, str, str]


def _number_key(x: float | None) -> _NumberKey:
    # None and NaN are not orderable as floats; give them fixed places before real numbers.
    if x is None:
        return (0, 0.0)
    if math.isnan(x):
        return (1, 0.0)
    return (2, float(x))


def order_key(obs: observations.Observation) -> OrderKey:
    """A total order on one source's observations: time, then content, errors after values.

    Two observations with the same key are interchangeable for every rule, so ties cannot make
    two evaluations of the same data differ.
    """
    return (
        obs.time,
        0 if obs.error is None else 1,
        obs.error or "",
        _number_key(obs.value),
        _number_key(None if obs.status is None else float(obs.status)),
        _number_key(obs.latency_s),
        obs.text or "",
        "" if obs.alert_state is None else str(obs.alert_state),
    )


def _time(obs: observations.Observation) -> float:
    return obs.time


@dataclass(frozen=True, slots=True)
class Streak:
    """Probe errors since the newest valid observation (the detector's blindness)."""

    count: int
    saturated: bool  # True when more errors may have happened than ``count`` remembers
    first: observations.Observation | None
    last: observations.Observation | None


@dataclass(slots=True)
class _Pin:
    start: float
    end: float
    values: list[observations.Observation]


def _insort(items: list[observations.Observation], obs: observations.Observation) -> None:
    # Observations almost always arrive in order: append without searching.
    key = order_key(obs)
    if not items or order_key(items[-1]) <= key:
        items.append(obs)
    else:
        bisect.insort_right(items, obs, key=order_key)


class Window:
    """Bounded, time-ordered observations of one source on one target (see module notes)."""

    def __init__(
        self,
        *,
        span: float,
        keep: int = 1,
        error_memory: int = 50,
        max_samples: int = 100_000,
    ) -> None:
        if span < 0 or keep < 1 or error_memory < 1 or max_samples < keep:
            raise ValueError("window bounds must be positive and max_samples >= keep")
        self.span = span
        self.keep = keep
        self.error_memory = error_memory
        self.max_samples = max_samples
        self._values: list[observations.Observation] = []
        self._errors: list[observations.Observation] = []
        self._pins: dict[float, _Pin] = {}
        self._first_value_time: float | None = None
        self._seen = False

    # ------------------------------------------------------------------ folding in

    def insert(self, obs: observations.Observation) -> None:
        """Fold ``obs`` in at its place in time; out-of-order arrivals are placed correctly."""
        self._seen = True
        if obs.error is not None:
            self._insert_error(obs)
            return
        _insort(self._values, obs)
        if self._first_value_time is None or obs.time < self._first_value_time:
            self._first_value_time = obs.time
        for pin in self._pins.values():
            if pin.start <= obs.time < pin.end:
                _insort(pin.values, obs)
                if len(pin.values) > self.max_samples:
                    del pin.values[0]
        self._trim_values()
        self._drop_errors_before_newest_value()

    def _insert_error(self, obs: observations.Observation) -> None:
        if self._values and order_key(obs) <= order_key(self._values[-1]):
            return  # older than the newest value: it cannot be part of the current streak
        _insort(self._errors, obs)
        if len(self._errors) > self.error_memory:
            del self._errors[0]

    def _trim_values(self) -> None:
        values = self._values
        horizon = values[-1].time - self.span
        # Keep the newest value older than the horizon too: a streak that reaches it is known
        # to have started at or before the horizon, so ``for`` needs no more history than span.
        cut = bisect.bisect_left(values, horizon, key=_time) - 1
        cut = min(cut, len(values) - self.keep)
        cut = max(cut, len(values) - self.max_samples)
        if cut > 0:
            del values[:cut]

    def _drop_errors_before_newest_value(self) -> None:
        if not self._errors:
            return
        newest = order_key(self._values[-1])
        cut = 0
        while cut < len(self._errors) and order_key(self._errors[cut]) <= newest:
            cut += 1
        if cut:
            del self._errors[:cut]

    def pin(self, at: float, *, start: float) -> None:
        """Remember the values in ``[start, at)`` (and later arrivals there) for a baseline."""
        lo = bisect.bisect_left(self._values, start, key=_time)
        hi = bisect.bisect_left(self._values, at, key=_time)
        kept = self._values[lo:hi][-self.max_samples :]
        self._pins[at] = _Pin(start=start, end=at, values=kept)

    def unpin(self, at: float) -> None:
        self._pins.pop(at, None)

    # ------------------------------------------------------------------ reading out

    @property
    def seen(self) -> bool:
        """True once any observation, value or error, has been folded in."""
        return self._seen

    @property
    def first_value_time(self) -> float | None:
        """Time of the oldest valid observation ever folded in (kept even after trimming)."""
        return self._first_value_time

    @property
    def retained(self) -> int:
        """How many observations the window holds in memory, pins included."""
        return (
            len(self._values) + len(self._errors) + sum(len(p.values) for p in self._pins.values())
        )

    def between(
        self, start: float, end: float, *, closed: Literal["right", "left"] = "right"
    ) -> list[observations.Observation]:
        """Values with time in ``(start, end]`` (``closed="right"``) or ``[start, end)``."""
        if closed == "right":
            lo = bisect.bisect_right(self._values, start, key=_time)
            hi = bisect.bisect_right(self._values, end, key=_time)
        else:
            lo = bisect.bisect_left(self._values, start, key=_time)
            hi = bisect.bisect_left(self._values, end, key=_time)
        return self._values[lo:hi]

    def pinned(self, at: float, *, start: float) -> list[observations.Observation] | None:
        """Pinned values in ``[start, at)`` for the mark at ``at``; None if nothing was pinned."""
        pin = self._pins.get(at)
        if pin is None:
            return None
        lo = bisect.bisect_left(pin.values, start, key=_time)
        return pin.values[lo:]

    def last(self, count: int, *, until: float) -> list[observations.Observation]:
        """The newest ``count`` values with time <= ``until``, oldest first."""
        hi = bisect.bisect_right(self._values, until, key=_time)
        return self._values[max(0, hi - count) : hi]

    def newest_first(self, *, until: float) -> Iterator[observations.Observation]:
        """Values with time <= ``until``, newest first (for walking back a streak)."""
        hi = bisect.bisect_right(self._values, until, key=_time)
        for i in range(hi - 1, -1, -1):
            yield self._values[i]

    def streak(self) -> Streak:
        """Probe errors newer than the newest value: the detector's current blindness."""
        errors = self._errors
        return Streak(
            count=len(errors),
            saturated=len(errors) >= self.error_memory,
            first=errors[0] if errors else None,
            last=errors[-1] if errors else None,
        )
