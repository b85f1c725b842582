"""``rollsafe status`` reads the SQLite store through sqlite3 and reports what SQLAlchemy would.

The report (targets, decisions with evidence, open runs, leader, schema, restore points) is
built by the same code from either reader; these tests fill a real store, build the report
from both, and check the command end to end, including the stores it must refuse: one at an
older schema is left unmigrated, with exit 2 and a message saying what to do.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from typer.testing import CliRunner

from rollsafe.domain import ids, restore_points, runs, verdicts
from rollsafe.interfaces.cli import context, daemon_commands, main
from rollsafe.storage import migrating, repositories, revisions, sql, sqlite_read

runner = CliRunner()


def _fill(state: Path, *, targets: int = 50) -> None:
    with sql.open_store(state) as store:
        store.sync_targets(
            [
                repositories.TargetRecord(
                    id=ids.TargetId(f"web-{i}"),
                    address=f"10.0.0.{i}",
                    labels={"role": "web"},
                    driver="files",
                )
                for i in range(targets)
            ]
        )
        store.set_quarantine(ids.TargetId("web-3"), reason="flapping")
        store.add_decisions(
            [
                verdicts.Decision(
                    time=100.0 + i,
                    target=ids.TargetId(f"web-{i % 7}"),
                    rule=ids.RuleId(("http-5xx", "latency")[i % 2]),
                    severity=verdicts.Severity(i % 3),
                    summary=f"value {i}",
                    evidence={"value": i, "threshold": 0.2},
                )
                for i in range(40)
            ]
        )
        store.open_run(
            runs.RollbackRun(
                id=ids.RunId("run-1"),
                target=ids.TargetId("web-1"),
                state=runs.RunState.EXECUTING,
                trigger="decision:http-5xx",
                actor="daemon",
                reason="5xx",
                created_at=120.0,
                updated_at=121.0,
            )
        )
        store.add_restore_point(
            restore_points.RestorePoint(
                id=ids.RestorePointId("rp-1"),
                target=ids.TargetId("web-1"),
                driver="files",
                created_at=90.0,
                data={"directory": str(state / "restore-points" / "rp-1")},
            )
        )
        # Live for an hour from now: the report says whether it is live at the time it is made.
        store.acquire_lease(repositories.LEADER_LEASE, holder="a", ttl=3600, now=time.time())


def _report(store: object) -> dict[str, object]:
    report = daemon_commands._status_report(store)  # type: ignore[arg-type]
    report.pop("generated_at")
    return report


def test_the_report_is_the_same_from_either_reader(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _fill(state)
    with sql.open_store(state) as store:
        expected = _report(store)
    with sqlite_read.SqliteReader(state / sql.DB_FILE) as reader:
        assert _report(reader) == expected
    assert len(expected["targets"]) == 50  # type: ignore[arg-type]
    assert expected["leader"] is not None
    assert expected["schema"] == migrating.head_revision()


def test_status_prints_the_report_of_the_store(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _fill(state)
    with sql.open_store(state) as store:
        expected = _report(store)
    shown = runner.invoke(main.app, ["status", "--state-dir", str(state), "--json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    report.pop("generated_at")
    assert report == expected
    table = runner.invoke(main.app, ["status", "--state-dir", str(state)])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["target", "state", "rule", "evidence", "run"]
    assert [line.split()[:2] for line in lines if line.startswith("web-3 ")] == [
        ["web-3", "quarantined"]
    ]
    assert any(line.startswith("web-1 ") and line.endswith("run-1 executing") for line in lines)
    assert f"store schema: {migrating.head_revision()}" in lines
    assert "leader: a, fencing token 1" in lines


def test_status_refuses_a_store_at_an_older_schema_and_does_not_migrate_it(
    tmp_path: Path,
) -> None:
    from alembic import command

    history = revisions.shipped_history()
    assert history is not None
    state = tmp_path / "state"
    state.mkdir()
    store = sql.SqlStore(sql.default_url(state))
    try:
        with store._engine.connect() as connection, connection.begin():
            config = migrating.alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, history[-2])
    finally:
        store.close()
    result = runner.invoke(main.app, ["status", "--state-dir", str(state)])
    assert result.exit_code == context.EXIT_ERROR, result.output
    said = " ".join(result.stderr.split())
    assert f"is at schema {history[-2]}, older than the {history[-1]} this rollsafe reads" in said
    with sqlite3.connect(state / sql.DB_FILE) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [(history[-2],)]
    raw.close()


def test_status_on_a_file_rollsafe_never_migrated_is_no_store(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / sql.DB_FILE).touch()
    result = runner.invoke(main.app, ["status", "--state-dir", str(state)])
    assert result.exit_code == context.EXIT_ERROR, result.output
    assert "no rollsafe store at" in " ".join(result.stderr.split())
    assert (state / sql.DB_FILE).read_bytes() == b""
