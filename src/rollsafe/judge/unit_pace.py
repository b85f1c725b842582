"""systemd units failing as often as before the upgrade (judge, pure): which units' failures a
rate rule with ``unit_pace_before`` counts.

A host's syslog often has a unit that fails on its own schedule, whatever release the service
runs: ``motd-news.service`` with no route to its news server, a ``fwupd-refresh`` timer, an
agent whose endpoint is gone. It failed every 10 minutes for the hour before the upgrade and
goes on doing so after; the upgrade did not bring it, and rolling back will not stop it. A
unit that never failed before and fails now, or one that fails much faster now (a loop where
a failure once an hour was), is the upgrade's news. So failures are counted per unit: a
unit's failures in the rule's window count when they come at more than ``increase`` times
the pace that unit failed at in the reference period before the upgrade (the same period a
baseline reads: ending where the upgrade began); a unit with no failure then counts from its
first failure, exactly as a rule without ``unit_pace_before`` counts it.

The units are read as a rule's ``units`` reads them (``judge/units.py``): the names in the
observation's text, its newest event's first line and the log probe's ``[units: ...]`` list.
An observation naming several units (two failed within one read) has its count shared evenly
among them, in the window and in the reference alike. An observation naming none (a count
from a metric, a ``Failed to start <description>.`` line) cannot be set against a unit's
past and always counts: a guard that cannot tell must not hide a failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from rollsafe.domain import observations
from rollsafe.judge import conditions, units

__all__ = ["UNNAMED", "Counted", "counted", "failures"]

UNNAMED = ""  # the unit of an observation whose text names none


class Counted(NamedTuple):
    """What a window's failures come to: ``total``, the failures that count;
    ``as_before``: the units left out (failing no faster than before the upgrade), each with
    its failures in the window and in the reference period."""

    total: float
    as_before: dict[str, tuple[float, float]]


def failures(values: Iterable[observations.Observation]) -> dict[str, float]:
    """Per unit, the failures ``values`` report about it (an observation's count shared
    evenly among the units its text names; ``UNNAMED`` for those naming none)."""
    found: dict[str, float] = {}
    for obs in values:
        number = conditions.field_of(obs, "value")
        if number is None or number <= 0:
            continue
        named = units.named(obs.text) or (UNNAMED,)
        share = number / len(named)
        for unit in named:
            found[unit] = found.get(unit, 0.0) + share
    return found


def counted(
    now: dict[str, float],
    before: dict[str, float],
    *,
    covered: float,
    before_covered: float,
    increase: float,
) -> Counted:
    """The failures of ``now`` (per unit, over ``covered`` seconds) that count against
    ``before`` (per unit, over ``before_covered`` seconds before the upgrade; empty or 0 s:
    nothing to compare with, every failure counts)."""
    total = 0.0
    as_before: dict[str, tuple[float, float]] = {}
    for unit, number in sorted(now.items()):
        earlier = before.get(unit, 0.0) if before_covered > 0 else 0.0
        # Faster than ``increase`` times its pace before: number / covered against
        # earlier / before_covered, multiplied out (no division by a zero pace).
        if (
            unit == UNNAMED
            or earlier <= 0
            or number * before_covered > increase * earlier * covered
        ):
            total += number
        else:
            as_before[unit] = (number, earlier)
    return Counted(total, as_before)
