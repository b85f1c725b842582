"""The store on PostgreSQL: URL handling, secrets kept out of errors, and writers racing.

SQLite gets exactness from ``BEGIN IMMEDIATE``; these tests prove the PostgreSQL store keeps
the same promises when many connections write at once (threads here, processes in
tests/integration/test_store_concurrency.py).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from rollsafe.audit import chain
from rollsafe.domain import audit_events, errors, ids, runs
from rollsafe.storage import auditing, engines, migrating, repositories, sql

SECRET = "s3cr3t-Pa55"


def test_plain_postgresql_urls_mean_psycopg_3() -> None:
    for given in ("postgresql://u@db/rollsafe", "postgres://u@db/rollsafe"):
        resolved = engines.resolve(given)
        assert resolved.drivername == "postgresql+psycopg"
        assert (resolved.host, resolved.database) == ("db", "rollsafe")
    assert engines.resolve("sqlite:///x.db").drivername == "sqlite"


def test_the_password_comes_from_the_named_variable() -> None:
    resolved = engines.resolve(
        "postgresql://rollsafe@db/rollsafe", password_env="DB_PW", environ={"DB_PW": SECRET}
    )
    assert resolved.password == SECRET
    with pytest.raises(errors.ConfigError, match="DB_PW") as caught:
        engines.resolve("postgresql://rollsafe@db/x", password_env="DB_PW", environ={})
    assert "not set" in str(caught.value)


def test_a_missing_password_variable_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(errors.StoreError, match="ROLLSAFE_TEST_UNSET_PW"):
        sql.open_store(
            tmp_path, "postgresql://rollsafe@127.0.0.1/x", password_env="ROLLSAFE_TEST_UNSET_PW"
        )


def test_the_password_is_in_no_error_repr_or_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    monkeypatch.setenv("ROLLSAFE_TEST_PW", SECRET)
    with pytest.raises(errors.StoreError) as from_env:
        sql.open_store(
            tmp_path, "postgresql://rollsafe@127.0.0.1:1/x", password_env="ROLLSAFE_TEST_PW"
        )
    with pytest.raises(errors.StoreError) as inline:
        sql.open_store(tmp_path, f"postgresql://rollsafe:{SECRET}@127.0.0.1:1/x")
    for caught in (from_env, inline):
        assert SECRET not in str(caught.value)
        assert "127.0.0.1" in str(caught.value)  # still says where it failed
    store = sql.SqlStore("postgresql://rollsafe@127.0.0.1:1/x", password_env="ROLLSAFE_TEST_PW")
    assert SECRET not in repr(store)
    assert SECRET not in store.url
    store.close()


# --------------------------------------------------------------------------- on a server


@pytest.fixture
def store(tmp_path: Path, postgres_url: str) -> Iterator[sql.SqlStore]:
    with sql.open_store(tmp_path, postgres_url) as opened:
        yield opened


def _race(workers: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(n)`` in ``workers`` threads released together; results or exceptions."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def one(n: int) -> None:
        barrier.wait()
        try:
            results[n] = work(n)
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _run(run_id: str, state: runs.RunState = runs.RunState.PENDING) -> runs.RollbackRun:
    return runs.RollbackRun(
        id=ids.RunId(run_id),
        target=ids.TargetId("db-1"),
        state=state,
        trigger="manual",
        actor="test",
        reason="race",
        created_at=1.0,
        updated_at=1.0,
    )


@pytest.mark.postgres
def test_concurrent_appends_keep_the_chain_whole(store: sql.SqlStore) -> None:
    def append(n: int) -> None:
        for k in range(25):
            store.append_audit(
                audit_events.AuditEntry(time=float(k), actor=f"w{n}", action="test.append")
            )

    assert _race(6, append) == [None] * 6
    assert auditing.verify_store(store) == chain.VerifyResult(ok=True, count=150)
    assert [e.seq for e in store.list_audit_events()] == list(range(1, 151))


@pytest.mark.postgres
def test_one_open_run_per_target_when_many_race(store: sql.SqlStore) -> None:
    def open_one(n: int) -> str:
        entry = audit_events.AuditEntry(time=2.0, actor=f"w{n}", action="run.opened")
        return store.open_run(_run(f"run-{n}"), audit=entry).id

    results = _race(6, open_one)
    opened = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, repositories.OpenRunExistsError)]
    assert len(opened) == 1
    assert len(refused) == 5
    assert {r.run_id for r in refused} == set(opened)  # each loser names the winner
    assert [r.id for r in store.list_runs(open_only=True)] == opened
    assert auditing.verify_store(store) == chain.VerifyResult(ok=True, count=1)


@pytest.mark.postgres
def test_compare_and_set_lets_exactly_one_transition_through(store: sql.SqlStore) -> None:
    seen = store.open_run(_run("run-1"))

    def move(n: int) -> None:
        moved = dataclasses.replace(seen, state=runs.RunState.EXECUTING, actor=f"w{n}")
        store.save_run(moved, expected=seen)

    results = _race(6, move)
    assert results.count(None) == 1
    assert sum(isinstance(r, repositories.StaleRunError) for r in results) == 5


@pytest.mark.postgres
def test_the_inbox_dedupes_and_is_claimed_once_under_races(store: sql.SqlStore) -> None:
    for round_ in range(8):  # several rounds: a lost race must not hide behind timing
        entry = repositories.InboxEntry(
            received_at=100.0, endpoint="am", headers={}, body=b"{}", dedupe_key=f"am:{round_}"
        )
        receipts = _race(6, lambda n, e=entry: store.add_inbox(e, dedupe_since=0.0))
        assert sorted(r.duplicate for r in receipts) == [False] + [True] * 5
    stored = store.list_inbox()[0]
    claims = _race(6, lambda n: store.finish_inbox(stored.id, outcome=f"w{n}", at=101.0))
    assert claims.count(True) == 1


@pytest.mark.postgres
def test_replicas_migrating_together_take_turns(tmp_path: Path, postgres_url: str) -> None:
    def open_close(n: int) -> None:
        sql.open_store(tmp_path / f"state-{n}", postgres_url).close()

    assert _race(4, open_close) == [None] * 4
    engine = engines.create(postgres_url)
    try:
        assert migrating.current_revision(engine) == migrating.head_revision()
        with engine.connect() as connection:
            seeded = connection.execute(sa.text("SELECT count(*) FROM audit_head")).scalar()
        assert seeded == 1
    finally:
        engine.dispose()


def _admin(url: str, *, database: str = "postgres") -> psycopg.Connection[Any]:
    """A superuser connection to the server of ``url`` (to its ``postgres`` database)."""
    parsed = sa.make_url(url)
    return psycopg.connect(
        host=parsed.host, port=parsed.port, user="postgres", dbname=database, autocommit=True
    )


def _sessions(admin: psycopg.Connection[Any], database: str, *, waiting: bool = False) -> int:
    """Server sessions on ``database`` (only those waiting for a lock, with ``waiting``)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    if waiting:
        query += " AND wait_event_type = 'Lock'"
    row = admin.execute(query, (database,)).fetchone()
    assert row is not None
    return int(row[0])


def _await(condition: Callable[[], bool], *, what: str, within: float = 30.0) -> None:
    """Poll the server until ``condition`` holds (a backend ends after its client closed)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {within:.0f}s: {what}"
        time.sleep(0.05)


@pytest.mark.postgres
def test_close_waits_for_a_transaction_in_flight_and_leaves_no_connection_open(
    tmp_path: Path, postgres_url: str
) -> None:
    """A query still running when the store closes (the worker thread of a daemon task that
    shutdown cancelled) ends first, and its connection is closed with the others.

    Before the fix ``close`` disposed the engine at once: the busy connection went back to an
    orphaned pool and stayed open on the server (one session per such thread, counted against
    ``max_connections``) until the garbage collector deleted it with psycopg's "connection
    deleted while still open" warning, inside whichever test ran next.
    """
    database = sa.make_url(postgres_url).database
    assert database is not None
    store = sql.open_store(tmp_path, postgres_url)
    blocking = _admin(postgres_url, database=database)  # advisory locks are per database
    with _admin(postgres_url) as admin, blocking as blocker:
        # The blocker holds the store's write lock: the writer below waits inside its
        # transaction, with its connection checked out, until its lock wait runs out.
        blocker.execute("SELECT pg_advisory_lock(%s)", (engines.WRITE_LOCK_KEY,))
        outcome: list[BaseException | None] = []

        def write() -> None:
            entry = audit_events.AuditEntry(time=1.0, actor="test", action="test.in-flight")
            try:
                store.append_audit(entry)
            except errors.StoreError as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        writer = threading.Thread(target=write)
        writer.start()
        _await(
            lambda: _sessions(admin, database, waiting=True) == 1,
            what="the writer waits for the write lock",
        )
        store.close()  # the writer is still in its transaction
        writer.join(timeout=120)
        assert len(outcome) == 1
        assert isinstance(outcome[0], errors.StoreError)  # its lock wait ran out: refused
        blocker.close()
        _await(
            lambda: _sessions(admin, database) == 0,
            what="every connection of the closed store is closed on the server",
        )
    with pytest.raises(errors.StoreError, match="closed"):
        store.list_targets()  # a closed store opens no connection nobody would close


def test_a_url_of_an_unknown_database_is_a_store_error_without_its_password() -> None:
    with pytest.raises(errors.StoreError) as caught:
        sql.SqlStore("nosuchdb://rollsafe:hunter2-secret@db/x")
    assert "not a database rollsafe can use" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)
