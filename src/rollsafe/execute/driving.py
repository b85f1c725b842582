"""The driver interface: how the executor takes restore points and rolls targets back.

Every step a driver performs is idempotent by ``key``: called twice with the same key (because
the controller was killed after the effect but before recording it), the effect happens once.
Drivers translate their back end's errors at the boundary into ``DriverError`` (permanent),
``DriverTemporaryError`` (retry) or ``PrecheckFailed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from rollsafe.config import models
from rollsafe.domain import errors, ids, restore_points
from rollsafe.reach import api_calls

# The plug-in surface for third-party drivers: pinned by tests/unit/meta/test_public_surface.py.
__all__ = [
    "ApiCallRecorder",
    "Deleting",
    "Driver",
    "DriverFactory",
    "deleter",
    "point_taken",
    "record_api_call",
    "recording_api_calls",
    "require_own_point",
    "require_step",
    "reset_api_calls",
]


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


class Deleting(Protocol):
    """A driver that can delete a restore point on its back end (retention).

    Optional: a driver without ``delete`` keeps its points, and pruning says so. ``delete``
    is idempotent: a point already gone counts as deleted. It returns a short text for the
    audit (what was removed, or why nothing was).
    """

    async def delete(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        """Remove ``point`` from the back end; already gone is success."""


def deleter(driver: Driver) -> Deleting | None:
    """``driver`` as a ``Deleting`` if it implements ``delete``, else None."""
    if callable(getattr(driver, "delete", None)):
        return driver  # type: ignore[return-value]
    return None


DriverFactory = Callable[[models.Driver, Path], Driver]
"""Builds a driver from its config and the state directory (for its own files)."""


ApiCallRecorder = api_calls.Recorder
"""Receives ``(operation, details)`` after each cloud API call a driver makes."""

# The recording lives in ``reach.api_calls`` (cloud modules and transports below execute use
# it); these names stay for the executor, the checkpoint code and third-party drivers.
record_api_call = api_calls.record
recording_api_calls = api_calls.recording
reset_api_calls = api_calls.reset


def point_taken(
    driver: str,
    target: models.Target,
    *,
    point_id: str,
    label: str,
    data: Mapping[str, Any],
) -> restore_points.RestorePoint:
    """The restore point ``driver`` has just taken of ``target``: created now, holding
    ``data`` (what the driver needs to roll back to it, from the store alone)."""
    return restore_points.RestorePoint(
        id=ids.RestorePointId(point_id),
        target=ids.TargetId(target.id),
        driver=driver,
        created_at=time.time(),
        data=data,
        label=label,
    )


def require_step(driver: str, step: str, steps: Sequence[str], *, point: str | None = None) -> None:
    """Raise DriverError unless ``step`` is one of the rollback ``steps`` of ``driver``."""
    if step in steps:
        return
    of_point = f" for restore point {point}" if point is not None else ""
    raise errors.DriverError(
        f"driver {driver} has no rollback step {step!r}{of_point} "
        f"(its steps: {', '.join(steps) or 'none'})"
    )


def require_own_point(
    driver: str,
    target: models.Target,
    point: restore_points.RestorePoint,
    *,
    error: type[errors.PermanentError] = errors.DriverError,
) -> None:
    """Raise ``error`` unless ``point`` was taken of ``target`` by ``driver``."""
    if point.target != target.id:
        raise error(f"restore point {point.id} belongs to target {point.target}, not {target.id}")
    if point.driver != driver:
        raise error(f"restore point {point.id} was taken by driver {point.driver}, not {driver}")
