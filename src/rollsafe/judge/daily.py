"""The day before, at the same hours: block means of a signal kept for a day and more (judge).

A slow leak after an upgrade and the morning climb of memory that follows traffic look the
same on one day's slope: both rise a point or two an hour, steadily, for hours. What tells
them apart is the day before: a daily cycle climbed the same way at the same hours then, a
leak did not. A steady ``trend`` rule (``judge/trend.py``) compares the growth since the
upgrade with the growth at the same hours a day earlier, read from a :class:`Profile`.

A window keeps its values for the few hours its rules read (``rules.history_needed``); a
day of values every 10 s would be ten thousand observations per target. A profile keeps
instead, per block of :data:`BLOCK` seconds, the sum and count of the values that fell in
it, for :data:`KEEP` seconds: about 125 pairs of integers per (target, source, field),
whatever the probe interval. It is fed as values are folded into the window
(``windows.Window.insert``), before the window trims them, so it does not depend on when the
rules are judged.

The sums are integers (values in units of 1/1024), so a block's mean depends on the values
that fell in it, never on the order they arrived in. A restarted controller refills windows
for ``Engine.horizon`` only; its profiles know the day before again a day later, and until
then a steady rule judges without it (it says so in its evidence).
"""

from __future__ import annotations

import math

from rollsafe.config import models
from rollsafe.domain import observations
from rollsafe.judge import conditions

__all__ = ["BLOCK", "DAY", "KEEP", "Profile"]

BLOCK = 900.0
"""Seconds per block: a quarter of an hour, fine enough for the thirds of a 3 h span."""

DAY = 86400.0
KEEP = DAY + 7 * 3600.0
"""How far back blocks are kept: a day, plus the longest span a preset's steady rule reads
(6 h) and its grace; older blocks are dropped as newer ones open."""

_UNITS = 1024  # values are summed in units of 1/1024 (exact integer sums)
_KEPT_BLOCKS = int(KEEP / BLOCK)  # how many blocks back from the newest are kept


class Profile:
    """Sums and counts of one field's values per :data:`BLOCK` for the last :data:`KEEP`."""

    __slots__ = ("_blocks", "_newest", "field")

    def __init__(self, field: models.Field_) -> None:
        self.field = field
        self._blocks: dict[int, list[int]] = {}
        self._newest = -(2**62)

    def __len__(self) -> int:
        return len(self._blocks)

    def add(self, obs: observations.Observation) -> None:
        """Count ``obs``'s value (if it has a finite one) in its block."""
        x = obs.value if self.field == "value" else conditions.field_of(obs, self.field)
        if x is None or not math.isfinite(x):
            return
        block = math.floor(obs.time / BLOCK)
        if block < self._newest - _KEPT_BLOCKS:
            return  # older than anything a rule reads
        cell = self._blocks.get(block)
        if cell is None:
            self._blocks[block] = [round(x * _UNITS), 1]
            if block > self._newest:
                self._newest = block
                oldest = block - _KEPT_BLOCKS
                for stale in [b for b in self._blocks if b < oldest]:
                    del self._blocks[stale]
        else:  # the usual case: one more value in the newest block
            cell[0] += round(x * _UNITS)
            cell[1] += 1

    def mean(self, start: float, end: float) -> float | None:
        """The mean of the blocks that lie within ``[start, end)`` (whole blocks only, at
        least one); None when fewer than half of those blocks hold values."""
        first = math.ceil(start / BLOCK)
        last = math.floor(end / BLOCK)  # exclusive
        if last <= first:
            return None
        total = count = held = 0
        for block in range(first, last):
            cell = self._blocks.get(block)
            if cell is not None:
                total += cell[0]
                count += cell[1]
                held += 1
        if 2 * held < last - first:
            return None
        return total / count / _UNITS
