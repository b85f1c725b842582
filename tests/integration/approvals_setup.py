"""A controller's people side for tests: real SQLite store, FakeDriver executor, the real app.

The app is called in the test's own event loop (httpx over ASGI), so a decision made through
the API wakes the run the executor drives, exactly as inside ``rollsafe run``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from rollsafe import testing
from rollsafe.config import models
from rollsafe.domain import runs
from rollsafe.execute import runs as executing
from rollsafe.interfaces.api import app as api_app
from rollsafe.runtime import metrics
from rollsafe.storage import sql
from rollsafe.verify import checkpoints

TOKENS = {"VIEWER_TOKEN": "v" * 24, "OPERATOR_TOKEN": "o" * 24, "ADMIN_TOKEN": "a" * 24}
LINK_KEY = "link-key-for-tests-0123456789"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


class Verified:
    async def verify(self, target, point):
        return executing.VerifyOutcome(ok=True, summary="healthy again", details={})


class AuditWatch:
    """``on_audit`` listener tests can await."""

    def __init__(self) -> None:
        self.entries: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, entry: Any) -> None:
        self.entries.append(entry)
        self._changed.set()

    async def seen(self, action: str, *, run_id: str | None = None, timeout: float = 10.0) -> None:
        def found() -> bool:
            return any(
                e.action == action and (run_id is None or e.run_id == run_id) for e in self.entries
            )

        async with asyncio.timeout(timeout):
            while not found():
                self._changed.clear()
                await self._changed.wait()


def make_config(
    *, approval: str = "require_approval", top: dict[str, Any] | None = None, **access: Any
) -> models.RollsafeConfig:
    """Two fake-driver targets, an interactive Slack notifier, three tokens; ``top`` adds or
    replaces top-level sections, ``access`` fields of ``access``."""
    return models.RollsafeConfig.model_validate(
        {
            **(top or {}),
            "targets": [{"id": "web-1", "driver": "fake"}, {"id": "web-2", "driver": "fake"}],
            "policy": {"approval": approval, "approval_timeout": "10m"},
            "notifiers": [
                {
                    "kind": "slack",
                    "name": "ops",
                    "url": "http://127.0.0.1:9/hook",
                    "interactive": True,
                    "signing_secret_env": "SLACK_SIGNING_SECRET",
                    "approvers": ["U-ALICE", "bob"],
                }
            ],
            "access": {
                "tokens": [
                    {"name": "vera", "role": "viewer", "token_env": "VIEWER_TOKEN"},
                    {"name": "oscar", "role": "operator", "token_env": "OPERATOR_TOKEN"},
                    {"name": "ada", "role": "admin", "token_env": "ADMIN_TOKEN"},
                ],
                "link_key_env": "LINK_KEY",
                "public_url": "https://rollsafe.example.com",
                **access,
            },
        }
    )


class Controller:
    """Store, executor and app of one controller; ``client`` speaks to the app."""

    def __init__(self, tmp_path: Path, config: models.RollsafeConfig | None = None) -> None:
        self.config = config or make_config()
        self.clock = testing.FakeClock()
        self.store = sql.open_store(tmp_path / "state")
        self.driver = testing.FakeDriver(clock=self.clock)
        self.watch = AuditWatch()
        self.metrics = metrics.Metrics(
            open_runs=lambda: self.store.list_runs(open_only=True, limit=1000)
        )
        self.executor = executing.Executor(
            config=self.config,
            store=self.store,
            drivers={"fake": self.driver},
            verifier=Verified(),
            clock=self.clock,
            on_audit=self._audited,
            fault=lambda name: None,
            poll_interval=0.01,
        )
        environ = {**TOKENS, "LINK_KEY": LINK_KEY, "SLACK_SIGNING_SECRET": SLACK_SECRET}
        self.app = api_app.create_app(
            self.config,
            store=self.store,
            clock=self.clock,
            base_dir=tmp_path,
            environ=environ,
            executor=self.executor,
            metrics=self.metrics,
        )
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://rollsafe.test"
        )

    def _audited(self, entry: Any) -> None:
        self.metrics.audited(entry)
        self.watch(entry)

    async def close(self) -> None:
        await self.client.aclose()
        self.store.close()

    async def checkpoint(self, target: str = "web-1") -> None:
        await checkpoints.take_checkpoint(
            config=self.config,
            target_id=target,
            store=self.store,
            driver=self.driver,
            clock=self.clock,
            actor="test",
        )

    async def waiting_run(self, target: str = "web-1") -> tuple[runs.RollbackRun, asyncio.Task]:
        """A decision's run, driven in a task, returned once it waits for a person."""
        await self.checkpoint(target)
        run = self.executor.request(
            target, trigger="decision:http-5xx", actor="rollsafe", reason="5xx ratio 0.4"
        )
        task = asyncio.create_task(self.executor.drive(run.id))
        await self.watch.seen("run.state.awaiting_approval", run_id=run.id)
        assert self.store.get_run(run.id).state is runs.RunState.AWAITING_APPROVAL
        return run, task


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role.upper() + '_TOKEN']}"}
