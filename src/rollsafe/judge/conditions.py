"""Conditions: how the judge reads one field of an observation and compares it with a threshold.

Every rule kind reduces to "does this observation's field satisfy ``op value``". Keeping that in
one place makes the edge cases uniform across rules:

* a field that is missing on an observation (``status`` of a refused connection, ``value`` of
  an HTTP check that did not record one) satisfies *no* comparison, not even ``!=``: absence
  is not a number;
* a non-finite number (NaN, infinity) is treated as missing, so evidence stays valid JSON and
  sums and means stay finite.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

from rollsafe.config import models
from rollsafe.domain import observations

__all__ = ["compare", "describe", "exact_sum", "field_of", "meets", "number"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def field_of(obs: observations.Observation, field: models.Field_) -> float | None:
    """The numeric ``field`` of ``obs`` (``latency`` reads ``latency_s``), None when absent."""
    raw: float | int | None
    if field == "value":
        raw = obs.value
    elif field == "status":
        raw = obs.status
    else:
        raw = obs.latency_s
    if raw is None:
        return None
    number = float(raw)
    return number if math.isfinite(number) else None


def compare(actual: float | None, op: models.Op, threshold: float) -> bool:
    """``actual op threshold``; a missing ``actual`` never satisfies anything."""
    if actual is None:
        return False
    return _OPS[op](actual, threshold)


def meets(obs: observations.Observation, condition: models.Condition) -> bool:
    """True when ``obs`` satisfies ``condition`` (see the module notes on missing fields)."""
    return compare(field_of(obs, condition.field), condition.op, condition.value)


def exact_sum(numbers: Sequence[float]) -> float:
    """The correctly rounded sum of ``numbers``; a sum too large for a float saturates."""
    # fsum is exact, so the result does not depend on the order values were added in. It
    # raises on overflow; absurd data must not crash the judge, so it saturates instead.
    try:
        return math.fsum(numbers)
    except OverflowError:
        return math.copysign(math.inf, sum(numbers))


def describe(condition: models.Condition) -> str:
    """``status >= 500``: the condition as people write it."""
    return f"{condition.field} {condition.op} {number(condition.value)}"


def number(x: float | None) -> str:
    """A short readable number for summaries: 4 significant digits, ``none`` when absent."""
    if x is None:
        return "none"
    return f"{x:.4g}"
