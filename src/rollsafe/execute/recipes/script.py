"""The script recipe: the users' own commands checkpoint, roll back and verify the host.

Role in the loop (execute): for snapshot mechanisms rollsafe has no recipe for. Commands are
templates like every command (``{id}``, ``{address}``, labels and ``vars``) and run through
the transport with ``ROLLSAFE_TARGET``, ``ROLLSAFE_POINT_ID`` and ``ROLLSAFE_STEP`` exported
in front of them (in the script, not as the transport's ``env``: that one is for secrets and
masked in outputs). The rollback command must be idempotent itself: rollsafe repeats it when the
controller died while it ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import checked
from rollsafe.reach.transports import transporting

STEP_ROLLBACK = "rollback"
_KEPT_OUTPUT = 2000  # characters of the checkpoint command's output kept in the point


class ScriptRecipe:
    """Implements ``recipes.Recipe`` for ``kind: script``."""

    kind = "script"

    def __init__(self, config: models.ScriptRecipe) -> None:
        self.config = config

    async def checkpoint(
        self,
        transport: transporting.Transport,
        target: models.Target,
        *,
        point_id: str,
        limit_s: float,
    ) -> Mapping[str, Any]:
        data: dict[str, Any] = {"point_id": point_id}
        if self.config.checkpoint is not None:
            result = await checked.run(
                transport,
                target,
                _exports(target, point_id, "checkpoint")
                + _render(self.config.checkpoint, target, what="checkpoint"),
                limit_s=limit_s,
                what="the checkpoint command",
            )
            data["checkpoint_output"] = result.stdout.strip()[-_KEPT_OUTPUT:]
        return data

    async def precheck(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> None:
        # Users' scripts have no "does the point still exist" command; rendering proves at
        # least that the rollback command can be built for this target.
        try:
            _render(self.config.rollback, target, what="rollback")
        except errors.DriverError as exc:
            raise errors.PrecheckFailed(str(exc)) from exc

    def rollback_steps(self, data: Mapping[str, Any]) -> Sequence[str]:
        return [STEP_ROLLBACK]

    async def rollback(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        step: str,
        limit_s: float,
    ) -> str:
        if step != STEP_ROLLBACK:
            raise errors.DriverError(f"script recipe has no rollback step {step!r}")
        result = await checked.run(
            transport,
            target,
            _exports(target, str(data.get("point_id", "")), step)
            + _render(self.config.rollback, target, what="rollback"),
            limit_s=limit_s,
            what="the rollback command",
        )
        return result.stdout.strip()[-_KEPT_OUTPUT:]

    async def verify(
        self,
        transport: transporting.Transport,
        target: models.Target,
        data: Mapping[str, Any],
        *,
        limit_s: float,
    ) -> str:
        if self.config.verify is None:
            return "no verify command configured"
        result = await checked.run(
            transport,
            target,
            _exports(target, str(data.get("point_id", "")), "verify")
            + _render(self.config.verify, target, what="verify"),
            limit_s=limit_s,
            what="the verify command",
            error=errors.VerificationFailed,
        )
        return result.stdout.strip()[-_KEPT_OUTPUT:] or "verify command succeeded"


def _render(command: models.Command, target: models.Target, *, what: str) -> str:
    try:
        if isinstance(command, str):
            return models.render(command, target)
        return checked.text_of([models.render(part, target) for part in command])
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise errors.DriverError(
            f"the {what} command cannot be rendered for {target.id}: unknown or invalid "
            f"template variable {exc} (write literal braces as {{{{ and }}}})"
        ) from exc


def _exports(target: models.Target, point_id: str, step: str) -> str:
    values = {"ROLLSAFE_TARGET": target.id, "ROLLSAFE_POINT_ID": point_id, "ROLLSAFE_STEP": step}
    return "".join(f"export {k}={checked.quote(v)}; " for k, v in values.items()) + "\n"


def make(config: models.ScriptRecipe) -> ScriptRecipe:
    return ScriptRecipe(config)
