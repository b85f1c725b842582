"""Cohorts: during a rollout, is a canary worse than the targets not upgraded yet (pure)?

A rollout tells the engine which targets are *canaries* (upgraded, their bake under way) and
which are its *baseline* (waiting for their wave). A ``cohort`` rule then compares, for one
canary, its own aggregate with the pooled aggregate of the whole baseline cohort over the same
window ending at the same ``now``. Because both sides are measured at the same time, a change
that hits the whole fleet (a traffic peak, a slow dependency) moves both and is not blamed on
the release; a change only the canary shows is.

* the canary's values are those since its latest ``upgrade`` mark (within ``window``), so the
  period before its upgrade does not dilute the comparison; the baseline's are every
  baseline target's values in ``(now - window, now]``, pooled;
* ``mean`` averages the pooled values, ``ratio`` is the pooled share meeting ``when``, and
  ``rate`` is per 1m per target (the pooled sum over the pooled time watched);
* the limit is the baseline rules' one: ``baseline * max_increase`` (for a negative value the
  same distance above it) and at least ``min_delta`` more; a zero baseline is breached by any
  value of at least ``max(min_delta, 1e-9)``;
* a target in no cohort (no rollout, or not a canary) gets ok with ``applies: false``; fewer
  than ``min_samples`` values on either side is ok with ``no_data: true``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rollsafe.config import durations, models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import conditions, windows

__all__ = ["BASELINE", "CANARY", "COHORTS", "compare"]

CANARY = "canary"
BASELINE = "baseline"
COHORTS = frozenset({CANARY, BASELINE})
_EPSILON = 1e-9


def _sum(numbers: Sequence[float]) -> float:
    try:
        return math.fsum(numbers)  # exact: the result does not depend on the order
    except OverflowError:
        return math.copysign(math.inf, sum(numbers))


def _covered(start: float, end: float, first_value_time: float | None, floor: float) -> float:
    """Seconds of ``[start, end]`` somebody was looking (from the source's first value on)."""
    length = end - start
    if first_value_time is None or first_value_time <= start:
        return length
    return min(length, max(end - first_value_time, floor))


def _aggregate(
    rule: models.CohortRule,
    parts: Sequence[tuple[Sequence[observations.Observation], float]],
) -> tuple[float | None, int]:
    """The aggregate over pooled ``(values, seconds watched)`` parts, and its sample count."""
    values = [obs for part, _ in parts for obs in part]
    if rule.aggregate == "mean":
        numbers = [conditions.field_of(o, rule.field) for o in values]
        present = [x for x in numbers if x is not None]
        return (_sum(present) / len(present) if present else None), len(present)
    if rule.aggregate == "rate":
        numbers = [conditions.field_of(o, "value") for o in values]
        present = [x for x in numbers if x is not None]
        watched = sum(seconds for part, seconds in parts if part)
        if not present or watched <= 0:
            return None, len(present)
        return _sum(present) / watched * 60.0, len(present)
    when = rule.when
    if when is None:  # the model refuses aggregate=ratio without `when`; stay total anyway
        return None, 0
    matching = sum(1 for o in values if conditions.meets(o, when))
    return (matching / len(values) if values else None), len(values)


def _limit(base: float, max_increase: float) -> float:
    return base + abs(base) * (max_increase - 1.0)


def compare(
    rule: models.CohortRule,
    canary: windows.Window | None,
    baseline: Sequence[windows.Window | None],
    *,
    now: float,
    cohort: str | None,
    since: float | None = None,
    floor: float | None = None,
) -> tuple[verdicts.Severity, str, dict[str, Any]]:
    """Severity, summary and evidence of ``rule`` for one target at ``now``.

    ``cohort`` is the target's cohort (None: in none); ``baseline`` holds the windows of the
    baseline cohort's targets on the rule's probe (None for a target never observed);
    ``since`` is the target's latest upgrade mark; ``floor`` the probe's interval.
    """
    evidence: dict[str, Any] = {
        "probe": rule.probe,
        "aggregate": rule.aggregate,
        "field": rule.field,
        "when": None if rule.when is None else conditions.describe(rule.when),
        "window_s": rule.window,
        "max_increase": rule.max_increase,
        "min_delta": rule.min_delta,
        "min_samples": rule.min_samples,
        "cohort": cohort,
        "baseline_targets": len(baseline),
    }
    if cohort != CANARY:
        why = "no rollout is baking it" if cohort is None else f"it is in the {cohort} cohort"
        evidence.update(applies=False, no_data=True, breached=False)
        return verdicts.Severity.OK, f"{rule.probe}: not a canary ({why})", evidence

    start = now - rule.window
    if since is not None and start < since <= now:
        start = since
    floor_s = min(floor or 60.0, rule.window)
    canary_values = [] if canary is None else canary.between(start, now)
    canary_first = None if canary is None else canary.first_value_time
    own, own_n = _aggregate(rule, [(canary_values, _covered(start, now, canary_first, floor_s))])
    parts = []
    for window in baseline:
        if window is None:
            continue
        values = window.between(now - rule.window, now)
        parts.append((values, _covered(now - rule.window, now, window.first_value_time, floor_s)))
    base, base_n = _aggregate(rule, parts)
    evidence.update(
        since=start,
        canary=own,
        baseline=base,
        canary_samples=own_n,
        baseline_samples=base_n,
        applies=True,
    )
    if own is None or base is None or min(own_n, base_n) < rule.min_samples:
        evidence.update(no_data=True, breached=False)
        summary = (
            f"{rule.probe}: no data ({own_n} samples on the canary and {base_n} in the "
            f"baseline cohort of {len(baseline)}, {rule.min_samples} needed in each)"
        )
        return verdicts.Severity.OK, summary, evidence

    if base == 0:
        breached = own > 0 and own >= max(rule.min_delta, _EPSILON)
    else:
        breached = own > _limit(base, rule.max_increase) and own - base >= rule.min_delta
    evidence.update(increase=own / base if base else None, breached=breached, no_data=False)
    what = {
        "mean": f"mean {rule.field}",
        "rate": "rate per 1m",
        "ratio": f"share with {conditions.describe(rule.when) if rule.when else ''}",
    }[rule.aggregate]
    head = (
        f"{rule.probe} {what} {conditions.number(own)} on the canary vs "
        f"{conditions.number(base)} on {len(baseline)} not upgraded "
        f"(last {durations.format_duration(now - start)})"
    )
    factor = f"x{conditions.number(own / base)}" if base else "up from zero"
    limit = f"x{conditions.number(rule.max_increase)}"
    if breached:
        summary = f"{head}: {factor}, over the {limit} limit"
        severity = verdicts.Severity.parse(rule.severity)
    else:
        summary = f"{head}: within the {limit} limit"
        severity = verdicts.Severity.OK
    return severity, summary, evidence
