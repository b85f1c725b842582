"""The driver interface: how the executor takes restore points and rolls targets back.

Every step a driver performs is idempotent by ``key``: called twice with the same key (because
the controller was killed after the effect but before recording it), the effect happens once.
Drivers translate their back end's errors at the boundary into ``DriverError`` (permanent),
``DriverTemporaryError`` (retry) or ``PrecheckFailed``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from rollsafe.config import models
from rollsafe.domain import errors, restore_points


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


ApiCallRecorder = Callable[[str, Mapping[str, Any]], None]
"""Receives ``(operation, details)`` after each cloud API call a driver makes."""

_recorder: contextvars.ContextVar[ApiCallRecorder | None] = contextvars.ContextVar(
    "rollsafe_api_call_recorder", default=None
)


def record_api_call(operation: str, **details: Any) -> None:
    """Called by drivers after every back-end API call (with its ``request_id``).

    The executor and the checkpoint code install a recorder for the run or checkpoint being
    driven, which appends a ``driver.api_call`` audit event; outside of them this does nothing.
    Never pass secrets here: the details go to the audit trail.
    """
    recorder = _recorder.get()
    if recorder is not None:
        recorder(operation, details)


def recording_api_calls(recorder: ApiCallRecorder) -> contextvars.Token[ApiCallRecorder | None]:
    """Install ``recorder`` for the current task (each run is driven in its own task)."""
    return _recorder.set(recorder)


def reset_api_calls(token: contextvars.Token[ApiCallRecorder | None]) -> None:
    """Undo ``recording_api_calls``."""
    _recorder.reset(token)


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
