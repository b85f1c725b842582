"""A controller in a test: the real store, judge, executor and rollout driver; a fake fleet.

The fleet is a FakeDriver whose upgrade also tells the judge what the target now reports on
the ``errors`` probe: 0 for a good release, 10 for a target listed in ``bad`` (the rule
``errors-high`` is critical above 5). Every target reports 0 before the rollout, so the
judge has data on it (readiness needs that).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from rollsafe import testing
from rollsafe.config import models
from rollsafe.domain import clocks, ids, observations, rollouts
from rollsafe.execute import runs as executing
from rollsafe.judge import engine
from rollsafe.rollouts import conducting, opening
from rollsafe.storage import auditing, sql

RULE = {"id": "errors-high", "kind": "threshold", "probe": "errors", "op": ">", "value": 5}


class Crash(BaseException):
    """The controller dies at a fault boundary (nothing in rollsafe catches a BaseException)."""


class Verifier:
    def __init__(self) -> None:
        self.ok = True

    async def verify(self, target, point) -> executing.VerifyOutcome:
        return executing.VerifyOutcome(ok=self.ok, summary="healthy" if self.ok else "still 500")


class FleetDriver(testing.FakeDriver):
    """A FakeDriver whose upgrades change what the judge sees."""

    def __init__(self, judge: engine.Engine, clock: clocks.Clock) -> None:
        super().__init__("fake", clock=clock)
        self.judge = judge
        self.bad: set[str] = set()
        self.mute: set[str] = set()  # targets whose probe stops answering once upgraded

    def report(self, target: str, value: float) -> None:
        self.judge.observe(
            observations.Observation(
                time=self.clock.now(), target=ids.TargetId(target), source="errors", value=value
            )
        )

    async def upgrade(self, target: models.Target, *, key: str) -> str:
        output = await super().upgrade(target, key=key)
        if target.id not in self.mute:
            self.report(target.id, 10.0 if target.id in self.bad else 0.0)
        return output

    async def rollback(self, target, point, *, step, key) -> str:
        output = await super().rollback(target, point, step=step, key=key)
        self.report(target.id, 0.0)
        return output

    def upgrades(self, target: str | None = None) -> list[str]:
        return [e.target for e in self.effects_of("upgrade") if target in (None, e.target)]


class Controller:
    """Everything one controller process holds; ``restart()`` is a new process, same store."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        hosts: int = 4,
        plan: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        fault=None,
        silent: set[str] | frozenset[str] = frozenset(),
        rules: list[dict[str, Any]] | None = None,
        url: str | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.config = models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": f"web-{i}", "driver": "fake"} for i in range(1, hosts + 1)],
                "rules": rules or [{**RULE, "severity": "critical"}],
                "policy": {"max_rollbacks_per_target": 10, **(policy or {})},
                "rollouts": [
                    {"name": "release", "bake": "0.3s", "waves": [1, "100%"], **(plan or {})}
                ],
            }
        )
        self.clock = clocks.SystemClock()
        self.store = sql.open_store(tmp_path / "state", url)
        self.store.sync_targets(executing.target_records(self.config))
        self.verifier = Verifier()
        self.judge = engine.Engine(self.config)
        self.driver = FleetDriver(self.judge, self.clock)
        self.fault = fault
        self._build()
        for i in range(1, hosts + 1):
            if f"web-{i}" not in silent:  # a silent target: its probe never answered
                self.driver.report(f"web-{i}", 0.0)

    def _build(self) -> None:
        self.executor = executing.Executor(
            config=self.config,
            store=self.store,
            drivers={"fake": self.driver},
            verifier=self.verifier,
            clock=self.clock,
            poll_interval=0.01,
            retry_backoff=0.001,
            fault=lambda name: None,
        )
        self.rollouts = conducting.RolloutConductor(
            config=self.config,
            state_dir=self.tmp_path / "state",
            store=self.store,
            executor=self.executor,
            engine=self.judge,
            clock=self.clock,
            drivers={"fake": self.driver},
            poll_interval=0.01,
            evidence_timeout=0.5,
            retry_backoff=0.001,
            fault=self.fault or (lambda name: None),
        )

    def restart(self, *, fault=None) -> None:
        """A new controller on the same store, judge data and fleet (the fault hook replaced)."""
        self.fault = fault
        self._build()

    def open(self, plan: str = "release") -> rollouts.Rollout:
        return opening.open_rollout(
            config=self.config,
            store=self.store,
            plan_name=plan,
            actor="test",
            reason="test",
            clock=self.clock,
        )

    async def run(self, rollout_id: str, *, until=None, timeout: float = 20.0) -> rollouts.Rollout:
        """Drive the rollout until it ends (or ``until(rollout)`` holds), runs served beside.

        A Crash raised by the fault hook propagates, as the controller's death would.
        """
        stop = asyncio.Event()
        serving = asyncio.create_task(self.executor.serve(stop))
        driving_task = asyncio.create_task(self.rollouts.drive(rollout_id))
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if driving_task.done():
                        driving_task.result()
                        return self.get(rollout_id)
                    if until is not None and until(self.get(rollout_id)):
                        return self.get(rollout_id)
                    await asyncio.sleep(0.01)
        finally:
            stop.set()
            if not driving_task.done():
                driving_task.cancel()
            for task in (driving_task, serving):
                with contextlib.suppress(BaseException):
                    await task

    def get(self, rollout_id: str) -> rollouts.Rollout:
        found = self.store.get_rollout(rollouts.RolloutId(rollout_id))
        assert found is not None
        return found

    def targets(self, rollout_id: str) -> dict[str, rollouts.RolloutTarget]:
        rows = self.store.list_rollout_targets(rollouts.RolloutId(rollout_id))
        return {row.target: row for row in rows}

    def states(self, rollout_id: str) -> dict[str, str]:
        return {t: row.state.value for t, row in self.targets(rollout_id).items()}

    def pinned(self) -> dict[str, str | None]:
        return {r.id: r.pin_reason for r in self.store.list_targets() if r.pinned}

    def actions(self) -> list[str]:
        return [e.entry.action for e in self.store.list_audit_events()]

    def audit_ok(self) -> bool:
        return auditing.verify_store(self.store).ok


def crash_at(boundary: str):
    def hook(name: str) -> None:
        if name == boundary:
            raise Crash(name)

    return hook
