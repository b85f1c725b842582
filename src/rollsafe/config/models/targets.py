"""Targets and selectors: the hosts or services the loop watches and rolls back, and which
of them an entry (probe, rule, preset, rollout) applies to.
"""

from __future__ import annotations

from pydantic import Field

from rollsafe.config.models.base import _ID_PATTERN, Model


class Target(Model):
    id: str = Field(pattern=_ID_PATTERN, description="Unique name of the host or service")
    address: str = Field(default="127.0.0.1", description="Host name or IP used in templates")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels selectors match, also template variables"
    )
    driver: str | None = Field(default=None, description="Name of an entry in `drivers`")
    vars: dict[str, str | int | float] = Field(
        default_factory=dict, description="Extra template variables for this target"
    )


class Selector(Model):
    """Which targets an entry applies to: all of ``ids`` (if given) and all ``labels``."""

    ids: list[str] | None = Field(default=None, description="Only these target ids (default: any)")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels the target must carry, with these values"
    )


def selects(selector: Selector, target: Target) -> bool:
    """True when ``target`` is one the selector picks."""
    if selector.ids is not None and target.id not in selector.ids:
        return False
    return all(target.labels.get(k) == v for k, v in selector.labels.items())
