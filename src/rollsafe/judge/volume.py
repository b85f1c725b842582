"""How many requests a regression rule's bucket rests on (a rule's ``volume``), pure.

An error ratio is a share of requests, and a share of few requests is weak evidence: at 0.2
requests/s a 30 s bucket holds 6 requests, and one failed request is a 17% ratio, seventeen
times a margin of one point. The sequential test (``rollsafe.judge.sequential``) reads one
statistic per bucket and cannot see that. With ``volume`` (``models.RequestVolume``) a bucket
whose requests, the mean of the rate probe's values in the bucket and the one before it (the
ratio's own rate is usually taken over a minute) times the bucket's length, are fewer than
``min_requests`` is *thin*: it carries no evidence, before the upgrade or after it, like a
bucket without observations. A bucket with no known rate is not thin: a rule whose rate probe
has no data judges every bucket, as without ``volume``.

**Load matching** (``max_increase``; a regression rule against self). A healthy host's
latency rises with its load, and the self-comparison's margins (x2, or x1.3 given more
evidence) are set at what a busy hour stays below, not a load test at three times the
traffic. A bucket after the upgrade whose requests are above ``max_increase`` times the
reference's busiest bucket has no comparable reference: it is *beyond* the reference's load
and carries no evidence either (:func:`ceiling`). Only above: a healthy latency does not rise
as load falls, so a bucket quieter than the reference is still judged. The ceiling needs a
rate known in at least half the reference's buckets; otherwise there is none and every bucket
is judged, as without it. It is decided from the rate alone, never from the statistic tested
(the test's bound holds as long as healthy buckets at comparable load are exchangeable with
the reference's). The price: a regression that shows only beyond the reference's load (a
night upgrade, a fault only at the day's peak) is not judged by the rule at all.

What this does not do: tell a planned drain from a host the load balancer ejected (numbers
alone cannot), nor hide a host failing every request: a thin bucket leaves the ratio to the
rules that do not weigh it (``request-errors-sustained`` of web-service: over 4% in every
sample for 10 minutes, whatever the volume).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from rollsafe.config import models
from rollsafe.judge import conditions, windows

__all__ = ["Volume", "capped", "ceiling", "of"]


def of(
    wanted: models.RequestVolume | None, window: Callable[[str], windows.Window | None]
) -> Volume | None:
    """A rule's ``volume`` on one target, its rate window found by ``window`` (a probe
    name: that target's window of it); None when the rule has none."""
    if wanted is None:
        return None
    return Volume(window(wanted.probe), wanted.min_requests, wanted.max_increase)


def ceiling(found: Volume | None, start: float, end: float, width: float) -> float | None:
    """The most requests a bucket after the upgrade may rest on and still be compared with
    the reference ``[start, end)`` (buckets of ``width`` aligned to end at ``end``, as the
    reference's own): ``max_increase`` times its busiest bucket. None (no ceiling) without
    ``max_increase`` or when fewer than half the reference's buckets have a known rate."""
    if found is None or found.max_increase is None:
        return None
    count = math.floor((end - start) / width)
    first = end - count * width
    known = [
        x
        for i in range(count)
        if (x := found.requests(first + i * width, first + (i + 1) * width)) is not None
    ]
    if not known or 2 * len(known) < count:
        return None
    return found.max_increase * max(known)


def capped(found: Volume | None, top: float | None) -> Volume | None:
    """``found`` with the ceiling ``top`` (None: none)."""
    if found is None or found.ceiling == top:
        return found
    return dataclasses.replace(found, ceiling=top)


@dataclass(frozen=True, slots=True)
class Volume:
    """A rule's request-rate window on one target, the requests a bucket needs, and at
    most (``ceiling``, from the reference: :func:`ceiling`) after the upgrade."""

    window: windows.Window | None
    min_requests: float
    max_increase: float | None = None
    ceiling: float | None = None

    def requests(self, lo: float, hi: float) -> float | None:
        """Requests the bucket ``[lo, hi)`` rests on: the mean rate over ``[lo - (hi - lo),
        hi)`` times ``hi - lo``; None when no rate is known there. Half-open like the bucket:
        a rate taken at ``hi`` itself may arrive after the bucket is folded (at ``now = hi``),
        and the decision must not depend on the order of simultaneous observations."""
        if self.window is None:
            return None
        width = hi - lo
        rates = [
            x
            for obs in self.window.between(lo - width, hi, closed="left")
            if (x := conditions.field_of(obs, "value")) is not None
        ]
        if not rates:
            return None
        return math.fsum(rates) / len(rates) * width

    def thin(self, lo: float, hi: float) -> bool:
        """True when the bucket ``[lo, hi)`` rests on fewer than ``min_requests`` requests
        (never when its rate is unknown)."""
        found = self.requests(lo, hi)
        return found is not None and found < self.min_requests

    def skipped(self, lo: float, hi: float) -> bool:
        """True when the bucket ``[lo, hi)`` is no evidence: thin, or beyond the ceiling
        (more requests than any reference bucket times ``max_increase``)."""
        found = self.requests(lo, hi)
        if found is None:
            return False
        return found < self.min_requests or (self.ceiling is not None and found > self.ceiling)
