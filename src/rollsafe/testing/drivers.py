"""A fake driver for tests of the executor, rollouts and the CLI: records, scripts, misbehaves.

It implements ``rollsafe.execute.driving.Driver`` with no side effect outside itself. Every
call is recorded in ``calls``; every effect that really "happened" (once per key, as the
Protocol demands) in ``effects``. Tests script trouble per step name (a rollback step such
as ``"restore"``, or ``"checkpoint"``, ``"precheck"``, ``"upgrade"``)::

    driver = FakeDriver(steps=("restore", "restart"))
    driver.fail("restore", errors.DriverTemporaryError("throttled"))   # next call raises
    hang = driver.hang("restart")                                       # next call blocks
    await hang.entered.wait()          # the step is now in progress: kill the controller here
    hang.release()                     # or let it finish

``after_effect=True`` makes the trouble strike after the effect was recorded: the effect
happened but the caller never heard of it, which is exactly what idempotency keys are for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rollsafe.config import models
from rollsafe.domain import clocks, errors, ids, restore_points


@dataclass(frozen=True, slots=True)
class DriverCall:
    """One call the fake received (or, in ``effects``, one effect it performed)."""

    method: str  # checkpoint | precheck | rollback | upgrade | status
    target: str
    step: str | None = None
    key: str | None = None
    point: str | None = None


@dataclass(slots=True)
class Hang:
    """A scripted hang: ``entered`` is set when a call starts hanging; ``release`` ends it."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


@dataclass(slots=True)
class _Trouble:
    error: BaseException | None  # None: hang
    hang: Hang | None
    after_effect: bool
    times: int | None  # None: every call from now on


class FakeDriver:
    """Implements ``rollsafe.execute.driving.Driver``; see the module docstring."""

    kind: str = "fake"

    def __init__(
        self,
        name: str = "fake",
        *,
        steps: Sequence[str] = ("restore", "restart"),
        clock: clocks.Clock | None = None,
        checks: Mapping[str, Any] | None = None,
    ) -> None:
        self.name: str = name
        self.steps = tuple(steps)
        self.clock: clocks.Clock = clock or clocks.SystemClock()
        self.checks = dict(checks or {})
        self.calls: list[DriverCall] = []
        self.effects: list[DriverCall] = []
        self.points: dict[str, restore_points.RestorePoint] = {}
        self._outputs: dict[str, str] = {}  # key -> output of the effect done for it
        self._troubles: dict[str, list[_Trouble]] = {}

    # ------------------------------------------------------------------ scripting

    def fail(
        self,
        step: str,
        error: BaseException | None = None,
        *,
        times: int | None = 1,
        after_effect: bool = False,
    ) -> None:
        """The next ``times`` calls of ``step`` raise ``error`` (None: every call)."""
        self._troubles.setdefault(step, []).append(
            _Trouble(
                error=error or _default_error(step),
                hang=None,
                after_effect=after_effect,
                times=times,
            )
        )

    def hang(self, step: str, *, times: int | None = 1, after_effect: bool = False) -> Hang:
        """The next ``times`` calls of ``step`` block until released or cancelled."""
        hang = Hang()
        self._troubles.setdefault(step, []).append(
            _Trouble(error=None, hang=hang, after_effect=after_effect, times=times)
        )
        return hang

    def effects_of(self, step: str) -> list[DriverCall]:
        """Effects performed for ``step`` (a rollback step name, or ``upgrade``)."""
        return [e for e in self.effects if e.step == step]

    # ------------------------------------------------------------------ Driver

    async def checkpoint(
        self, target: models.Target, *, point_id: str, label: str = ""
    ) -> restore_points.RestorePoint:
        self.calls.append(DriverCall("checkpoint", target.id, point=point_id))
        point = restore_points.RestorePoint(
            id=ids.RestorePointId(point_id),
            target=ids.TargetId(target.id),
            driver=self.name,
            created_at=self.clock.now(),
            data={"fake": True},
            checks=dict(self.checks),
            label=label,
        )

        def effect() -> str:
            self.points[point_id] = point
            self.effects.append(DriverCall("checkpoint", target.id, point=point_id))
            return point_id

        await self._perform("checkpoint", effect)
        return point

    async def precheck(self, target: models.Target, point: restore_points.RestorePoint) -> None:
        self.calls.append(DriverCall("precheck", target.id, point=point.id))
        await self._trouble("precheck", after_effect=False)
        if point.target != target.id:
            raise errors.PrecheckFailed(
                f"restore point {point.id} belongs to target {point.target}, not {target.id}"
            )
        if point.driver != self.name:
            raise errors.PrecheckFailed(
                f"restore point {point.id} was taken by driver {point.driver}, not {self.name}"
            )

    def rollback_steps(
        self, target: models.Target, point: restore_points.RestorePoint
    ) -> Sequence[str]:
        return self.steps

    async def rollback(
        self,
        target: models.Target,
        point: restore_points.RestorePoint,
        *,
        step: str,
        key: str,
    ) -> str:
        self.calls.append(DriverCall("rollback", target.id, step=step, key=key, point=point.id))
        if step not in self.steps:
            raise errors.DriverError(f"fake driver {self.name} has no step {step!r}")
        return await self._keyed(
            step,
            key,
            DriverCall("rollback", target.id, step=step, key=key, point=point.id),
            output=f"{step} {target.id} to {point.id}",
        )

    async def upgrade(self, target: models.Target, *, key: str) -> str:
        self.calls.append(DriverCall("upgrade", target.id, step="upgrade", key=key))
        return await self._keyed(
            "upgrade",
            key,
            DriverCall("upgrade", target.id, step="upgrade", key=key),
            output=f"upgraded {target.id}",
        )

    async def status(self, target: models.Target) -> Mapping[str, Any]:
        self.calls.append(DriverCall("status", target.id))
        return {
            "restore_points": sorted(p.id for p in self.points.values() if p.target == target.id),
            "effects": sum(1 for e in self.effects if e.target == target.id),
        }

    # ------------------------------------------------------------------ internals

    async def _keyed(self, step: str, key: str, call: DriverCall, *, output: str) -> str:
        def effect() -> str:
            if key not in self._outputs:  # idempotent by key: the effect happens once
                self._outputs[key] = output
                self.effects.append(call)
            return self._outputs[key]

        if key in self._outputs:
            return self._outputs[key]
        return await self._perform(step, effect)

    async def _perform(self, step: str, effect: Callable[[], str]) -> str:
        await self._trouble(step, after_effect=False)
        result = effect()
        await self._trouble(step, after_effect=True)
        return result

    async def _trouble(self, step: str, *, after_effect: bool) -> None:
        queue = self._troubles.get(step, [])
        trouble = next((t for t in queue if t.after_effect == after_effect), None)
        if trouble is None:
            return
        if trouble.times is not None:
            trouble.times -= 1
            if trouble.times <= 0:
                queue.remove(trouble)
        if trouble.hang is not None:
            trouble.hang.entered.set()
            await trouble.hang.released.wait()
            return
        if trouble.error is not None:
            raise trouble.error


def _default_error(step: str) -> errors.RollsafeError:
    if step == "precheck":
        return errors.PrecheckFailed("scripted precheck failure")
    return errors.DriverError(f"scripted failure of step {step!r}")
