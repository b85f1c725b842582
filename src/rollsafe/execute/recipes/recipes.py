"""The recipe interface: what a host driver runs to checkpoint, roll back and check a host.

Role in the loop (execute): a recipe turns one snapshot mechanism (btrfs, snapper, LVM, apt,
dnf, rpm-ostree/bootc, qcow2, a directory copy, the users' own scripts) into command texts run
through a ``transports.transporting.Transport``. It keeps what it needs to undo the upgrade in
the restore point's ``data`` (a snapshot number, a package list) so a rollback works from the
store alone, after a controller restart, on another replica.

Every rollback step is idempotent: it first checks whether its effect is already there (the
snapshot already active, the package set already installed) and then does nothing, because a
killed controller repeats the step it was in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rollsafe.config import models
from rollsafe.reach.transports import transporting


class Recipe(Protocol):
    kind: str  # "btrfs", "apt", ...

    async def checkpoint(
        self,
        transport: transporting.Transport,
        target: models.Target,
        *,
        point_id: str,
        limit_s: float,
    ) -> Mapping[str, Any]:
        """Take the restore point on the host; returns the JSON-able ``data`` to keep."""

    async def precheck(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> None:
        """Prove the restore point still exists on the host; raise PrecheckFailed if not."""

    def rollback_steps(self, data: Mapping[str, Any]) -> Sequence[str]:
        """Names of the rollback steps, in order (e.g. ["restore", "reboot", "confirm"])."""

    async def rollback(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        step: str,
        limit_s: float,
    ) -> str:
        """Perform one step, idempotently; returns a short text for the audit."""

    async def verify(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> str:
        """Check the host is back at the restore point; raise VerificationFailed if not."""


class Deleting(Protocol):
    """A recipe that can delete its restore point on the host (retention), idempotently.

    Optional: recipes whose points are not files or snapshots (apt, dnf package lists) have
    nothing to free. Already gone counts as deleted; returns a short text for the audit.
    """

    async def delete(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> str:
        """Remove the restore point described by ``data`` from the host."""
