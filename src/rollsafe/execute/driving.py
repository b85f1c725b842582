"""The driver interface: how the executor takes restore points and rolls targets back.

Every step a driver performs is idempotent by ``key``: called twice with the same key (because
the controller was killed after the effect but before recording it), the effect happens once.
Drivers translate their back end's errors at the boundary into ``DriverError`` (permanent),
``DriverTemporaryError`` (retry) or ``PrecheckFailed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from rollsafe.config import models
from rollsafe.domain import restore_points


class Driver(Protocol):
    name: str  # the driver's name in the config
    kind: str  # "local", "aws", ...

    async def checkpoint(
        self, target: models.Target, *, point_id: str, label: str = ""
    ) -> restore_points.RestorePoint:
        """Take a restore point of ``target`` now (before an upgrade)."""

    async def precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        """Prove ``point`` is usable for ``target``; raise PrecheckFailed if not."""

    def rollback_steps(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> Sequence[str]:
        """Names of the steps a rollback to ``point`` performs, in order."""

    async def rollback(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        *,
        step: str,
        key: str,
    ) -> str:
        """Perform one rollback step, idempotent by ``key``; returns a short output text."""

    async def upgrade(self, target: models.Target, *, key: str) -> str:
        """Run the configured upgrade (used by the demo and rollouts)."""

    async def status(self, target: models.Target) -> Mapping[str, Any]:
        """What the driver knows about the target now (for ``rollsafe status``)."""


DriverFactory = Callable[[models.Driver, Path], Driver]
"""Builds a driver from its config and the state directory (for its own files)."""
