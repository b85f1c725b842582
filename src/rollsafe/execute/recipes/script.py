"""The script recipe: the users' own commands checkpoint, roll back and verify the host.

Role in the loop (execute): for snapshot mechanisms rollsafe has no recipe for. Commands are
templates like every command (``{id}``, ``{address}``, labels and ``vars``) and run through
the transport with ``ROLLSAFE_TARGET``, ``ROLLSAFE_POINT_ID`` and ``ROLLSAFE_STEP`` exported
in front of them (in the script, not as the transport's ``env``: that one is for secrets and
masked in outputs). The rollback command must be idempotent itself: rollsafe repeats it when the
controller died while it ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import commands
from rollsafe.execute.recipes import checked, recipes

_KEPT_OUTPUT = 2000  # characters of the checkpoint command's output kept in the point


class ScriptRecipe(recipes.Stepped):
    """Implements ``recipes.Recipe`` for ``kind: script``."""

    kind = "script"

    def __init__(self, config: models.ScriptRecipe) -> None:
        self.config = config

    async def _run(
        self,
        host: recipes.Host,
        command: models.Command,
        *,
        point_id: str,
        step: str,
        limit_s: float,
        error: type[errors.RollsafeError] = errors.DriverError,
    ) -> str:
        """Run the users' ``step`` command with the ``ROLLSAFE_*`` exports; its kept output."""
        values = {
            "ROLLSAFE_TARGET": host.target.id,
            "ROLLSAFE_POINT_ID": point_id,
            "ROLLSAFE_STEP": step,
        }
        exports = "".join(f"export {k}={checked.quote(v)}; " for k, v in values.items())
        script = exports + "\n" + commands.shell_text(command, host.target, what=step)
        result = await checked.run(
            host, script, limit_s=limit_s, what=f"the {step} command", error=error
        )
        return result.stdout.strip()[-_KEPT_OUTPUT:]

    async def checkpoint(
        self, host: recipes.Host, *, point_id: str, limit_s: float
    ) -> Mapping[str, Any]:
        data: dict[str, Any] = {"point_id": point_id}
        if self.config.checkpoint is not None:
            data["checkpoint_output"] = await self._run(
                host, self.config.checkpoint, point_id=point_id, step="checkpoint", limit_s=limit_s
            )
        return data

    async def precheck(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> None:
        # Users' scripts have no "does the point still exist" command; rendering proves at
        # least that the rollback command can be built for this target.
        try:
            commands.shell_text(self.config.rollback, host.target, what="rollback")
        except errors.DriverError as exc:
            raise errors.PrecheckFailed(str(exc)) from exc

    def steps(self, data: Mapping[str, Any]) -> Mapping[str, recipes.Step]:
        return {"rollback": self._rollback}

    async def _rollback(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> str:
        point_id = str(data.get("point_id", ""))
        return await self._run(
            host, self.config.rollback, point_id=point_id, step="rollback", limit_s=limit_s
        )

    async def verify(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        if self.config.verify is None:
            return "no verify command configured"
        output = await self._run(
            host,
            self.config.verify,
            point_id=str(data.get("point_id", "")),
            step="verify",
            limit_s=limit_s,
            error=errors.VerificationFailed,
        )
        return output or "verify command succeeded"


def make(config: models.ScriptRecipe) -> ScriptRecipe:
    return ScriptRecipe(config)
