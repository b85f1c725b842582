"""The webhook inbox in the store: durable receipt, dedupe window, one-time processing."""

from __future__ import annotations

import pytest

from rollsafe.domain import audit_events, ids, observations
from rollsafe.storage import repositories, sql


@pytest.fixture
def store(tmp_path, store_url):
    with sql.open_store(tmp_path, store_url) as opened:
        yield opened


def entry(body=b'{"alerts": []}', *, at=100.0, endpoint="am", key=None):
    return repositories.InboxEntry(
        received_at=at,
        endpoint=endpoint,
        headers={"content-type": "application/json", "authorization": "***"},
        body=body,
        dedupe_key=key or f"{endpoint}:{body!r}",
    )


def test_add_and_read_back_survives_reopening(tmp_path, store_url):
    with sql.open_store(tmp_path, store_url) as store:
        receipt = store.add_inbox(entry(b"\x00binary\xff"))
    assert receipt == repositories.InboxReceipt(id=receipt.id, duplicate=False)
    with sql.open_store(tmp_path, store_url) as store:
        [record] = store.list_inbox(pending_only=True)
    assert record.id == receipt.id
    assert record.body == b"\x00binary\xff"
    assert record.headers == {"content-type": "application/json", "authorization": "***"}
    assert (record.processed_at, record.outcome) == (None, None)


def test_dedupe_within_the_window_only(store):
    first = store.add_inbox(entry(at=100.0), dedupe_since=0.0)
    again = store.add_inbox(entry(at=150.0), dedupe_since=50.0)
    assert again == repositories.InboxReceipt(id=first.id, duplicate=True)
    later = store.add_inbox(entry(at=500.0), dedupe_since=400.0)
    assert not later.duplicate
    assert later.id != first.id
    other = store.add_inbox(entry(b"other", at=500.0), dedupe_since=0.0)
    assert not other.duplicate
    assert len(store.list_inbox()) == 3


def test_finish_once_with_observations_and_audit_in_one_transaction(store):
    receipt = store.add_inbox(entry())
    obs = observations.Observation(
        time=90.0,
        target=ids.TargetId("web-1"),
        source="am",
        value=1.0,
        alert_state=observations.AlertState.FIRING,
        text='{"id":"x"}',
    )
    audit = audit_events.AuditEntry(
        time=101.0, actor="intake", action="intake.unmapped", reason="r"
    )
    assert store.finish_inbox(
        receipt.id, outcome="observed", at=101.0, observations=[obs], audit=[audit]
    )
    assert store.list_observations(source="am") == [obs]
    assert [e.entry.action for e in store.list_audit_events()] == ["intake.unmapped"]
    # A second processor finishing the same row writes nothing twice.
    assert not store.finish_inbox(
        receipt.id, outcome="observed", at=102.0, observations=[obs], audit=[audit]
    )
    assert len(store.list_observations(source="am")) == 1
    assert len(list(store.list_audit_events())) == 1
    [record] = store.list_inbox()
    assert (record.processed_at, record.outcome) == (101.0, "observed")
    assert store.list_inbox(pending_only=True) == []


def test_list_filters_and_order(store):
    ids_ = [
        store.add_inbox(entry(f"{n}".encode(), endpoint=e)).id
        for n, e in enumerate(["am", "gr", "am"])
    ]
    assert [r.id for r in store.list_inbox(endpoint="am")] == [ids_[0], ids_[2]]
    assert [r.id for r in store.list_inbox(after_id=ids_[0], limit=1)] == [ids_[1]]


def test_prune_keeps_pending_rows(store):
    done = store.add_inbox(entry(b"a", at=10.0))
    pending = store.add_inbox(entry(b"b", at=10.0))
    recent = store.add_inbox(entry(b"c", at=500.0))
    store.finish_inbox(done.id, outcome="observed", at=11.0)
    store.finish_inbox(recent.id, outcome="observed", at=501.0)
    assert store.prune_inbox(older_than=100.0) == 1
    assert [r.id for r in store.list_inbox()] == [pending.id, recent.id]
