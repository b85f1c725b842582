"""Shared set-up for the executor tests: a config, the real SQLite store, the FakeDriver."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rollsafe import testing
from rollsafe.config import models
from rollsafe.domain import ids, restore_points, runs
from rollsafe.execute import runs as executing
from rollsafe.storage import sql
from rollsafe.storage.auditing import verify_store
from rollsafe.verify import checkpoints


class Crash(BaseException):
    """Simulates the controller dying at a fault boundary (nothing in rollsafe catches it)."""


def crash_at(boundary: str) -> Callable[[str], None]:
    def hook(name: str) -> None:
        if name == boundary:
            raise Crash(name)

    return hook


def no_fault(name: str) -> None:
    return None


StubVerifier = testing.FakeVerifier
"""The shipped fake: its ``outcome`` is what verification answers, ``error`` is raised."""


def make_config(
    *targets: str, rules: list[Any] | None = None, **policy: Any
) -> models.RollsafeConfig:
    return models.RollsafeConfig(
        targets=[models.Target(id=t, driver="fake") for t in targets or ("web-1",)],
        policy=models.Policy(**policy),
        rules=rules or [],
    )


def open_store(tmp_path: Path) -> sql.SqlStore:
    return sql.open_store(tmp_path / "state")


def make_executor(
    config: models.RollsafeConfig,
    store: sql.SqlStore,
    driver: testing.FakeDriver,
    *,
    clock: testing.FakeClock,
    verifier: StubVerifier | None = None,
    fault: Callable[[str], None] = no_fault,
    **options: Any,
) -> executing.Executor:
    options.setdefault("poll_interval", 0.01)
    options.setdefault("retry_backoff", 0.001)
    return executing.Executor(
        config=config,
        store=store,
        drivers={driver.name: driver},
        verifier=verifier or StubVerifier(),
        clock=clock,
        fault=fault,
        **options,
    )


async def checkpoint(
    config: models.RollsafeConfig,
    store: sql.SqlStore,
    driver: testing.FakeDriver,
    clock: testing.FakeClock,
    target: str = "web-1",
) -> restore_points.RestorePoint:
    return await checkpoints.take_checkpoint(
        config=config, target_id=target, store=store, driver=driver, clock=clock, actor="test"
    )


def actions(store: sql.SqlStore, run_id: str) -> list[str]:
    return [e.entry.action for e in store.list_audit_events() if e.entry.run_id == run_id]


def rollback_calls(driver: testing.FakeDriver, step: str | None = None) -> list[Any]:
    return [c for c in driver.calls if c.method == "rollback" and (step is None or c.step == step)]


def quarantined(store: sql.SqlStore, target: str = "web-1") -> bool:
    return any(t.id == target and t.quarantined for t in store.list_targets())


def chain_ok(store: sql.SqlStore) -> bool:
    return verify_store(store).ok


def all_runs(store: sql.SqlStore, target: str = "web-1") -> list[runs.RollbackRun]:
    return store.list_runs(target=ids.TargetId(target), limit=1000)


class AuditWatch:
    """An ``on_audit`` listener that tests can await: ``await watch.seen("run.succeeded")``."""

    def __init__(self) -> None:
        self.entries: list[Any] = []
        self._changed: asyncio.Event | None = None

    def __call__(self, entry: Any) -> None:
        self.entries.append(entry)
        if self._changed is not None:
            self._changed.set()

    def count(self, action: str) -> int:
        return sum(1 for e in self.entries if e.action == action)

    async def seen(self, action: str, *, count: int = 1, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while self.count(action) < count:
                self._changed = asyncio.Event()
                await self._changed.wait()
