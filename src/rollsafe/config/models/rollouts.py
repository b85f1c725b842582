"""Rollouts (``rollouts[]``): guarded upgrades in waves, with their failure budgets."""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.base import _ID_PATTERN, Command, Model
from rollsafe.config.models.targets import Selector

_WAVE_PERCENT = re.compile(r"^[0-9]+(\.[0-9]+)?%$")
OnHaltName = Literal["rollback_failed", "rollback_all"]


def _wave_size(value: object) -> object:
    """A count (5) or a percentage (10%), said plainly when it is neither."""
    if isinstance(value, dict):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            f"{value!r} is not a wave size (expected a count like 5 or a share like 10%)"
        )
    if isinstance(value, int) and value < 1:
        raise ValueError(f"a wave of {value} targets is empty (expected a count of at least 1)")
    if isinstance(value, str) and not _WAVE_PERCENT.match(value):
        raise ValueError(
            f"{value!r} is not a wave size (expected a count like 5 or a share like 10%)"
        )
    return value


WaveSize = Annotated[int | str, BeforeValidator(_wave_size)]


class FailureBudget(Model):
    """How many failed targets are tolerated; a limit left out does not apply.

    Spent when the failures exceed ``max_failures``, or exceed ``max_failure_ratio`` of the
    targets it covers (a wave's targets, or every target of the rollout).
    """

    max_failures: int | None = Field(default=None, ge=0, description="Failed targets tolerated")
    max_failure_ratio: float | None = Field(
        default=None, ge=0, le=1, description="Share of the covered targets that may fail (0 to 1)"
    )


class RolloutBudgets(Model):
    per_wave: FailureBudget = Field(
        default_factory=FailureBudget, description="Each wave (a wave entry may set its own)"
    )
    overall: FailureBudget = Field(
        default_factory=lambda: FailureBudget(max_failures=0),
        description="The whole rollout (default: the first failure halts it)",
    )


class Wave(Model):
    """A wave with its own bake time or budget; ``size`` as in the short form."""

    size: WaveSize = Field(description="Targets upgraded once this wave is done: 5, or 10%")
    bake: Duration | None = Field(default=None, description="Default: the plan's `bake`")
    budget: FailureBudget | None = Field(
        default=None, description="Default: the plan's `budget.per_wave`"
    )


class RolloutPlan(Model):
    """A guarded upgrade of the targets ``targets`` selects, wave after wave.

    Wave sizes are cumulative: ``[1, 10%, 50%, 100%]`` upgrades one target, then up to 10%
    of the selected targets, then half of them, then all (a percentage rounds up; a wave
    that adds no target is left out).
    """

    name: str = Field(pattern=_ID_PATTERN, description="What `rollsafe rollout start` names")
    description: str = Field(default="", description="Free text shown with the rollout")
    targets: Selector = Field(
        default_factory=Selector, description="Which targets the rollout upgrades (default: all)"
    )
    upgrade: dict[str, Command] = Field(
        default_factory=dict,
        description="Driver name -> the upgrade command for this rollout "
        "(default: the driver's own `upgrade`)",
    )
    waves: list[Annotated[WaveSize | Wave, BeforeValidator(_wave_size)]] = Field(
        min_length=1, description="e.g. [1, 10%, 50%, 100%]"
    )
    bake: Duration = Field(default=300.0, description="How long each upgraded target is watched")
    bake_rules: list[str] = Field(
        default_factory=list,
        description="Rule ids whose critical decision fails a bake (default: every rule)",
    )
    budget: RolloutBudgets = Field(
        default_factory=RolloutBudgets,
        description="Failures tolerated per wave and overall before the rollout halts",
    )
    on_halt: OnHaltName = Field(
        default="rollback_failed",
        description="When a budget is spent: roll back only the failed targets, or every "
        "target the rollout upgraded",
    )
    max_parallel: int = Field(
        default=10, ge=1, description="Targets of a wave being prepared and upgraded at once"
    )

    @model_validator(mode="after")
    def _waves_grow(self) -> RolloutPlan:
        counts = [w for w in self.wave_sizes() if isinstance(w, int)]
        shares = [float(w.rstrip("%")) for w in self.wave_sizes() if isinstance(w, str)]
        for share in shares:
            if not 0 < share <= 100:
                raise ValueError(
                    f"a wave of {share:g}% is not a share of the fleet (0% < size <= 100%)"
                )
        for numbers, unit in ((counts, ""), (shares, "%")):
            for before, after in itertools.pairwise(numbers):
                if after <= before:
                    raise ValueError(
                        f"wave sizes are cumulative and must grow: {before:g}{unit} is "
                        f"followed by {after:g}{unit}"
                    )
        return self

    def wave_sizes(self) -> list[int | str]:
        """The size of every wave, in order (``Wave`` entries unwrapped)."""
        return [w.size if isinstance(w, Wave) else w for w in self.waves]
