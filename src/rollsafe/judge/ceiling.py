"""Far above the reference's worst, for a sustained while, at any time after the upgrade (judge).

The ``ceiling`` rule kind. The regression rules watch two hours after an upgrade and leave out
buckets busier than anything the hour before held (``volume.max_increase``): a latency that
climbs only at the day's peak, hours after a night upgrade, is judged by none of them. The
request errors have ``request-errors-sustained`` for that (a ceiling no healthy service
shows, without a time limit); latency has no absolute ceiling, so this one is relative: the
reference's *worst* bucket median (``bucket`` seconds) of the ``before`` period, and a bar
``max_increase`` times it and ``min_delta`` above it. The rule breaches when every closed
bucket of the last ``for`` (buckets aligned on ``upgrade + grace``; no end) has a median over
the bar: a sustained step, not a burst (a bucket's median ignores a minority of slow values,
and one bucket under the bar clears it).

Why the reference's worst and not its typical value: the bar then sits above everything the
hour before showed, so a healthy host's daily climb must reach ``max_increase`` times the
slowest 5 minutes of its reference, for 15 minutes, to be taken for a regression; a queue
(latency ``1 / (1 - utilisation)``) does that only past two thirds of its capacity when the
reference was idle. Heavy tails in the reference only raise the bar (fewer flags, never
more); heavy tails after it are a minority in a bucket's median.

With a day of history (the window's :class:`daily.Profile` for the field holds at least half
of the quarter hours within ``day_span`` of the same time the day before) the bar is also
``max_increase`` times the highest quarter-hour mean there: a peak the host reached the day
before, healthy, is not a regression today. The day before can only raise the bar; without
it the evidence says "no day before" and the hour before alone decides (never less than it).

The reading depends only on the values of closed buckets and on the profile's blocks: it
changes when a bucket closes or a value arrives (:func:`until`), so the replay's fast path
(``rules.decide``) and the full path give the same severity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rollsafe.config import models
from rollsafe.domain import observations
from rollsafe.judge import conditions, daily

__all__ = [
    "Reading",
    "closed_buckets",
    "day_bar",
    "read",
    "recent_span",
    "reference_worst",
    "until",
]


@dataclass(frozen=True, slots=True)
class Reading:
    """What a ceiling rule read at one moment (see the module notes)."""

    worst: float | None  # the reference's highest bucket median (None: too few buckets)
    day: float | None  # the day before's highest quarter-hour mean near this time (None: none)
    bar: float | None  # what every bucket of the last ``for`` must exceed
    lowest: float | None  # the lowest median of those buckets (None: not all of them counted)
    closed: int  # buckets closed since ``upgrade + grace``
    breached: bool
    reason: str  # why it could not judge ("" when it could)


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def _medians(
    rule: models.CeilingRule, values: Sequence[observations.Observation], start: float, count: int
) -> list[float | None]:
    """Per bucket ``[start + i bucket, start + (i + 1) bucket)``, ``i < count``: the median
    of its values, None with fewer than ``min_samples``."""
    groups: list[list[float]] = [[] for _ in range(count)]
    for obs in values:
        i = math.floor((obs.time - start) / rule.bucket)
        if 0 <= i < count:
            x = conditions.field_of(obs, rule.field)
            if x is not None:
                groups[i].append(x)
    return [_median(g) if len(g) >= rule.min_samples else None for g in groups]


def reference_worst(
    rule: models.CeilingRule, values: Sequence[observations.Observation], end: float
) -> float | None:
    """The highest bucket median of ``[end - before, end)``; None when fewer than half of its
    buckets hold ``min_samples`` values."""
    count = max(1, math.floor(rule.before / rule.bucket))
    medians = [m for m in _medians(rule, values, end - count * rule.bucket, count) if m is not None]
    if 2 * len(medians) < count:
        return None
    return max(medians)


def day_bar(rule: models.CeilingRule, profile: daily.Profile | None, at: float) -> float | None:
    """The highest quarter-hour mean within ``day_span`` of ``at`` a day earlier; None when
    there is no profile or it holds fewer than half of those quarter hours."""
    if profile is None:
        return None
    first = math.ceil((at - daily.DAY - rule.day_span) / daily.BLOCK)
    last = math.floor((at - daily.DAY + rule.day_span) / daily.BLOCK)
    means = [profile.mean(b * daily.BLOCK, (b + 1) * daily.BLOCK) for b in range(first, last)]
    held = [m for m in means if m is not None]
    if not means or 2 * len(held) < len(means):
        return None
    return max(held)


def closed_buckets(rule: models.CeilingRule, start: float, now: float) -> int:
    """Buckets aligned on ``start`` (``upgrade + grace``) that have closed by ``now``."""
    return max(0, math.floor((now - start) / rule.bucket + 1e-9))


def read(
    rule: models.CeilingRule,
    *,
    reference: Sequence[observations.Observation],
    reference_end: float,
    recent: Sequence[observations.Observation],
    start: float,
    now: float,
    profile: daily.Profile | None,
) -> Reading:
    """The rule's reading at ``now``: ``reference`` the values before the upgrade (ending at
    ``reference_end``), ``recent`` the values of the last ``for`` closed buckets from
    ``start`` (``upgrade + grace``) on, ``profile`` the field's day of block means."""
    need = math.ceil(rule.for_ / rule.bucket - 1e-9)
    closed = closed_buckets(rule, start, now)
    worst = reference_worst(rule, reference, reference_end)
    if worst is None:
        return Reading(None, None, None, None, closed, False, "too few values before the upgrade")
    end = start + closed * rule.bucket
    day = day_bar(rule, profile, end)
    bar = max(worst * rule.max_increase, worst + rule.min_delta)
    if day is not None:
        bar = max(bar, day * rule.max_increase)
    if closed < need:
        return Reading(worst, day, bar, None, closed, False, "the upgrade's grace and `for`")
    medians = _medians(rule, recent, end - need * rule.bucket, need)
    if any(m is None for m in medians):
        return Reading(worst, day, bar, None, closed, False, "a bucket of `for` without values")
    lowest = min(m for m in medians if m is not None)
    return Reading(worst, day, bar, lowest, closed, lowest > bar, "")


def until(rule: models.CeilingRule, start: float, now: float, next_value: float) -> float:
    """Until when a reading at ``now`` holds if nothing is folded in: the next bucket's close
    or the next value, whichever comes first."""
    return min(next_value, start + (closed_buckets(rule, start, now) + 1) * rule.bucket)


def recent_span(rule: models.CeilingRule, start: float, now: float) -> tuple[float, float]:
    """The ``[from, to)`` of the last ``for`` closed buckets (the values :func:`read` needs)."""
    end = start + closed_buckets(rule, start, now) * rule.bucket
    return end - math.ceil(rule.for_ / rule.bucket - 1e-9) * rule.bucket, end
