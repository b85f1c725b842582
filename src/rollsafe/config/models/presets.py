"""Presets (``presets[]``): a shipped default policy applied to some targets; loading
expands it into ordinary rules.
"""

from __future__ import annotations

from pydantic import Field

from rollsafe.config.models.base import _ID_PATTERN, Model
from rollsafe.config.models.targets import Selector


class PresetUse(Model):
    """A shipped default policy (``rollsafe.config.presets``) applied to some targets.

    Loading expands it into ordinary rules, with ids ``<id>.<rule>``, appended to ``rules``.
    """

    preset: str = Field(description="Name of a shipped preset: web-service, database-host, ...")
    id: str | None = Field(
        default=None,
        pattern=_ID_PATTERN,
        description="Prefix of the rule ids it adds (default: the preset's name)",
    )
    targets: Selector = Field(
        default_factory=Selector,
        description="Which targets the preset's rules judge (default: all)",
    )
    signals: dict[str, str] = Field(
        default_factory=dict,
        description="Signal of the preset -> name of the probe (or alert source) providing it",
    )
    params: dict[str, int | float | str] = Field(
        default_factory=dict, description="Thresholds to change, by parameter name"
    )
    exclude: list[str] = Field(default_factory=list, description="Rules of the preset to omit")
