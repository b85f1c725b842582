"""The leader lease and fencing in the store, on SQLite and on a real PostgreSQL.

A lease is taken when free or expired, kept by its live holder, and its token grows with
every new term; a write carrying a token older than the lease's is refused whole (run,
step, audit event and all), inside the write's own transaction.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from rollsafe.domain import audit_events, errors, ids, runs
from rollsafe.storage import repositories, sql

LEADER = repositories.LEADER_LEASE
T1 = ids.TargetId("web-1")


@pytest.fixture(params=["file", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    opened = sql.open_store(tmp_path / "state", url)
    yield opened
    opened.close()


def _entry(action: str) -> audit_events.AuditEntry:
    return audit_events.AuditEntry(time=100.0, actor="test", action=action, target=T1)


def _open_run(store: sql.SqlStore) -> runs.RollbackRun:
    run = runs.RollbackRun(
        id=ids.new_run_id(),
        target=T1,
        state=runs.RunState.EXECUTING,
        trigger="manual",
        actor="alice",
        reason="test",
        created_at=100.0,
        updated_at=100.0,
    )
    return store.open_run(run)


def test_a_free_lease_is_taken_with_token_one(store):
    assert store.lease(LEADER) is None
    assert store.acquire_lease(LEADER, holder="a", ttl=10, now=100.0) == 1
    lease = store.lease(LEADER)
    assert (lease.holder, lease.token, lease.expires_at) == ("a", 1, 110.0)
    assert lease.live(109.9)
    assert not lease.live(110.0)


def test_a_live_lease_is_refused_to_others_and_kept_by_its_holder(store):
    assert store.acquire_lease(LEADER, holder="a", ttl=10, now=100.0) == 1
    assert store.acquire_lease(LEADER, holder="b", ttl=10, now=105.0) is None
    assert store.acquire_lease(LEADER, holder="a", ttl=10, now=105.0) == 1  # same term
    assert store.lease(LEADER).expires_at == 115.0


def test_an_expired_lease_goes_to_the_next_taker_with_a_new_token(store):
    store.acquire_lease(LEADER, holder="a", ttl=10, now=100.0)
    assert store.acquire_lease(LEADER, holder="b", ttl=10, now=110.0) == 2
    assert store.lease(LEADER).holder == "b"
    # The deposed holder can neither renew nor release b's lease.
    assert not store.renew_lease(LEADER, holder="a", token=1, ttl=10, now=111.0)
    assert not store.release_lease(LEADER, holder="a", token=1)
    # Even its own expired lease is a new term when taken again.
    assert store.acquire_lease(LEADER, holder="b", ttl=10, now=200.0) == 3


def test_renewal_extends_and_release_frees_at_once(store):
    store.acquire_lease(LEADER, holder="a", ttl=10, now=100.0)
    assert store.renew_lease(LEADER, holder="a", token=1, ttl=10, now=108.0)
    assert store.acquire_lease(LEADER, holder="b", ttl=10, now=115.0) is None
    assert store.release_lease(LEADER, holder="a", token=1)
    assert store.acquire_lease(LEADER, holder="b", ttl=10, now=116.0) == 2
    assert store.lease(LEADER).token == 2  # the token survives a release


def test_only_one_of_many_concurrent_takers_wins(store):
    got: list[int | None] = []
    barrier = threading.Barrier(6)

    def take(name: str) -> None:
        barrier.wait()
        got.append(store.acquire_lease(LEADER, holder=name, ttl=10, now=100.0))

    threads = [threading.Thread(target=take, args=(f"r{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got, key=lambda t: t is None) == [1, None, None, None, None, None]


def test_a_deposed_leaders_step_write_is_refused_and_writes_nothing(store):
    run = _open_run(store)
    assert store.acquire_lease(LEADER, holder="old", ttl=10, now=100.0) == 1
    step = runs.StepRecord(
        run_id=run.id, index=0, name="restore", state=runs.StepState.STARTED, started_at=101.0
    )
    store.save_step(step, audit=_entry("run.step.started"), fence=1)
    # The old leader pauses past its lease; another replica takes over with token 2.
    assert store.acquire_lease(LEADER, holder="new", ttl=10, now=120.0) == 2
    head = store.audit_head()

    done = dataclasses.replace(step, state=runs.StepState.DONE, finished_at=121.0)
    with pytest.raises(errors.FencedOut):
        store.save_step(done, audit=_entry("run.step.done"), fence=1)
    later = runs.StepRecord(
        run_id=run.id, index=1, name="restart", state=runs.StepState.STARTED, started_at=121.0
    )
    with pytest.raises(errors.FencedOut):
        store.save_step(later, audit=_entry("run.step.started"), fence=1)

    assert [(s.index, s.state) for s in store.list_steps(run.id)] == [(0, runs.StepState.STARTED)]
    assert store.audit_head() == head  # not even the audit event

    store.save_step(done, audit=_entry("run.step.done"), fence=2)  # the new leader's write
    assert store.list_steps(run.id)[0].state is runs.StepState.DONE


def test_a_deposed_leaders_run_transition_and_quarantine_are_refused(store):
    run = _open_run(store)
    store.acquire_lease(LEADER, holder="old", ttl=10, now=100.0)
    store.acquire_lease(LEADER, holder="new", ttl=10, now=200.0)
    failed = run.moved(runs.RunState.FAILED, at=201.0, error="stale")
    with pytest.raises(errors.FencedOut):
        store.save_run(failed, audit=_entry("run.failed"), fence=1)
    with pytest.raises(errors.FencedOut):
        store.set_quarantine(T1, reason="stale", fence=1)
    assert store.get_run(run.id).state is runs.RunState.EXECUTING
    assert store.get_target(T1) is None or not store.get_target(T1).quarantined
    store.save_run(failed, audit=_entry("run.failed"), fence=2)
    assert store.get_run(run.id).state is runs.RunState.FAILED


def test_writes_without_a_fence_work_as_before_even_under_a_lease(store):
    run = _open_run(store)
    store.acquire_lease(LEADER, holder="a", ttl=10, now=100.0)
    store.acquire_lease(LEADER, holder="b", ttl=10, now=200.0)
    store.save_run(run.moved(runs.RunState.VERIFYING, at=201.0))
    assert store.get_run(run.id).state is runs.RunState.VERIFYING
