"""Read commands never invent a store: with no store where they look, they exit 2 naming it.

Before, ``status``, ``target list`` and ``restore-points`` opened (and so created and migrated)
an empty database, and then reported an empty, healthy-looking fleet.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rollsafe.interfaces.cli import context, main
from rollsafe.storage import sql

runner = CliRunner()

READS = [
    ["status"],
    ["status", "--json"],
    ["runs"],
    ["runs", "show", "run-x"],
    ["target", "list"],
    ["audit", "verify"],
    ["audit", "show"],
    ["audit", "export"],
    ["breaker", "status"],
    ["rollout", "list"],
]


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_a_mistyped_state_dir_exits_2_and_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    typo = tmp_path / "stat"
    result = runner.invoke(main.app, [*args, "--state-dir", str(typo)])
    assert result.exit_code == context.EXIT_ERROR, result.output
    assert f"no rollsafe store at {typo / sql.DB_FILE}" in " ".join(result.stderr.split())
    assert not typo.exists()


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_no_config_and_no_state_here_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main.app, args)
    assert result.exit_code == context.EXIT_ERROR, result.output
    assert "no rollsafe store at state/rollsafe.db" in " ".join(result.stderr.split())
    assert list(tmp_path.iterdir()) == []


def test_a_config_whose_sqlite_url_names_a_missing_file(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    config = tmp_path / "rollsafe.yaml"
    config.write_text(f"store:\n  url: sqlite:///{database}\n")
    result = runner.invoke(main.app, ["status", "-c", str(config)])
    assert result.exit_code == context.EXIT_ERROR, result.output
    assert "elsewhere.db" in result.stderr
    assert not database.exists()


def test_restore_points_with_a_config_whose_state_dir_is_missing(tmp_path: Path) -> None:
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        "state_dir: nowhere\n"
        "targets:\n  - id: web-1\n    driver: files\n"
        "drivers:\n  - kind: local\n    name: files\n    directory: /srv/web-1\n"
    )
    result = runner.invoke(main.app, ["restore-points", "web-1", "-c", str(config)])
    assert result.exit_code == context.EXIT_ERROR, result.output
    assert "no rollsafe store at" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_an_existing_store_is_read(tmp_path: Path) -> None:
    state = tmp_path / "state"
    sql.open_store(state).close()
    for args in (["status", "--json"], ["target", "list"], ["runs"]):
        result = runner.invoke(main.app, [*args, "--state-dir", str(state)])
        assert result.exit_code == 0, (args, result.output)


@pytest.mark.postgres
def test_a_postgres_database_never_migrated_is_no_store(tmp_path: Path, postgres_url: str) -> None:
    import sqlalchemy as sa

    from rollsafe.storage import engines

    config = tmp_path / "rollsafe.yaml"
    config.write_text(f"store:\n  url: '{postgres_url}'\n")
    result = runner.invoke(main.app, ["status", "-c", str(config)])
    assert result.exit_code == context.EXIT_ERROR, result.output
    assert "no rollsafe store at postgresql" in " ".join(result.stderr.split())
    engine = engines.create(engines.resolve(postgres_url))
    try:
        with engine.connect() as connection:
            assert sa.inspect(connection).get_table_names() == []  # nothing created
    finally:
        engine.dispose()
    # Once a controller migrated it, the same command reads it.
    sql.open_store(tmp_path / "state", postgres_url).close()
    assert runner.invoke(main.app, ["status", "-c", str(config)]).exit_code == 0


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["status"], ["runs"], ["target", "list"]])
def test_a_postgres_store_at_an_older_schema_is_refused_and_left_unmigrated(
    tmp_path: Path, postgres_url: str, command: list[str]
) -> None:
    """Reading commands never migrate PostgreSQL either (as on SQLite): a new rollsafe's
    `status`, run between its install and the controller's restart, says what to do."""
    from alembic import command as alembic

    from rollsafe.storage import engines, migrating, revisions

    history = revisions.shipped_history()
    assert history is not None
    engine = engines.create(engines.resolve(postgres_url))
    try:
        with engine.connect() as connection, connection.begin():
            config = migrating.alembic_config()
            config.attributes["connection"] = connection
            alembic.upgrade(config, history[-2])
        settings = tmp_path / "rollsafe.yaml"
        settings.write_text(f"store:\n  url: '{postgres_url}'\n")
        result = runner.invoke(main.app, [*command, "-c", str(settings)])
        assert result.exit_code == context.EXIT_ERROR, result.output
        said = " ".join(result.stderr.split())
        assert f"is at schema {history[-2]}, older than the {history[-1]}" in said
        assert migrating.stored_revision(engine) == history[-2]  # not migrated
        # A store written by a newer rollsafe: refused, not read with the wrong columns.
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
        result = runner.invoke(main.app, [*command, "-c", str(settings)])
        assert result.exit_code == context.EXIT_ERROR, result.output
        assert "written by a newer rollsafe" in " ".join(result.stderr.split())
    finally:
        engine.dispose()
