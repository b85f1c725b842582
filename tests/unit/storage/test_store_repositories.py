"""Every Store method against real databases: SQLite (a file, and in memory) and PostgreSQL."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollsafe.audit import chain
from rollsafe.domain import (
    audit_events,
    errors,
    ids,
    observations,
    restore_points,
    runs,
    verdicts,
)
from rollsafe.storage import auditing, repositories, sql

T1 = ids.TargetId("web-1")
T2 = ids.TargetId("web-2")


@pytest.fixture(params=["file", "memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    url = {"file": None, "memory": "sqlite://"}.get(request.param)
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    opened = sql.open_store(tmp_path / "state", url)
    yield opened
    opened.close()


def _entry(action: str, **fields: object) -> audit_events.AuditEntry:
    return audit_events.AuditEntry(time=1_700_000_000.0, actor="test", action=action, **fields)  # type: ignore[arg-type]


def _run(run_id: str, target: ids.TargetId = T1, **fields: object) -> runs.RollbackRun:
    base = runs.RollbackRun(
        id=ids.RunId(run_id),
        target=target,
        state=runs.RunState.PENDING,
        trigger="decision:error-rate",
        actor="daemon",
        reason="error rate 40% > 5%",
        created_at=100.0,
        updated_at=100.0,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def _audit_actions(store: sql.SqlStore) -> list[str]:
    return [event.entry.action for event in store.list_audit_events()]


# --------------------------------------------------------------------------- lifecycle


def test_open_store_creates_the_state_dir_and_a_wal_database(tmp_path: Path) -> None:
    state = tmp_path / "deep" / "state"
    with sql.open_store(state) as store:
        store.migrate()  # a second migration is a no-op
        assert store.list_targets() == []
    database = state / sql.DB_FILE
    assert database.is_file()
    with contextlib.closing(sqlite3.connect(database)) as raw, raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_errors_are_translated(tmp_path: Path) -> None:
    store = sql.SqlStore(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    with pytest.raises(errors.StoreError, match="no such table"):
        store.list_targets()
    store.close()


def test_the_url_is_shown_without_its_password() -> None:
    store = sql.SqlStore("sqlite://")
    assert "sqlite://" in repr(store)
    store.close()


# --------------------------------------------------------------------------- targets


def _target(target: ids.TargetId, address: str = "10.0.0.1", **fields: object):
    return repositories.TargetRecord(
        id=target,
        address=address,
        labels={"role": "web"},
        driver="local",
        **fields,  # type: ignore[arg-type]
    )


def test_targets_sync_and_keep_quarantine(store: sql.SqlStore) -> None:
    store.sync_targets([_target(T1), _target(T2)])
    assert [t.id for t in store.list_targets()] == [T1, T2]

    store.set_quarantine(T1, reason="3 rollbacks in 24h", audit=_entry("target.quarantined"))
    store.sync_targets([_target(T1, "10.0.0.9"), _target(T2)])
    first = store.list_targets()[0]
    assert first == repositories.TargetRecord(
        id=T1,
        address="10.0.0.9",
        labels={"role": "web"},
        driver="local",
        quarantined=True,
        quarantine_reason="3 rollbacks in 24h",
    )
    assert _audit_actions(store) == ["target.quarantined"]

    store.set_quarantine(T1, reason=None)
    assert not store.list_targets()[0].quarantined
    assert store.list_targets()[0].quarantine_reason is None


def test_sync_removes_unconfigured_targets_unless_quarantined(store: sql.SqlStore) -> None:
    t3 = ids.TargetId("web-3")
    store.sync_targets([_target(T1), _target(T2), _target(t3)])
    store.set_quarantine(T2, reason="flapping")
    store.sync_targets([_target(T1)])
    assert [(t.id, t.quarantined) for t in store.list_targets()] == [(T1, False), (T2, True)]


def test_quarantining_an_unknown_target_records_it(store: sql.SqlStore) -> None:
    store.set_quarantine(ids.TargetId("ghost"), reason="alert for an unconfigured host")
    (ghost,) = store.list_targets()
    assert ghost.quarantined
    assert ghost.quarantine_reason == "alert for an unconfigured host"
    store.set_quarantine(ids.TargetId("other"), reason=None)  # releasing nothing is fine
    assert len(store.list_targets()) == 1


# --------------------------------------------------------------------------- observations


def test_observations_round_trip_with_every_field(store: sql.SqlStore) -> None:
    batch = [
        observations.Observation(
            time=1.0, target=T1, source="http", value=1.0, status=200, latency_s=0.012
        ),
        observations.Observation(time=2.0, target=T1, source="logs", value=3.0, text="ERROR boom"),
        observations.Observation(
            time=3.0, target=T1, source="alertmanager", alert_state=observations.AlertState.FIRING
        ),
        observations.Observation(time=4.0, target=T1, source="http", error="timeout after 5s"),
    ]
    store.add_observations(batch)
    assert store.list_observations(target=T1) == batch
    assert store.list_observations(target=T1)[-1].ok is False


def test_observations_filter_limit_and_prune(store: sql.SqlStore) -> None:
    store.add_observations([])  # nothing to do, no error
    batch = [
        observations.Observation(
            time=float(i), target=T1 if i % 2 else T2, source=f"s{i % 3}", value=float(i)
        )
        for i in range(10_000)
    ]
    store.add_observations(batch)
    assert len(store.list_observations(limit=100_000)) == 10_000

    newest = store.list_observations(target=T1, limit=3)
    assert [o.time for o in newest] == [9995.0, 9997.0, 9999.0]  # newest last
    assert all(o.source == "s1" for o in store.list_observations(source="s1", limit=50))
    assert [o.time for o in store.list_observations(since=9998.0)] == [9998.0, 9999.0]
    only = store.list_observations(target=T2, source="s0", since=9990.0)
    assert [o.time for o in only] == [9990.0, 9996.0]

    assert store.prune_observations(older_than=9000.0) == 9000
    assert store.list_observations(limit=100_000)[0].time == 9000.0
    assert store.prune_observations(older_than=9000.0) == 0


# --------------------------------------------------------------------------- decisions


def _decision(time: float, target: ids.TargetId, rule: str, severity: verdicts.Severity):
    return verdicts.Decision(
        time=time,
        target=target,
        rule=ids.RuleId(rule),
        severity=severity,
        summary=f"{rule} at {time}",
        evidence={"value": 0.4, "threshold": 0.05, "window": [1, 2], "nested": {"n": 1}},
    )


def test_decisions_latest_per_target_and_rule(store: sql.SqlStore) -> None:
    ok, warn, crit = verdicts.Severity.OK, verdicts.Severity.WARNING, verdicts.Severity.CRITICAL
    store.add_decisions(
        [
            _decision(1.0, T1, "errors", ok),
            _decision(2.0, T1, "errors", crit),
            _decision(1.5, T1, "latency", warn),
            _decision(3.0, T2, "errors", ok),
        ],
        audit=[_entry("decision.critical", target=T1)],
    )
    latest = store.latest_decisions()
    assert set(latest) == {T1, T2}
    assert [(d.rule, d.severity) for d in latest[T1]] == [("errors", crit), ("latency", warn)]
    assert latest[T1][0].evidence == {
        "value": 0.4,
        "threshold": 0.05,
        "window": [1, 2],
        "nested": {"n": 1},
    }
    assert [d.time for d in store.list_decisions()] == [1.0, 1.5, 2.0, 3.0]
    assert [d.time for d in store.list_decisions(target=T1, limit=2)] == [1.5, 2.0]
    assert _audit_actions(store) == ["decision.critical"]
    store.add_decisions([])  # an empty batch writes nothing
    assert len(store.list_decisions()) == 4


# --------------------------------------------------------------------------- restore points


def test_restore_points(store: sql.SqlStore) -> None:
    older = restore_points.RestorePoint(
        id=ids.RestorePointId("rp-1"),
        target=T1,
        driver="local",
        created_at=10.0,
        data={"snapshot": "snap-1", "files": ["a", "b"]},
        checks={"rows": 42, "sha256": "ab" * 32},
        label="before upgrade",
    )
    newer = dataclasses.replace(older, id=ids.RestorePointId("rp-2"), created_at=20.0)
    store.add_restore_point(newer, audit=_entry("restore_point.created"))
    store.add_restore_point(older)
    assert store.list_restore_points(T1) == [older, newer]
    assert store.list_restore_points(T2) == []
    assert store.get_restore_point(ids.RestorePointId("rp-1")) == older
    assert store.get_restore_point(ids.RestorePointId("nope")) is None
    with pytest.raises(errors.StoreError, match="rp-1 already exists"):
        store.add_restore_point(older)
    assert _audit_actions(store) == ["restore_point.created"]


# --------------------------------------------------------------------------- runs


def test_run_round_trip_with_approval_and_evidence(store: sql.SqlStore) -> None:
    run = _run(
        "run-1",
        restore_point=ids.RestorePointId("rp-1"),
        approval=runs.Approval(mode=runs.ApprovalMode.UNLESS_REJECTED, deadline=160.0),
        evidence={"rule": "errors", "value": 0.4},
    )
    assert store.open_run(run, audit=_entry("run.opened", run_id="run-1")) == run
    assert store.get_run(run.id) == run
    assert store.get_run(ids.RunId("run-none")) is None

    approved = dataclasses.replace(
        run.moved(runs.RunState.PRECHECKING, at=110.0).moved(
            runs.RunState.AWAITING_APPROVAL, at=120.0
        ),
        approval=runs.Approval(
            mode=runs.ApprovalMode.UNLESS_REJECTED,
            deadline=160.0,
            decided_by="cli:alice",
            decision="approved",
            reason="go",
        ),
    )
    store.save_run(approved, audit=_entry("run.approved", run_id="run-1"))
    assert store.get_run(run.id) == approved
    assert _audit_actions(store) == ["run.opened", "run.approved"]


def test_a_second_open_run_for_a_target_is_refused(store: sql.SqlStore) -> None:
    first = store.open_run(_run("run-1"))
    with pytest.raises(repositories.OpenRunExistsError) as refused:
        store.open_run(_run("run-2"), audit=_entry("run.opened", run_id="run-2"))
    assert refused.value.run_id == first.id
    assert store.get_run(ids.RunId("run-2")) is None
    assert _audit_actions(store) == []  # the audit event went with the refused insert

    store.open_run(_run("run-3", target=T2))  # another target is not affected
    assert [r.id for r in store.list_runs(open_only=True)] == ["run-1", "run-3"]


def test_closing_a_run_frees_its_target(store: sql.SqlStore) -> None:
    first = store.open_run(_run("run-1"))
    store.save_run(first.moved(runs.RunState.FAILED, at=150.0, error="precheck failed"))
    assert store.list_runs(open_only=True) == []
    second = store.open_run(_run("run-2", created_at=200.0, updated_at=200.0))
    assert [r.id for r in store.list_runs(target=T1)] == ["run-1", "run-2"]
    assert store.get_run(first.id).error == "precheck failed"  # type: ignore[union-attr]
    assert second.open


def test_a_terminal_run_can_be_recorded_while_another_is_open(store: sql.SqlStore) -> None:
    store.open_run(_run("run-1"))
    blocked = _run("run-2", state=runs.RunState.BLOCKED)
    store.open_run(blocked)
    assert store.get_run(blocked.id) == blocked


def test_reopening_a_target_through_save_run_is_refused(store: sql.SqlStore) -> None:
    store.open_run(_run("run-1"))
    store.open_run(_run("run-2", state=runs.RunState.DRY_RUN))
    sneaky = _run("run-2", state=runs.RunState.PENDING)
    with pytest.raises(repositories.OpenRunExistsError) as refused:
        store.save_run(sneaky)
    assert refused.value.run_id == "run-1"


def test_duplicate_run_ids_and_unknown_runs_are_store_errors(store: sql.SqlStore) -> None:
    store.open_run(_run("run-1", state=runs.RunState.DRY_RUN))
    with pytest.raises(errors.StoreError, match="run-1 already exists"):
        store.open_run(_run("run-1", target=T2, state=runs.RunState.DRY_RUN))
    with pytest.raises(errors.StoreError, match="not in the store"):
        store.save_run(_run("run-9"))


def test_list_runs_filters(store: sql.SqlStore) -> None:
    for n in range(6):
        target = T1 if n % 2 else T2
        state = runs.RunState.PENDING if n >= 4 else runs.RunState.SUCCEEDED
        store.open_run(_run(f"run-{n}", target=target, state=state, created_at=float(n)))
    assert [r.id for r in store.list_runs()] == [f"run-{n}" for n in range(6)]
    assert [r.id for r in store.list_runs(target=T1)] == ["run-1", "run-3", "run-5"]
    assert [r.id for r in store.list_runs(open_only=True)] == ["run-4", "run-5"]
    assert [r.id for r in store.list_runs(since=3.0)] == ["run-3", "run-4", "run-5"]
    assert [r.id for r in store.list_runs(limit=2)] == ["run-4", "run-5"]  # newest, oldest first


def test_steps_upsert_by_index(store: sql.SqlStore) -> None:
    run = store.open_run(_run("run-1"))
    started = runs.StepRecord(
        run_id=run.id, index=0, name="restore", state=runs.StepState.STARTED, started_at=1.0
    )
    store.save_step(started, audit=_entry("run.step.started", run_id="run-1"))
    second = runs.StepRecord(
        run_id=run.id, index=1, name="restart", state=runs.StepState.STARTED, started_at=3.0
    )
    store.save_step(second)
    done = dataclasses.replace(
        started, state=runs.StepState.DONE, finished_at=2.0, attempt=2, output="restored"
    )
    store.save_step(done, audit=_entry("run.step.done", run_id="run-1"))
    assert store.list_steps(run.id) == [done, second]
    assert store.list_steps(ids.RunId("run-none")) == []
    assert _audit_actions(store) == ["run.step.started", "run.step.done"]


def test_a_step_of_an_unknown_run_is_refused(store: sql.SqlStore) -> None:
    orphan = runs.StepRecord(
        run_id=ids.RunId("run-none"),
        index=0,
        name="x",
        state=runs.StepState.STARTED,
        started_at=1.0,
    )
    with pytest.raises(errors.StoreError, match="run-none is not in the store"):
        store.save_step(orphan, audit=_entry("run.step.started"))
    assert _audit_actions(store) == []


# --------------------------------------------------------------------------- audit


def test_audit_appends_chain_from_genesis(store: sql.SqlStore) -> None:
    assert store.audit_head() == chain.ChainHead(seq=0, hash=chain.GENESIS)
    first = store.append_audit(_entry("a", target="web-1", details={"n": 1}))
    second = store.append_audit(
        _entry("b", target="web-2", run_id="run-1", reason="why", result="ok")
    )
    assert (first.seq, first.prev_hash) == (1, chain.GENESIS)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert store.audit_head() == chain.ChainHead(seq=2, hash=second.hash)
    assert list(store.list_audit_events()) == [first, second]
    assert list(store.list_audit_events(since_seq=1)) == [second]
    assert list(store.list_audit_events(target="web-1")) == [first]
    assert auditing.verify_store(store) == chain.VerifyResult(ok=True, count=2)


def test_audit_details_are_redacted_before_hashing(store: sql.SqlStore) -> None:
    event = store.append_audit(
        _entry(
            "driver.configured",
            reason="connect to postgresql://u:hunter2@db/x",
            details={"password": "hunter2", "headers": {"X-Api-Key": "k"}, "step_key": "r/0/x"},
        )
    )
    assert event.entry.details == {
        "password": "***",
        "headers": {"X-Api-Key": "***"},
        "step_key": "r/0/x",
    }
    assert "hunter2" not in event.entry.reason
    (stored,) = store.list_audit_events()
    assert stored == event
    assert "hunter2" not in repr(stored)
    assert auditing.verify_store(store).ok


@pytest.mark.parametrize("count", [20, 21, 23])
def test_audit_list_reads_page_by_page(
    store: sql.SqlStore, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    monkeypatch.setattr(sql, "_AUDIT_PAGE", 7)  # several pages, a full last one included
    for n in range(count):
        store.append_audit(_entry("bulk", target="a" if n % 2 else "b", details={"n": n}))
    assert [e.seq for e in store.list_audit_events()] == list(range(1, count + 1))
    assert [e.seq for e in store.list_audit_events(since_seq=5)] == list(range(6, count + 1))
    odd = [e.seq for e in store.list_audit_events(target="a")]
    assert odd == list(range(2, count + 1, 2))
    assert auditing.verify_store(store) == chain.VerifyResult(ok=True, count=count)


def test_audit_appends_from_threads_stay_gap_free(store: sql.SqlStore) -> None:
    def append(worker: int) -> None:
        for n in range(25):
            store.append_audit(_entry("thread", details={"worker": worker, "n": n}))

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert auditing.verify_store(store) == chain.VerifyResult(ok=True, count=100)


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def memory_store(tmp_path_factory: pytest.TempPathFactory):
    opened = sql.open_store(tmp_path_factory.mktemp("state"), "sqlite://")
    yield opened
    opened.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    details=st.dictionaries(st.text(max_size=10), _json, max_size=5),
    time=st.floats(min_value=0, max_value=4e9, allow_nan=False),
)
def test_any_details_read_back_verify(memory_store: sql.SqlStore, details, time) -> None:
    event = memory_store.append_audit(
        audit_events.AuditEntry(time=time, actor="prop", action="x", details=details)
    )
    (stored,) = memory_store.list_audit_events(since_seq=event.seq - 1)
    assert stored == event
    assert chain.link(stored.entry, seq=stored.seq, prev_hash=stored.prev_hash) == stored.hash
    assert math.isclose(stored.entry.time, time)


def test_an_unusable_state_dir_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(errors.StoreError, match="cannot create the state directory"):
        sql.open_store(blocker / "state")
