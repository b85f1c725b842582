"""Shipped default policies (presets) a configuration can name: ``preset: web-service``.

``catalog`` reads the definitions (``<name>.yaml`` next to this file); ``expanding`` turns a
``presets:`` entry of ``rollsafe.yaml`` into ordinary rules when the file is loaded. Why each
threshold is what it is: docs/presets.md, and the ``why`` of every parameter.
"""

from __future__ import annotations

from rollsafe.config.presets.catalog import Preset, get, names
from rollsafe.config.presets.expanding import apply, problems

__all__ = ["Preset", "apply", "get", "names", "problems"]
