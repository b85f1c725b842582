"""The host driver: a recipe's commands, carried to the host by a transport.

Role in the loop (execute): for hosts rolled back through their own OS (btrfs, a directory
copy, the users' scripts ...) rather than a cloud API. The recipe (``execute.recipes``) says
what to run; the transport (``execute.transports``: local, SSH, AWS SSM, Alibaba Cloud
Assistant, Tencent TAT) runs it. A restore point keeps the recipe's data plus the transport
kind and the host it was taken on, so a rollback works from the store alone and refuses a
point taken on another host.

Rollback steps are the recipe's steps, then ``restart`` when configured. Each step is
idempotent by key: the recipe's commands check their effect before acting (a step repeated
after a crash is safe), and a finished step is journaled in
``<state_dir>/host-journal/<slug>.done`` so a repeat with the same key runs nothing and
returns the recorded output. Every command is audited through ``driving.record_api_call(
"host.command", ...)`` with its exit status, duration and (size-limited, redacted) output;
the environment is never recorded.
"""

from __future__ import annotations

import hashlib
import shlex
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rollsafe.audit import redacting
from rollsafe.config import models
from rollsafe.domain import errors, restore_points
from rollsafe.execute import commands, driving, journals
from rollsafe.execute.recipes import building as recipe_building
from rollsafe.execute.recipes import checked, recipes
from rollsafe.reach.transports import shared as transport_shared
from rollsafe.reach.transports import transporting

STEP_RESTART = "restart"
STEP_UPGRADE = "upgrade"
_AUDIT_COMMAND_CHARS = 1000  # of each command's text in the audit
_AUDIT_OUTPUT_CHARS = 4000  # of each command's stdout/stderr in the audit
_STATUS_LIMIT = 10.0


class HostDriver:
    """Implements ``rollsafe.execute.driving.Driver`` for ``kind: host``."""

    kind: str = "host"

    def __init__(
        self,
        config: models.HostDriver,
        state_dir: Path,
        *,
        transport: transporting.Transport | None = None,
        recipe: recipes.Recipe | None = None,
    ) -> None:
        self.config = config
        self.name: str = config.name
        self.state_dir = state_dir.absolute()
        # The shared lease: probes naming the same transport use the same connections.
        self.transport = transport or transport_shared.lease(
            config.transport, output_limit=config.output_limit
        )
        self.recipe = recipe or recipe_building.build(config.recipe)
        self._journal = journals.StepJournal(self.state_dir / "host-journal", suffix=".done")

    # ------------------------------------------------------------------ checkpoint

    async def checkpoint(
        self, target: models.Target, *, point_id: str, label: str = ""
    ) -> restore_points.RestorePoint:
        recipe_data = await self.recipe.checkpoint(
            self._on(target, "checkpoint"), point_id=point_id, limit_s=self.config.step_timeout
        )
        return driving.point_taken(
            self.name,
            target,
            point_id=point_id,
            label=label,
            data={
                "recipe": self.recipe.kind,
                "transport": self.transport.kind,
                "host": target.address,
                "recipe_data": dict(recipe_data),
            },
        )

    async def precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        try:
            self._check_belongs(target, point)
        except errors.DriverError as exc:
            raise errors.PrecheckFailed(str(exc)) from exc
        await self.recipe.precheck(
            self._on(target, "precheck"), self._recipe_data(point), limit_s=self.config.step_timeout
        )

    # ------------------------------------------------------------------ rollback

    def rollback_steps(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> Sequence[str]:
        steps = list(self.recipe.rollback_steps(self._recipe_data(point)))
        if self.config.restart is not None:
            steps.append(STEP_RESTART)
        return steps

    async def rollback(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        *,
        step: str,
        key: str,
    ) -> str:
        driving.require_step(self.name, step, self.rollback_steps(target, point), point=point.id)
        self._check_belongs(target, point)

        async def act() -> str:
            if step == STEP_RESTART and self.config.restart is not None:
                return await self._command(self.config.restart, target, what="restart")
            # The attempt id lets a recipe tell its own half-done work from an earlier
            # rollback's (see the btrfs recipe).
            data = {**self._recipe_data(point), "attempt": _attempt(key)}
            return await self.recipe.rollback(
                self._on(target, step), data, step=step, limit_s=self.config.step_timeout
            )

        return await self._journal.once(
            key, act, step=step, record={"target": target.id, "point": point.id}
        )

    async def verify(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        """The recipe's own check that the host is back at ``point`` (VerificationFailed)."""
        self._check_belongs(target, point)
        return await self.recipe.verify(
            self._on(target, "verify"), self._recipe_data(point), limit_s=self.config.step_timeout
        )

    # ------------------------------------------------------------------ retention

    async def delete(self, target: models.Target, point: restore_points.RestorePoint) -> str:
        """The recipe deletes the point on the host; a recipe with nothing to free says so."""
        self._check_belongs(target, point)
        deleting = getattr(self.recipe, "delete", None)
        if deleting is None:
            return f"the {self.recipe.kind} recipe keeps nothing on the host to delete"
        remove: recipes.Deleting = self.recipe  # type: ignore[assignment]
        return await remove.delete(
            self._on(target, "delete"), self._recipe_data(point), limit_s=self.config.step_timeout
        )

    # ------------------------------------------------------------------ upgrade, status

    async def upgrade(self, target: models.Target, *, key: str) -> str:
        if self.config.upgrade is None:
            raise errors.DriverError(f"driver {self.name} has no `upgrade` command configured")
        command = self.config.upgrade
        return await self._journal.once(
            key,
            lambda: self._command(command, target, what=STEP_UPGRADE),
            step=STEP_UPGRADE,
            record={"target": target.id, "point": None},
        )

    async def status(self, target: models.Target) -> Mapping[str, Any]:
        out: dict[str, Any] = {
            "transport": self.transport.kind,
            "host": target.address,
            "recipe": self.recipe.kind,
        }
        try:
            result = await self._via("status").run(target, "uname -sr", limit_s=_STATUS_LIMIT)
        except errors.RollsafeError as exc:
            out.update(reachable=False, error=str(exc))
        else:
            out.update(reachable=result.ok, system=result.stdout.strip())
        return out

    async def close(self) -> None:
        """Release the transport's connections (not part of the Driver protocol)."""
        await self.transport.close()

    # ------------------------------------------------------------------ helpers

    def _via(self, step: str) -> _AuditedTransport:
        return _AuditedTransport(
            self.transport,
            driver=self.name,
            step=step,
            sudo=self.config.use_sudo,
            env=self.config.env,
        )

    def _on(self, target: models.Target, step: str) -> recipes.Host:
        """``target``'s host, reached through the audited transport for ``step``."""
        return recipes.Host(self._via(step), target)

    async def _command(self, command: models.Command, target: models.Target, *, what: str) -> str:
        result = await checked.run(
            self._on(target, what),
            commands.shell_text(command, target, what=what),
            limit_s=self.config.step_timeout,
            what=f"the {what} command",
        )
        return "\n".join(result.stdout.strip().splitlines()[-20:])

    def _recipe_data(self, point: restore_points.RestorePoint) -> Mapping[str, Any]:
        data = point.data.get("recipe_data")
        if not isinstance(data, Mapping):
            raise errors.PrecheckFailed(f"restore point {point.id} holds no recipe data")
        return data

    def _check_belongs(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        driving.require_own_point(self.name, target, point)
        recipe = point.data.get("recipe")
        if recipe != self.recipe.kind:
            raise errors.DriverError(
                f"restore point {point.id} was taken by a {recipe} recipe; driver {self.name} "
                f"now uses {self.recipe.kind}: take a new restore point"
            )
        host = point.data.get("host")
        if host != target.address:
            raise errors.DriverError(
                f"restore point {point.id} was taken on host {host}, but {target.id} is now "
                f"at {target.address}: it cannot be restored there"
            )


class _AuditedTransport:
    """The driver's transport, with sudo, the driver's env, and one audit record per command."""

    def __init__(
        self,
        inner: transporting.Transport,
        *,
        driver: str,
        step: str,
        sudo: bool,
        env: Mapping[str, str],
    ) -> None:
        self.kind = inner.kind
        self._inner = inner
        self._driver = driver
        self._step = step
        self._sudo = sudo
        self._env = dict(env)

    async def run(
        self,
        target: models.Target,
        script: str,
        *,
        limit_s: float,
        env: Mapping[str, str] | None = None,
    ) -> transporting.CommandResult:
        merged = {**self._env, **(env or {})}
        text, passed = script, merged or None
        if self._sudo:
            # sudo resets the environment: the exports go inside the elevated shell.
            exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in merged.items())
            text, passed = f"sudo -n sh -c {shlex.quote(exports + script)}", None
        details: dict[str, Any] = {
            "driver": self._driver,
            "step": self._step,
            "transport": self.kind,
            "host": target.address,
            "command": redacting.redact_text(script[:_AUDIT_COMMAND_CHARS]),
        }
        started = time.monotonic()
        try:
            result = await self._inner.run(target, text, limit_s=limit_s, env=passed)
        except errors.RollsafeError as exc:
            driving.record_api_call(
                "host.command",
                **details,
                outcome="error",
                error=_mask(str(exc), merged),
                duration=round(time.monotonic() - started, 3),
            )
            raise
        if self._sudo:
            result = transporting.CommandResult(
                exit_status=result.exit_status,
                stdout=_mask(result.stdout, merged),
                stderr=_mask(result.stderr, merged),
                duration=result.duration,
                truncated=result.truncated,
                invocation_id=result.invocation_id,
            )
        driving.record_api_call(
            "host.command",
            **details,
            outcome="ok" if result.ok else "failed",
            exit_status=result.exit_status,
            duration=round(result.duration, 3),
            truncated=result.truncated,
            stdout=result.stdout[-_AUDIT_OUTPUT_CHARS:],
            stderr=result.stderr[-_AUDIT_OUTPUT_CHARS:],
            request_id=result.invocation_id,
        )
        return result

    async def close(self) -> None:
        return None  # the driver owns the inner transport


def _attempt(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _mask(text: str, env: Mapping[str, str]) -> str:
    for value in env.values():
        if len(value) >= 4:
            text = text.replace(value, redacting.MASK)
    return text


def make_driver(config: models.Driver, state_dir: Path) -> HostDriver:
    """The registry's factory for ``kind: host``."""
    if not isinstance(config, models.HostDriver):
        raise errors.ConfigError(f"driver {config.name!r} is not a `kind: host` driver")
    return HostDriver(config, state_dir)


def _conforms(driver: HostDriver) -> driving.Driver:
    return driver  # mypy proves here that HostDriver implements the protocol
