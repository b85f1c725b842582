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

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach.transports import transporting


@dataclass(frozen=True, slots=True)
class Host:
    """The target's host as a recipe sees it: the transport that reaches it, and the target.

    The two always travel together through a recipe (every command runs on this target, every
    message names it), so a recipe and its helpers take one ``Host`` instead of the pair.
    """

    transport: transporting.Transport
    target: models.Target

    async def run(
        self, script: str, *, limit_s: float, env: Mapping[str, str] | None = None
    ) -> transporting.CommandResult:
        """Run ``script`` on the host (a non-zero exit is a result; see ``Transport.run``)."""
        return await self.transport.run(self.target, script, limit_s=limit_s, env=env)


class Recipe(Protocol):
    kind: str  # "btrfs", "apt", ...

    async def checkpoint(self, host: Host, *, point_id: str, limit_s: float) -> Mapping[str, Any]:
        """Take the restore point on the host; returns the JSON-able ``data`` to keep."""

    async def precheck(self, host: Host, data: Mapping[str, Any], *, limit_s: float) -> None:
        """Prove the restore point still exists on the host; raise PrecheckFailed if not."""

    def rollback_steps(self, data: Mapping[str, Any]) -> Sequence[str]:
        """Names of the rollback steps, in order (e.g. ["restore", "reboot", "confirm"])."""

    async def rollback(
        self, host: Host, data: Mapping[str, Any], *, step: str, limit_s: float
    ) -> str:
        """Perform one step, idempotently; returns a short text for the audit."""

    async def verify(self, host: Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        """Check the host is back at the restore point; raise VerificationFailed if not."""


class Deleting(Protocol):
    """A recipe that can delete its restore point on the host (retention), idempotently.

    Optional: recipes whose points are not files or snapshots (apt, dnf package lists) have
    nothing to free. Already gone counts as deleted; returns a short text for the audit.
    """

    async def delete(self, host: Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        """Remove the restore point described by ``data`` from the host."""


class Step(Protocol):
    """One rollback step of a recipe: performs it idempotently, returns a text for the audit."""

    async def __call__(self, host: Host, data: Mapping[str, Any], *, limit_s: float) -> str: ...


class Stepped(abc.ABC):
    """Base of the recipes: the rollback is a table of named steps, in order.

    The table is the one place that names a recipe's steps, so the list the driver plans with
    (``rollback_steps``) and what ``rollback`` performs cannot disagree, and a step the table
    does not hold is refused here for every recipe alike.
    """

    kind: str

    @abc.abstractmethod
    def steps(self, data: Mapping[str, Any]) -> Mapping[str, Step]:
        """The rollback steps for the restore point ``data``, in the order they run."""

    def rollback_steps(self, data: Mapping[str, Any]) -> Sequence[str]:
        return list(self.steps(data))

    async def rollback(
        self, host: Host, data: Mapping[str, Any], *, step: str, limit_s: float
    ) -> str:
        steps = self.steps(data)
        if step not in steps:
            raise errors.DriverError(
                f"{self.kind} recipe has no step {step!r} (its steps: {', '.join(steps)})"
            )
        return await steps[step](host, data, limit_s=limit_s)
