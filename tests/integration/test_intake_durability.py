"""Delivery semantics, durably: a webhook answered 202 is never lost, and processed once.

The API stores the body before it answers; a controller killed after the answer (here: the API
alone ran, nothing processed) finds the row pending when it starts, processes it, and a later
restart processes nothing again. A controller killed after judging but before marking the row
processes it again on start: the same observations, stored once, the same decisions.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import textwrap

import httpx

from rollsafe.config import loading
from rollsafe.domain import clocks, ids
from rollsafe.interfaces.api import app as api_app
from rollsafe.runtime import daemon, inbox
from rollsafe.storage import sql

# Recent: observations older than the retention (7 days) are pruned by the daemon.
STARTED = (datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(minutes=5)).isoformat()
FIRING = {
    "version": "4",
    "status": "firing",
    "receiver": "rollsafe",
    "groupKey": "{}:{}",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": "10.0.0.11:9100"},
            "annotations": {"summary": "5xx above 5%"},
            "startsAt": STARTED,
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "fp-1",
        },
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": "10.9.9.9:9100"},
            "annotations": {},
            "startsAt": STARTED,
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "fp-2",
        },
    ],
}


def write_config(tmp_path, store_url=None):
    """The config; ``store_url`` (PostgreSQL) puts the store on a server, else SQLite."""
    path = tmp_path / "rollsafe.yaml"
    store = f"store: {{url: '{store_url}'}}" if store_url else ""
    path.write_text(
        store
        + "\n"
        + textwrap.dedent(
            """\
            state_dir: state
            policy: {dry_run: true}
            server: {enabled: false}
            targets:
              - id: web-1
                address: 10.0.0.11
            intake:
              - name: am
                kind: alertmanager
                auth: {kind: none}
                target_label: instance
                strip_port: true
            rules:
              - id: am-firing
                kind: alert
                source: am
                severity: warning
            """
        )
    )
    return loading.load(path)


async def post_once(loaded):
    """Only the API runs: the body is stored and answered, then everything stops."""
    store = sql.open_store(loaded.state_dir, loaded.config.store.url)
    try:
        app = api_app.create_app(loaded.config, store=store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rollsafe") as client:
            response = await client.post("/intake/am", json=FIRING)
        assert response.status_code == 202
    finally:
        store.close()


async def run_until_processed(loaded):
    controller = daemon.Daemon(loaded)
    head = controller.store.audit_head()
    before = 0 if head is None else head.seq
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    try:
        await asyncio.wait_for(controller.ready.wait(), 30)
        if controller.leadership is not None:
            # On a shared store (PostgreSQL) a controller starts up (and warms up its judge)
            # only once elected; it says so in the audit log.
            async with asyncio.timeout(30):
                while not any(
                    e.entry.action == "daemon.leading"
                    for e in controller.store.list_audit_events(since_seq=before)
                ):
                    await asyncio.sleep(0.02)
        async with asyncio.timeout(30):
            while controller.store.list_inbox(pending_only=True):
                await asyncio.sleep(0.02)
        await asyncio.sleep(0)  # let the processor finish its batch
        return controller
    finally:
        stop.set()
        await task
        # The daemon does not close the store it opened; psycopg warns about a leaked
        # connection where sqlite3 stays silent.
        controller.store.close()


async def test_answered_then_killed_then_processed_once(tmp_path, store_url):
    loaded = write_config(tmp_path, store_url)
    await post_once(loaded)
    with sql.open_store(loaded.state_dir, loaded.config.store.url) as store:
        assert len(store.list_inbox(pending_only=True)) == 1

    first = await run_until_processed(loaded)
    second = await run_until_processed(loaded)  # a restart finds nothing to do

    with sql.open_store(loaded.state_dir, loaded.config.store.url) as store:
        [row] = store.list_inbox()
        assert row.outcome == "observed"
        observed = store.list_observations(source="am")
        assert [(o.target, o.value) for o in observed] == [("web-1", 1.0)]
        decisions = [
            d for d in store.list_decisions(target=ids.TargetId("web-1")) if d.rule == "am-firing"
        ]
        assert [d.severity.label for d in decisions] == ["warning"]  # decided once
        # The second alert named no configured target: audited, not acted on.
        unmapped = [e for e in store.list_audit_events() if e.entry.action == "intake.unmapped"]
        assert len(unmapped) == 1
        assert "10.9.9.9" in json.dumps(unmapped[0].entry.details)
    assert first.observed == 1
    assert second.observed == 0
    # After the restart the judge still knows the alert fires (warm-up of alert sources).
    [decision] = [
        d
        for d in second.engine.evaluate("web-1", now=clocks.SystemClock().now())
        if d.rule == "am-firing"
    ]
    assert decision.severity.label == "warning"


async def test_killed_between_judging_and_marking_stores_observations_once(tmp_path, store_url):
    loaded = write_config(tmp_path, store_url)
    await post_once(loaded)
    seen = []
    with sql.open_store(loaded.state_dir, loaded.config.store.url) as store:
        processor = inbox.InboxProcessor(
            loaded.config, store, sink=seen.append, clock=clocks.SystemClock()
        )
        [record] = store.list_inbox(pending_only=True)
        processor._judge(record)  # judged... and the controller dies before marking the row
        assert store.list_inbox(pending_only=True) == [record]
        assert store.list_observations(source="am") == []

        again = inbox.InboxProcessor(
            loaded.config, store, sink=seen.append, clock=clocks.SystemClock()
        )
        [done] = await again.process_pending()
        assert done.outcome == "observed"
        assert done.finished
        assert len(store.list_observations(source="am")) == 1
        assert await again.process_pending() == []
    assert len(seen) == 2  # judged twice: harmless, decisions only store changes


async def test_a_row_that_no_longer_parses_is_rejected_not_retried(tmp_path, store_url):
    loaded = write_config(tmp_path, store_url)
    with sql.open_store(loaded.state_dir, loaded.config.store.url) as store:
        from rollsafe.storage import repositories

        store.add_inbox(
            repositories.InboxEntry(
                received_at=1.0, endpoint="gone", headers={}, body=b"{}", dedupe_key="k"
            )
        )
        processor = inbox.InboxProcessor(
            loaded.config, store, sink=lambda obs: None, clock=clocks.SystemClock()
        )
        [done] = await processor.process_pending()
        assert done.outcome == "rejected"
        [row] = store.list_inbox()
        assert row.outcome == "rejected: endpoint 'gone' is no longer configured"
        assert [e.entry.action for e in store.list_audit_events()] == ["intake.rejected"]
