"""Every leader-only write carries the term's fencing token: a deposed leader writes nothing.

A leader paused past its lease (GC, a frozen VM) wakes up with work in hand: an inbox row to
process, probe results to flush, decisions to store, a shipping cursor to advance. Another
replica took the lease meanwhile (token 2 over the old holder's 1). Every one of those writes
from the old term is refused (``FencedOut``), nothing of it reaches the store, and the inbox
row stays pending until the new leader processes it. Real store: SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import time

import pytest

from rollsafe.config import loading
from rollsafe.domain import errors, ids, observations
from rollsafe.runtime import daemon
from rollsafe.storage import fencing, repositories

LEADER = repositories.LEADER_LEASE

FIRING = {
    "version": "4",
    "status": "firing",
    "receiver": "rollsafe",
    "groupKey": "{}:{}",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": "10.0.0.11:9100"},
            "annotations": {},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "fp-1",
        }
    ],
}


def _loaded(tmp_path, store_url):
    path = tmp_path / "rollsafe.yaml"
    store = f"store: {{url: '{store_url}'}}\n" if store_url else ""
    path.write_text(
        store
        + textwrap.dedent(
            """\
            state_dir: state
            policy: {dry_run: true}
            server: {enabled: false}
            targets:
              - id: web-1
                address: 10.0.0.11
            probes:
              - {name: http, kind: http, url: "http://{address}/"}
            intake:
              - {name: am, kind: alertmanager, auth: {kind: none}, target_label: instance,
                 strip_port: true}
            rules:
              - {id: am-firing, kind: alert, source: am, severity: warning}
            """
        )
    )
    return loading.load(path)


@pytest.fixture
def loaded(tmp_path, store_url):
    return _loaded(tmp_path, store_url)


def _in_term(token: int | None, work):
    """Run ``work`` in a task of its own bound to ``token``, as a leader term's task does."""

    async def term():
        fencing.bind(token)
        return await work()

    return asyncio.create_task(term())


async def test_a_deposed_leader_consumes_no_alert_and_writes_nothing(loaded):
    old = daemon.Daemon(loaded, leader_election=True)
    store = old.store
    try:
        now = time.time()
        old._sync_targets()
        assert store.acquire_lease(LEADER, holder="old", ttl=10, now=now) == 1
        store.add_inbox(
            repositories.InboxEntry(
                received_at=now,
                endpoint="am",
                headers={},
                body=json.dumps(FIRING).encode(),
                dedupe_key="fp-1",
            )
        )
        # The old leader freezes; another replica takes the lease once it expired.
        assert store.acquire_lease(LEADER, holder="new", ttl=10, now=now + 60) == 2
        audit_before = len(list(store.list_audit_events()))

        async def wakes_up():
            with pytest.raises(errors.FencedOut):
                await old.inbox.process_pending()  # judged, then the row's write refused
            probe = observations.Observation(
                time=time.time(), target=ids.TargetId("web-1"), source="http", status=200
            )
            with pytest.raises(errors.FencedOut):
                old._observe(probe, save=True)  # judged: the decision's write is refused
            with pytest.raises(errors.FencedOut):
                old._flush()  # the probe result's batch is refused
            with pytest.raises(errors.FencedOut):
                store.set_cursor("syslog", 5)

        await _in_term(1, wakes_up)

        [row] = store.list_inbox()
        assert row.processed_at is None  # still pending, for the new leader
        assert store.list_observations() == []
        assert store.list_decisions(target=ids.TargetId("web-1")) == []
        assert store.get_cursor("syslog") == 0
        assert len(list(store.list_audit_events())) == audit_before

        # The new leader (token 2) processes the alert: observed once, decided once.
        new = daemon.Daemon(loaded, store=store, leader_election=True)

        async def leads():
            return await new.inbox.process_pending()

        [done] = await _in_term(2, leads)
        assert done.outcome == "observed"
        assert done.finished
        assert [o.source for o in store.list_observations(source="am")] == ["am"]
        decisions = store.list_decisions(target=ids.TargetId("web-1"))
        assert [d.severity.label for d in decisions if d.rule == "am-firing"] == ["warning"]
    finally:
        store.close()


async def test_a_refused_write_ends_the_term_and_the_replica_steps_down(loaded):
    """The daemon treats a refused write like a lost lease: it halts and follows."""
    controller = daemon.Daemon(loaded, leader_election=True)
    store = controller.store
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    try:
        async with asyncio.timeout(30):
            await controller.leadership.elected.wait()
            while not any(e.entry.action == "daemon.leading" for e in store.list_audit_events()):
                await asyncio.sleep(0.02)
        lease = store.lease(LEADER)
        # Another holder takes the lease behind this leader's back (as if it had been paused).
        store.acquire_lease(LEADER, holder="other", ttl=600, now=lease.expires_at + 1)
        store.add_inbox(
            repositories.InboxEntry(
                received_at=time.time(),
                endpoint="am",
                headers={},
                body=json.dumps(FIRING).encode(),
                dedupe_key="fp-1",
            )
        )
        controller.inbox.wake()
        async with asyncio.timeout(30):
            await controller.leadership.lost.wait()
        assert not controller.failed  # a deposed leader follows; it does not crash
        [row] = store.list_inbox()
        assert row.processed_at is None
        assert store.list_observations(source="am") == []
    finally:
        stop.set()
        await task
        store.close()
