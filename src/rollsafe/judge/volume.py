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

What this does not do: tell a planned drain from a host the load balancer ejected (numbers
alone cannot), nor hide a host failing every request: a thin bucket leaves the ratio to the
rules that do not weigh it (``request-errors-sustained`` of web-service: over 4% in every
sample for 10 minutes, whatever the volume).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rollsafe.config import models
from rollsafe.judge import conditions, windows

__all__ = ["Volume", "of"]


def of(
    wanted: models.RequestVolume | None, window: Callable[[str], windows.Window | None]
) -> Volume | None:
    """A rule's ``volume`` on one target, its rate window found by ``window`` (a probe
    name: that target's window of it); None when the rule has none."""
    if wanted is None:
        return None
    return Volume(window(wanted.probe), wanted.min_requests)


@dataclass(frozen=True, slots=True)
class Volume:
    """A rule's request-rate window on one target and the requests a bucket needs."""

    window: windows.Window | None
    min_requests: float

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
