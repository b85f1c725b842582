"""Failure budgets: how many failed targets a wave, or a whole rollout, may have (pure).

Role in the loop (rollouts): after every target that fails its bake (or its upgrade), the
rollout asks whether a budget is spent; if so it halts at once. A budget has two optional
limits, both checked:

* ``max_failures``: spent when the failures are *more* than this (0: the first failure);
* ``max_failure_ratio``: spent when the failures are more than this share of the targets the
  budget covers (a wave's targets, or every target of the rollout); the share is computed
  exactly (``0.1`` of 10 targets tolerates exactly 1 failure), never with float rounding.

A budget with neither limit never halts anything. ``allowed`` answers how many failures fit.
"""

from __future__ import annotations

import fractions
import math
from dataclasses import dataclass

from rollsafe.config import models
from rollsafe.domain import rollouts

__all__ = ["Verdict", "allowed", "check", "from_config", "spent"]


def from_config(budget: models.FailureBudget) -> rollouts.Budget:
    """The configuration's budget as the frozen domain value a rollout keeps."""
    return rollouts.Budget(
        max_failures=budget.max_failures, max_failure_ratio=budget.max_failure_ratio
    )


def allowed(budget: rollouts.Budget, size: int) -> int | None:
    """How many failures among ``size`` targets the budget tolerates; None: no limit."""
    if size < 0:
        raise ValueError("size must not be negative")
    limits: list[int] = []
    if budget.max_failures is not None:
        limits.append(budget.max_failures)
    if budget.max_failure_ratio is not None:
        # Fraction(str(x)) is the decimal the person wrote, so 0.3 * 10 is exactly 3.
        share = fractions.Fraction(str(budget.max_failure_ratio)) * size
        limits.append(math.floor(share))
    return min(limits) if limits else None


def spent(budget: rollouts.Budget, *, failures: int, size: int) -> bool:
    """True when ``failures`` among ``size`` targets are more than the budget tolerates."""
    limit = allowed(budget, size)
    return limit is not None and failures > limit


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a budget is spent and, if so, a sentence saying which and by how much."""

    spent: bool
    reason: str = ""


def check(
    *,
    wave: rollouts.Budget,
    wave_failures: int,
    wave_size: int,
    wave_index: int,
    overall: rollouts.Budget,
    failures: int,
    planned: int,
) -> Verdict:
    """The wave's budget first, then the rollout's: the first one spent halts the rollout."""
    for budget, count, size, what in (
        (wave, wave_failures, wave_size, f"wave {wave_index + 1}"),
        (overall, failures, planned, "the rollout"),
    ):
        if spent(budget, failures=count, size=size):
            limit = allowed(budget, size)
            return Verdict(
                spent=True,
                reason=(
                    f"failure budget of {what} spent: {count} failed of {size} "
                    f"(at most {limit} tolerated{_limits(budget)})"
                ),
            )
    return Verdict(spent=False)


def _limits(budget: rollouts.Budget) -> str:
    parts = []
    if budget.max_failures is not None:
        parts.append(f"max_failures {budget.max_failures}")
    if budget.max_failure_ratio is not None:
        parts.append(f"max_failure_ratio {budget.max_failure_ratio:g}")
    return f": {', '.join(parts)}" if parts else ""
