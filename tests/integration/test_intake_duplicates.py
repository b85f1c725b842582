"""Alerts from three Alertmanager replicas, resent and repeated: exactly one rollback run.

A real controller (daemon, executor, local driver with a directory restore point) runs with its
API on a real socket. The same firing alert arrives from three replicas (their bodies differ
in ``externalURL``, so the inbox cannot dedupe them), several times each, concurrently, then
again after the run finished (Alertmanager's repeat interval): one run. Then the alert resolves
and fires again at once: no upgrade since the verified rollback, so no second run (audited);
after a new upgrade, a new incident is exactly one more run.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import textwrap
import time

import aiohttp
import pytest

from rollsafe.config import loading
from rollsafe.domain import clocks, ids, observations, runs
from rollsafe.interfaces.api import hosting
from rollsafe.runtime import assembly, daemon
from rollsafe.storage import sql
from rollsafe.verify import checkpoints

TOKEN = "replica-token"


def body(status: str, *, replica: int, starts: str, ends: str = "0001-01-01T00:00:00Z") -> bytes:
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="HighErrorRate"}',
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "rollsafe",
            "groupLabels": {"alertname": "HighErrorRate"},
            "commonLabels": {"alertname": "HighErrorRate"},
            "commonAnnotations": {},
            "externalURL": f"http://alertmanager-{replica}:9093",
            "alerts": [
                {
                    "status": status,
                    "labels": {
                        "alertname": "HighErrorRate",
                        "instance": "127.0.0.1:8080",
                        "severity": "critical",
                    },
                    "annotations": {"summary": "5xx above 5%"},
                    "startsAt": starts,
                    "endsAt": ends,
                    "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": "c0ffee",
                }
            ],
        }
    ).encode()


def ago(seconds: float) -> str:
    return (
        datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(seconds=seconds)
    ).isoformat()


@pytest.fixture
def loaded(tmp_path, monkeypatch, store_url):
    monkeypatch.setenv("AM_TOKEN", TOKEN)
    live = tmp_path / "srv" / "web-1"
    live.mkdir(parents=True)
    (live / "app.conf").write_text("version = 1\n")
    path = tmp_path / "rollsafe.yaml"
    # store_url: PostgreSQL shared by the controllers; None: SQLite in the state directory.
    store = f"store: {{url: '{store_url}'}}\n" if store_url else ""
    path.write_text(
        store
        + textwrap.dedent(
            f"""\
            state_dir: state
            policy: {{max_rollbacks_per_target: 10, verify_timeout: 10s}}
            server: {{address: 127.0.0.1, port: 0}}
            targets:
              - id: web-1
                address: 127.0.0.1
                driver: files
                vars: {{root: {tmp_path / "srv"}}}
            drivers:
              - kind: local
                name: files
                directory: "{{root}}/{{id}}"
            intake:
              - name: alertmanager
                kind: alertmanager
                auth: {{kind: bearer, token_env: AM_TOKEN}}
                target_label: instance
                strip_port: true
            rules:
              - id: alert-critical
                kind: alert
                source: alertmanager
                alertname: HighErrorRate
                min_severity: critical
                severity: critical
            """
        )
    )
    result = loading.load(path)
    with sql.open_store(result.state_dir, result.config.store.url) as store:
        drivers = assembly.build_drivers(result.config, result.state_dir)
        asyncio.run(
            checkpoints.take_checkpoint(
                config=result.config,
                target_id="web-1",
                store=store,
                driver=drivers["files"],
                clock=clocks.SystemClock(),
                actor="test",
            )
        )
    return result


class Controller:
    """A real controller with its API, in this event loop."""

    def __init__(self, loaded):
        self.daemon = daemon.Daemon(loaded)
        self.stop = asyncio.Event()
        self.listening = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(
            hosting.run_controller(
                self.daemon, self.stop, listening=lambda h, p: self.listening.set_result(p)
            )
        )

    async def url(self) -> str:
        port = await asyncio.wait_for(asyncio.shield(self.listening), 30)
        return f"http://127.0.0.1:{port}"

    def runs(self) -> list[runs.RollbackRun]:
        return self.daemon.store.list_runs(target=ids.TargetId("web-1"), limit=100)

    async def settled(self, count: int) -> list[runs.RollbackRun]:
        """Wait until ``count`` runs exist, all finished, and the inbox is empty."""
        async with asyncio.timeout(60):
            while True:
                found = self.runs()
                pending = self.daemon.store.list_inbox(pending_only=True)
                if len(found) >= count and not any(r.open for r in found) and not pending:
                    return found
                await asyncio.sleep(0.05)

    async def close(self):
        self.stop.set()
        await self.task


async def post_all(url: str, bodies: list[bytes]) -> list[int]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:

        async def post(data: bytes) -> int:
            async with session.post(
                f"{url}/intake/alertmanager", data=data, headers=headers
            ) as response:
                return response.status

        return await asyncio.gather(*(post(data) for data in bodies))


async def test_replicas_resends_and_repeats_open_one_run_per_incident(loaded):
    controller = Controller(loaded)
    try:
        url = await controller.url()
        started = ago(60)
        firing = [body("firing", replica=r, starts=started) for r in range(3)]

        # Three replicas, three deliveries each, all at once.
        statuses = await post_all(url, firing * 3)
        assert statuses == [202] * 9
        [run] = await controller.settled(1)
        assert run.state is runs.RunState.SUCCEEDED, run.error
        assert run.trigger == "decision:alert-critical"

        # The repeat interval: the same alert again, after the run finished.
        assert await post_all(url, firing * 2) == [202] * 6
        assert len(await controller.settled(1)) == 1

        # Resolved (also from every replica, also out of order with a late firing resend).
        resolved = [body("resolved", replica=r, starts=started, ends=ago(30)) for r in range(3)]
        assert await post_all(url, [*resolved, firing[0]]) == [202] * 4
        await controller.settled(1)
        latest = {
            d.rule: d.severity.label
            for d in controller.daemon.store.latest_decisions()[ids.TargetId("web-1")]
        }
        assert latest["alert-critical"] == "ok"
        assert len(controller.runs()) == 1

        # The alert fires again at once, with no upgrade since the verified rollback: the
        # rollback already undid the upgrade, so no second run; a person is told instead.
        again = [body("firing", replica=r, starts=ago(10)) for r in range(3)]
        assert await post_all(url, again * 2) == [202] * 6
        assert len(await controller.settled(1)) == 1
        audit = [e.entry for e in controller.daemon.store.list_audit_events()]
        assert [e.target for e in audit if e.action == "run.not_requested"] == ["web-1"]

        # After a new upgrade, a new incident is a new rollback.
        upgraded = time.time()
        controller.daemon.store.add_observations(
            [observations.Observation(upgraded, ids.TargetId("web-1"), "mark:upgrade", 1.0)]
        )
        while controller.daemon.acting.upgraded.get("web-1", 0.0) < upgraded:
            await asyncio.sleep(0.05)  # the daemon polls the store for marks
        resolved = [body("resolved", replica=r, starts=ago(10), ends=ago(5)) for r in range(3)]
        assert await post_all(url, resolved) == [202] * 3
        await controller.settled(1)
        newest = [body("firing", replica=r, starts=ago(1)) for r in range(3)]
        assert await post_all(url, newest * 2) == [202] * 6
        found = await controller.settled(2)
        assert len(found) == 2
        assert all(r.state is runs.RunState.SUCCEEDED for r in found)
    finally:
        await controller.close()
    # Every accepted delivery was processed; exact resends were not even stored twice.
    with sql.open_store(loaded.state_dir, loaded.config.store.url) as store:
        rows = store.list_inbox(limit=1000)
        assert rows
        assert all(r.processed_at is not None for r in rows)
        assert len(rows) < 9 + 6 + 4 + 6 + 3 + 6
