"""``rollsafe audit show|verify|export`` on a real store, through the real command line app."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rollsafe.audit import exporting
from rollsafe.domain import audit_events
from rollsafe.interfaces.cli import context, main
from rollsafe.storage import sql

runner = CliRunner()


def _fill(state: Path, count: int = 5) -> None:
    with sql.open_store(state) as store:
        for n in range(1, count + 1):
            store.append_audit(
                audit_events.AuditEntry(
                    time=1_700_000_000.0 + n,
                    actor="daemon",
                    action="decision.critical" if n % 2 else "run.opened",
                    target="web-1" if n % 2 else "db-1",
                    reason="[bold]markup stays text[/bold]",
                    details={"n": n, "token": "s3cret"},
                )
            )


def _invoke(*args: str):
    return runner.invoke(main.app, ["audit", *args])


def test_verify_exit_codes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _fill(state)
    ok = _invoke("verify", "--state-dir", str(state))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip() == "audit chain ok: 5 events"

    with contextlib.closing(sqlite3.connect(state / sql.DB_FILE)) as raw, raw:
        raw.execute("UPDATE audit_events SET result = 'forged' WHERE seq = 4")
    broken = _invoke("verify", "--state-dir", str(state))
    assert broken.exit_code == 1
    assert "event 4 was altered (hash mismatch)" in broken.stderr


def test_verify_of_a_missing_store_does_not_create_one(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    result = _invoke("verify", "--state-dir", str(missing))
    assert result.exit_code == context.EXIT_ERROR
    assert "no rollsafe store" in result.stderr
    assert not missing.exists()


def test_show_json_filters_and_limits(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _fill(state)
    result = _invoke("show", "--state-dir", str(state), "--json")
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[0]["details"] == {"n": 1, "token": "***"}

    result = _invoke(
        "show", "--state-dir", str(state), "--json", "--target", "web-1", "--limit", "2"
    )
    assert [e["seq"] for e in json.loads(result.stdout)] == [3, 5]


def test_show_table(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _fill(state, count=2)
    wide = {"COLUMNS": "250"}  # Rich folds cells to the terminal width
    result = runner.invoke(main.app, ["audit", "show", "--state-dir", str(state)], env=wide)
    assert result.exit_code == 0, result.output
    assert "decision.critical" in result.stdout
    assert "[bold]markup" in result.stdout
    assert "s3cret" not in result.stdout


def test_export_to_stdout_and_file_then_verify_the_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _fill(state)
    result = _invoke("export", "--state-dir", str(state))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [e.seq for e in exporting.read_jsonl(lines)] == [1, 2, 3, 4, 5]

    out = tmp_path / "audit.jsonl"
    result = _invoke("export", "--state-dir", str(state), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == lines
    assert _invoke("verify", "--file", str(out)).stdout.strip() == "audit chain ok: 5 events"

    out.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    result = _invoke("verify", "--file", str(out))
    assert result.exit_code == 1
    assert "event 3 is missing" in result.stderr


def test_the_store_is_found_through_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "conf" / "rollsafe.yaml"
    config.parent.mkdir()
    config.write_text("state_dir: ../var/state\n")
    _fill(tmp_path / "var" / "state", count=3)
    monkeypatch.chdir(tmp_path)  # the state dir is relative to the file, not the shell

    result = _invoke("verify", "-c", str(config.relative_to(tmp_path)))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "audit chain ok: 3 events"

    # An explicit --state-dir wins over the configuration's.
    other = tmp_path / "other"
    _fill(other, count=1)
    result = _invoke("verify", "-c", str(config), "--state-dir", str(other))
    assert result.stdout.strip() == "audit chain ok: 1 events"


def test_store_url_from_the_config(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    config = tmp_path / "rollsafe.yaml"
    config.write_text(f"store:\n  url: sqlite:///{database}\n")
    store = context.open_store_from(config, None)
    store.close()
    assert database.is_file()
    assert not (tmp_path / "state" / sql.DB_FILE).exists()


def test_an_invalid_config_exits_with_its_problems(tmp_path: Path) -> None:
    config = tmp_path / "rollsafe.yaml"
    config.write_text("state_dir: [1, 2]\nunknown_key: 1\n")
    result = _invoke("verify", "-c", str(config))
    assert result.exit_code == context.EXIT_ERROR
    assert "rollsafe.yaml" in result.stderr


def test_default_state_dir_is_state_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _fill(tmp_path / "state", count=2)
    assert _invoke("verify").stdout.strip() == "audit chain ok: 2 events"
