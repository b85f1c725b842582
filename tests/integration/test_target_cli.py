"""``rollsafe target release`` lifts a quarantine, audited with who and why."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rollsafe.domain import ids
from rollsafe.interfaces.cli import main
from rollsafe.storage import repositories, sql


def test_release_lifts_quarantine_and_audits_it(tmp_path):
    store = sql.open_store(tmp_path)
    store.sync_targets(
        [
            repositories.TargetRecord(
                id=ids.TargetId("web-1"), address="127.0.0.1", labels={}, driver=None
            )
        ]
    )
    store.set_quarantine(ids.TargetId("web-1"), reason="rollback failed: verify timed out")
    store.close()
    runner = CliRunner()

    listed = runner.invoke(main.app, ["target", "list", "--state-dir", str(tmp_path), "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)[0]["quarantined"] is True

    released = runner.invoke(
        main.app,
        ["target", "release", "web-1", "--reason", "host rebuilt", "--state-dir", str(tmp_path)],
    )
    assert released.exit_code == 0, released.output

    store = sql.open_store(tmp_path)
    try:
        record = store.list_targets()[0]
        assert record.quarantined is False
        events = [e for e in store.list_audit_events() if e.entry.action == "target.released"]
        assert len(events) == 1
        assert events[0].entry.reason == "host rebuilt"
        assert events[0].entry.details["was"] == "rollback failed: verify timed out"
    finally:
        store.close()


def test_release_of_unknown_target_is_an_error(tmp_path):
    sql.open_store(tmp_path).close()
    result = CliRunner().invoke(
        main.app, ["target", "release", "nope", "--reason", "x", "--state-dir", str(tmp_path)]
    )
    assert result.exit_code == 2


def test_get_target_reads_one_record(tmp_path):
    store = sql.open_store(tmp_path)
    try:
        store.sync_targets(
            [
                repositories.TargetRecord(
                    id=ids.TargetId(f"t{i}"), address="127.0.0.1", labels={}, driver=None
                )
                for i in range(3)
            ]
        )
        store.set_quarantine(ids.TargetId("t1"), reason="x")
        found = store.get_target(ids.TargetId("t1"))
        assert found is not None
        assert found.quarantined
        assert store.get_target(ids.TargetId("nope")) is None
    finally:
        store.close()
