"""Tampering with the database behind rollsafe's back is caught and named by verify.

Run on SQLite (the file) and on PostgreSQL (the server), through plain SQL.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rollsafe.audit import chain
from rollsafe.domain import audit_events
from rollsafe.storage import auditing, engines, sql


@dataclasses.dataclass(frozen=True)
class Place:
    """Where the store under attack lives: its state directory and URL (None: SQLite)."""

    state_dir: Path
    url: str | None


@pytest.fixture
def state(tmp_path: Path, store_url: str | None) -> Place:
    with sql.open_store(tmp_path, store_url) as store:
        for n in range(1, 51):
            store.append_audit(
                audit_events.AuditEntry(
                    time=1_700_000_000.0 + n,
                    actor="daemon",
                    action="run.step.done",
                    target="db-1",
                    details={"n": n, "ratio": n / 7},
                )
            )
        assert auditing.verify_store(store).ok
    return Place(tmp_path, store_url)


def _raw(state: Place, sql_text: str) -> None:
    engine = engines.create(state.url or sql.default_url(state.state_dir))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(sql_text)
    finally:
        engine.dispose()


def _verify(state: Place) -> chain.VerifyResult:
    with sql.open_store(state.state_dir, state.url) as store:
        return auditing.verify_store(store)


def test_altering_a_detail_names_the_event(state: Place) -> None:
    if state.url:
        statement = (
            "UPDATE audit_events SET details = jsonb_set(details::jsonb, '{n}', '999')::json "
            "WHERE seq = 17"
        )
    else:
        statement = "UPDATE audit_events SET details = json_set(details, '$.n', 999) WHERE seq = 17"
    _raw(state, statement)
    result = _verify(state)
    assert result.first_bad_seq == 17
    assert result.reason == "event 17 was altered (hash mismatch)"
    assert result.count == 16


def test_altering_a_column_names_the_event(state: Place) -> None:
    _raw(state, "UPDATE audit_events SET actor = 'cli:mallory' WHERE seq = 3")
    assert _verify(state).reason == "event 3 was altered (hash mismatch)"


def test_deleting_a_middle_event_names_it(state: Place) -> None:
    _raw(state, "DELETE FROM audit_events WHERE seq = 12")
    result = _verify(state)
    assert result.first_bad_seq == 12
    assert result.reason == "event 12 is missing (sequence jumps 11 -> 13)"


def test_deleting_the_last_event_is_caught_through_the_head(state: Place) -> None:
    _raw(state, "DELETE FROM audit_events WHERE seq = 50")
    result = _verify(state)
    assert result.first_bad_seq == 50
    assert result.reason == "event 50 is missing (the log ends at 49, the chain head is at 50)"


def test_deleting_the_head_record_is_reported_and_appends_go_on(state: Place) -> None:
    _raw(state, "DELETE FROM audit_head")
    result = _verify(state)
    assert not result.ok
    assert "chain head record is missing" in result.reason
    with sql.open_store(state.state_dir, state.url) as store:
        event = store.append_audit(
            audit_events.AuditEntry(time=1.0, actor="daemon", action="run.opened")
        )
        actions = [e.entry.action for e in store.list_audit_events(since_seq=50)]
        assert actions == ["audit.head_rebuilt", "run.opened"]
        assert event.seq == 52
        assert auditing.verify_store(store).ok  # the marker stays in the log for good
