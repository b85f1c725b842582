"""Wave arithmetic: a plan's wave sizes and the eligible targets become frozen waves (pure).

Role in the loop (rollouts): when a rollout is opened, the plan's ``waves`` (counts and
percentages, cumulative) are applied to the targets it selects, in configuration order, and
the result is frozen into the rollout (``rollouts.RolloutSpec``). Rules:

* a size is how many targets have been upgraded once the wave is done: ``5`` is five
  targets, ``10%`` is a tenth of the eligible targets rounded *up* (so a non-zero share is at
  least one target), and neither can exceed the fleet;
* a wave that would add no target (``1`` then ``10%`` of 8 targets) is left out, so every
  wave has at least one target; targets beyond the last wave's size are not in the rollout
  (end with ``100%`` to reach the whole fleet);
* percentages are computed exactly on the decimal written (``Fraction``), so ``30%`` of 10
  is 3, never 4 by float rounding.
"""

from __future__ import annotations

import fractions
import math
from collections.abc import Sequence
from typing import TypeVar

from rollsafe.config import models
from rollsafe.domain import ids, rollouts
from rollsafe.rollouts import budgets

__all__ = ["bake_rules_of", "build_spec", "cumulative", "selected", "size_label", "split"]

T = TypeVar("T")


def cumulative(size: int | str, total: int) -> int:
    """How many of ``total`` targets are upgraded once a wave of ``size`` is done."""
    if total < 0:
        raise ValueError("total must not be negative")
    if isinstance(size, int):
        if size < 1:
            raise ValueError(f"a wave of {size} targets is empty")
        return min(size, total)
    text = size.strip()
    if not text.endswith("%"):
        raise ValueError(f"{size!r} is neither a count nor a percentage")
    share = fractions.Fraction(text[:-1]) / 100
    if not 0 < share <= 1:
        raise ValueError(f"{size!r} is not a share of the fleet (0% < size <= 100%)")
    return min(total, math.ceil(share * total))


def size_label(size: int | str) -> str:
    """A wave size as people wrote it: ``"5"``, ``"10%"``."""
    return str(size)


def split(items: Sequence[T], sizes: Sequence[int | str]) -> list[tuple[int, tuple[T, ...]]]:
    """``items`` cut into waves by cumulative ``sizes``: ``(index in sizes, items)`` pairs.

    Waves that add nothing are left out; every item appears at most once, in order.
    """
    out: list[tuple[int, tuple[T, ...]]] = []
    done = 0
    for position, size in enumerate(sizes):
        upto = cumulative(size, len(items))
        if upto > done:
            out.append((position, tuple(items[done:upto])))
            done = upto
    return out


def selected(config: models.RollsafeConfig, plan: models.RolloutPlan) -> list[models.Target]:
    """The targets the plan's selector picks, in configuration order."""
    return [t for t in config.targets if models.selects(plan.targets, t)]


def bake_rules_of(config: models.RollsafeConfig, plan: models.RolloutPlan) -> tuple[str, ...]:
    """The rules that judge a bake: the plan's ``bake_rules``, or every configured rule."""
    if plan.bake_rules:
        return tuple(plan.bake_rules)
    return tuple(rule.id for rule in config.rules)


def build_spec(
    config: models.RollsafeConfig, plan: models.RolloutPlan, eligible: Sequence[str]
) -> rollouts.RolloutSpec:
    """The frozen spec of a rollout of ``plan`` over the ``eligible`` target ids."""
    entries = list(plan.waves)
    waves = []
    for index, (position, targets) in enumerate(split(list(eligible), plan.wave_sizes())):
        entry = entries[position]
        bake = plan.bake
        budget = plan.budget.per_wave
        if isinstance(entry, models.Wave):
            bake = entry.bake if entry.bake is not None else bake
            budget = entry.budget if entry.budget is not None else budget
        waves.append(
            rollouts.WaveSpec(
                index=index,
                size=size_label(plan.wave_sizes()[position]),
                targets=tuple(ids.TargetId(t) for t in targets),
                bake=bake,
                budget=budgets.from_config(budget),
            )
        )
    return rollouts.RolloutSpec(
        plan=plan.name,
        waves=tuple(waves),
        overall=budgets.from_config(plan.budget.overall),
        bake_rules=bake_rules_of(config, plan),
        on_halt=plan.on_halt,
        upgrade=dict(plan.upgrade),
        max_parallel=plan.max_parallel,
    )
