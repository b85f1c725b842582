"""The ``ceiling`` rule's tests' replay: its reading after every bucket, as the engine's."""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.domain import observations
from rollsafe.judge import ceiling, daily


def first_breach(
    rule: models.CeilingRule,
    reference: list[observations.Observation],
    after: list[observations.Observation],
    up: float,
    profile: daily.Profile | None = None,
) -> float | None:
    """The first bucket close at which ``rule`` breaches, the upgrade marked at ``up``; the
    profile is fed as the engine's is: each value once it has arrived."""
    start = up + rule.grace
    last = after[-1].time if after else start
    fed = i = 0
    k = 1
    while start + k * rule.bucket <= last:
        now = start + k * rule.bucket
        while profile is not None and fed < len(after) and after[fed].time < now:
            profile.add(after[fed])
            fed += 1
        lo, hi = ceiling.recent_span(rule, start, now)
        while i < len(after) and after[i].time < lo:
            i += 1
        reading = ceiling.read(
            rule,
            reference=reference,
            reference_end=up,
            recent=[o for o in after[i:] if o.time < hi],
            start=start,
            now=now,
            profile=profile,
        )
        if reading.breached:
            return now
        k += 1
    return None
