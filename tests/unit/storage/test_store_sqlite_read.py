"""The stdlib reader of the embedded store gives what SqlStore gives, and never changes the file.

``storage.sqlite_read`` reads the SQLite store for ``rollsafe status`` without SQLAlchemy. Each
test writes a real store with ``SqlStore`` and reads it back both ways: the same targets,
latest decisions, runs, restore points, lease and schema version. A store it cannot read as
it is (missing, never migrated, older or newer schema, not a database) is refused with a
message that says which, and the file is left byte for byte as it was.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from rollsafe.domain import audit_events, errors, ids, restore_points, runs, verdicts
from rollsafe.storage import migrating, repositories, revisions, sql, sqlite_read

T1 = ids.TargetId("web-1")
T2 = ids.TargetId("web-2")


def _decision(target: ids.TargetId, rule: str, time: float, **fields: object) -> verdicts.Decision:
    base = verdicts.Decision(
        time=time,
        target=target,
        rule=ids.RuleId(rule),
        severity=verdicts.Severity.WARNING,
        summary=f"{rule} at {time}",
        evidence={"value": time, "window": "1m", "nested": {"samples": [1, 2.5, None]}},
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def _run(run_id: str, target: ids.TargetId, created: float, **fields: object) -> runs.RollbackRun:
    base = runs.RollbackRun(
        id=ids.RunId(run_id),
        target=target,
        state=runs.RunState.PENDING,
        trigger="decision:http-5xx",
        actor="daemon",
        reason="5xx ratio 40% > 20%",
        created_at=created,
        updated_at=created,
        evidence={"ratio": 0.4},
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def _filled_store(state: Path) -> None:
    """A store with a bit of everything status reads, written through SqlStore."""
    with sql.open_store(state) as store:
        store.sync_targets(
            [
                repositories.TargetRecord(
                    id=T1, address="10.0.0.1", labels={"role": "web", "zone": "a"}, driver="files"
                ),
                repositories.TargetRecord(id=T2, address="10.0.0.2", labels={}, driver=None),
                repositories.TargetRecord(
                    id=ids.TargetId("db-1"),
                    address="db.internal",
                    labels={"role": "db"},
                    driver="x",
                ),
            ]
        )
        store.set_quarantine(T2, reason="rolled back twice in an hour")
        store.set_pin(ids.TargetId("db-1"), reason="rollout r-1 rolled it back")
        store.add_decisions(
            [
                _decision(T1, "http-5xx", 100.0),
                _decision(T1, "http-5xx", 200.0, severity=verdicts.Severity.CRITICAL),
                _decision(T1, "latency", 150.0, evidence={"p99": float("nan"), "unit": "s"}),
                # Two decisions at the same time: the later row wins, in both readers.
                _decision(T2, "http-5xx", 300.0, summary="first"),
                _decision(T2, "http-5xx", 300.0, summary="second", severity=verdicts.Severity.OK),
            ]
        )
        store.open_run(_run("run-old", T1, 10.0))
        old = _run("run-old", T1, 10.0)
        store.save_run(
            dataclasses.replace(old, state=runs.RunState.FAILED, error="verify timed out")
        )
        store.open_run(_run("run-open", T1, 20.0, restore_point=ids.RestorePointId("rp-1")))
        store.open_run(_run("run-t2", T2, 30.0, state=runs.RunState.AWAITING_APPROVAL))
        for point_id, target, created in (("rp-1", T1, 5.0), ("rp-2", T1, 6.0), ("rp-3", T2, 5.0)):
            store.add_restore_point(
                restore_points.RestorePoint(
                    id=ids.RestorePointId(point_id),
                    target=target,
                    driver="files",
                    created_at=created,
                    data={"directory": f"/srv/{target}/{point_id}", "bytes": 1234},
                    checks={"rows": {"users": 10}},
                    label="before apt upgrade",
                )
            )
        store.mark_restore_point_deleted(ids.RestorePointId("rp-2"), at=7.0)
        store.acquire_lease(repositories.LEADER_LEASE, holder="host-a:123", ttl=15.0, now=50.0)
        for index, (name, step_state) in enumerate(
            (("checkpoint", runs.StepState.DONE), ("rollback", runs.StepState.FAILED))
        ):
            store.save_step(
                runs.StepRecord(
                    run_id=ids.RunId("run-open"),
                    index=index,
                    name=name,
                    state=step_state,
                    started_at=21.0 + index,
                    finished_at=21.5 + index,
                    output=f"{name} said something",
                )
            )
        for n in range(7):
            store.append_audit(
                audit_events.AuditEntry(
                    time=60.0 + n,
                    actor="daemon",
                    action=f"run.step.{n}",
                    target=(T1, T2)[n % 2],
                    run_id="run-open" if n % 2 == 0 else None,
                    reason=f"step {n}",
                    details={"n": n, "ratio": n / 3},
                    result="ok",
                )
            )


def _read_both(state: Path, read: object) -> tuple[object, object]:
    with sql.open_store(state) as store:
        through_sqlalchemy = read(store)  # type: ignore[operator]
    with sqlite_read.SqliteReader(state / sql.DB_FILE) as reader:
        through_sqlite3 = read(reader)  # type: ignore[operator]
    return through_sqlalchemy, through_sqlite3


READS = {
    "targets": lambda s: s.list_targets(),
    "latest decisions": lambda s: s.latest_decisions(),
    "open runs": lambda s: s.list_runs(open_only=True),
    "all runs": lambda s: s.list_runs(),
    "runs of a target since": lambda s: s.list_runs(target=T1, since=15.0),
    "the newest run": lambda s: s.list_runs(limit=1),
    "every restore point": lambda s: s.list_restore_points(None),
    "one target's restore points": lambda s: s.list_restore_points(T1),
    "leader lease": lambda s: s.lease(repositories.LEADER_LEASE),
    "another lease": lambda s: s.lease("nobody-took-this"),
    "schema version": lambda s: s.schema_version(),
    "a run": lambda s: s.get_run(ids.RunId("run-open")),
    "a run that is not there": lambda s: s.get_run(ids.RunId("run-nope")),
    "a run's steps": lambda s: s.list_steps(ids.RunId("run-open")),
    "every audit event": lambda s: list(s.list_audit_events()),
    "a target's audit events after a seq": lambda s: list(
        s.list_audit_events(since_seq=2, target=T1)
    ),
}


@pytest.mark.parametrize("name", list(READS))
def test_both_readers_agree_on_a_filled_store(tmp_path: Path, name: str) -> None:
    _filled_store(tmp_path / "state")
    through_sqlalchemy, through_sqlite3 = _read_both(tmp_path / "state", READS[name])
    assert through_sqlite3 == through_sqlalchemy
    assert through_sqlalchemy not in (None, [], {}) or name.startswith(("another", "a run that"))


@pytest.mark.parametrize("name", list(READS))
def test_both_readers_agree_on_an_empty_store(tmp_path: Path, name: str) -> None:
    sql.open_store(tmp_path / "state").close()
    through_sqlalchemy, through_sqlite3 = _read_both(tmp_path / "state", READS[name])
    assert through_sqlite3 == through_sqlalchemy


def test_what_the_reader_reads_is_decoded_as_sqlalchemy_decodes_it(tmp_path: Path) -> None:
    # Spelled out, so that a change in both readers at once is still seen.
    _filled_store(tmp_path / "state")
    with sqlite_read.SqliteReader(tmp_path / "state" / sql.DB_FILE) as reader:
        targets = {t.id: t for t in reader.list_targets()}
        latest = reader.latest_decisions()
        open_runs = reader.list_runs(open_only=True)
        lease = reader.lease(repositories.LEADER_LEASE)
        assert reader.schema_version() == migrating.head_revision()
    assert targets[T1].labels == {"role": "web", "zone": "a"}
    assert (targets[T2].quarantined, targets[T2].quarantine_reason) == (
        True,
        "rolled back twice in an hour",
    )
    assert targets[ids.TargetId("db-1")].pinned is True
    assert [(d.rule, d.time, d.severity) for d in latest[T1]] == [
        ("http-5xx", 200.0, verdicts.Severity.CRITICAL),
        ("latency", 150.0, verdicts.Severity.WARNING),
    ]
    assert latest[T1][0].evidence["nested"] == {"samples": [1, 2.5, None]}
    assert latest[T1][1].evidence["p99"] == "nan"  # stored as a string, as JSON has no NaN
    assert latest[T2][0].summary == "second"
    assert [(r.id, r.state) for r in open_runs] == [
        ("run-open", runs.RunState.PENDING),
        ("run-t2", runs.RunState.AWAITING_APPROVAL),
    ]
    assert open_runs[0].restore_point == "rp-1"
    assert lease is not None
    assert (lease.holder, lease.token, lease.expires_at) == ("host-a:123", 1, 65.0)


def test_reading_changes_nothing_and_leaves_no_files_behind(tmp_path: Path) -> None:
    _filled_store(tmp_path / "state")
    database = tmp_path / "state" / sql.DB_FILE
    before = database.read_bytes()
    listing = sorted(p.name for p in database.parent.iterdir())
    with sqlite_read.SqliteReader(database) as reader:
        reader.list_targets()
        # SQLite itself refuses a write through the reader's connection.
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._db.execute("DELETE FROM targets")
    assert database.read_bytes() == before
    # The -wal and -shm files a WAL read needs are gone with the last connection, as the
    # store's own connections leave it: none is left behind owned by whoever ran status.
    assert sorted(p.name for p in database.parent.iterdir()) == listing


def test_a_reader_sees_one_snapshot_while_the_controller_writes(tmp_path: Path) -> None:
    _filled_store(tmp_path / "state")
    with sqlite_read.SqliteReader(tmp_path / "state" / sql.DB_FILE) as reader:
        before = reader.list_runs()
        with sql.open_store(tmp_path / "state") as store:  # a writer, meanwhile (WAL)
            store.open_run(_run("run-new", ids.TargetId("db-1"), 40.0))
        assert reader.list_runs() == before  # the same snapshot to the end
    with sqlite_read.SqliteReader(tmp_path / "state" / sql.DB_FILE) as reader:
        assert [r.id for r in reader.list_runs()][-1] == "run-new"


def test_a_missing_file_is_no_store_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "state" / sql.DB_FILE
    with pytest.raises(sqlite_read.NoStore, match=f"no rollsafe store at {missing}"):
        sqlite_read.SqliteReader(missing)
    assert not missing.exists()
    assert not missing.parent.exists()


def test_a_database_never_migrated_is_no_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()  # SQLite reads a zero-byte file as a database without tables
    with pytest.raises(sqlite_read.NoStore, match="the file has no rollsafe schema"):
        sqlite_read.SqliteReader(empty)
    assert empty.read_bytes() == b""


def test_a_file_that_is_no_database_says_so(tmp_path: Path) -> None:
    garbage = tmp_path / "rollsafe.db"
    garbage.write_bytes(b"this is not a database, it is a note\n" * 200)
    with pytest.raises(errors.StoreError, match="file is not a database") as caught:
        sqlite_read.SqliteReader(garbage)
    assert not isinstance(caught.value, sqlite_read.NoStore)


def _store_at(state: Path, revision: str) -> Path:
    """A real store migrated by Alembic up to ``revision`` only (an older rollsafe's)."""
    from alembic import command

    state.mkdir()
    database = state / sql.DB_FILE
    store = sql.SqlStore(sql.default_url(state))
    try:
        with store._engine.connect() as connection, connection.begin():
            config = migrating.alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        store.close()
    return database


def test_a_store_at_an_older_schema_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    history = revisions.shipped_history()
    assert history is not None
    assert len(history) >= 2
    older, head = history[-2], history[-1]
    database = _store_at(tmp_path / "state", older)
    before = database.read_bytes()
    with pytest.raises(sqlite_read.SchemaMismatch) as caught:
        sqlite_read.SqliteReader(database)
    message = str(caught.value)
    assert f"at schema {older}, older than the {head} this rollsafe reads" in message
    assert "the controller migrates it when it starts" in message
    assert database.read_bytes() == before
    with sql.open_store(tmp_path / "state") as store:  # what the controller would do
        assert store.schema_version() == head
    with sqlite_read.SqliteReader(database) as reader:
        assert reader.schema_version() == head


def test_a_store_written_by_a_newer_rollsafe_is_refused(tmp_path: Path) -> None:
    sql.open_store(tmp_path / "state").close()
    database = tmp_path / "state" / sql.DB_FILE
    with sqlite3.connect(database) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    raw.close()
    with pytest.raises(sqlite_read.SchemaMismatch, match="written by a newer rollsafe"):
        sqlite_read.SqliteReader(database)


def test_the_shipped_history_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrating.alembic_config())
    walked = [script.revision for script in scripts.walk_revisions()]
    assert revisions.shipped_history() == list(reversed(walked))
    assert revisions.shipped_head() == migrating.shipped_head() == scripts.get_current_head()


def test_a_path_with_uri_characters_is_read(tmp_path: Path) -> None:
    _filled_store(tmp_path / "state")
    state = (tmp_path / "state").rename(tmp_path / "st?ate #1 100%")
    with sqlite_read.SqliteReader(state / sql.DB_FILE) as reader:
        assert len(reader.list_targets()) == 3


def test_audit_events_are_read_a_page_at_a_time_and_all_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _filled_store(tmp_path / "state")
    monkeypatch.setattr(sqlite_read, "_AUDIT_PAGE", 2)  # 7 events: pages of 2, 2, 2, 1
    with sqlite_read.SqliteReader(tmp_path / "state" / sql.DB_FILE) as reader:
        events = list(reader.list_audit_events())
        assert [e.seq for e in events] == list(range(1, 8))
        assert [e.seq for e in reader.list_audit_events(target=T1)] == [1, 3, 5, 7]
    with sql.open_store(tmp_path / "state") as store:
        assert events == list(store.list_audit_events())
