"""The probe interface and the registry that builds probes from configuration.

A probe looks at one target once and returns an ``Observation``. When it cannot look (file
missing, query refused, command not found) it returns an observation with ``error`` set and no
value: it never makes a value up. A target that answers badly (HTTP 500, connection refused)
is a fact about the target, observed with ``value=0``, not a probe error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rollsafe.config import models
from rollsafe.domain import clocks, observations


class Probe(Protocol):
    """One configured probe, able to observe any target it selects."""

    name: str

    async def observe(self, target: models.Target) -> observations.Observation: ...

    async def close(self) -> None:
        """Release connections and file handles."""


ProbeFactory = Callable[[models.Probe, clocks.Clock], Probe]
