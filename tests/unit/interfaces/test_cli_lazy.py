"""The CLI imports only what the command run needs, and the lazy table matches the commands.

``rollsafe --help`` lists commands from ``main.COMMANDS`` without importing them; the tests
pin that the heavy modules stay out of ``--help``, ``--version`` and ``status``, and that every
summary in the table is its command's own help, so the listing cannot drift from the code.
Each check runs a fresh interpreter: a module imported once stays in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rollsafe.interfaces.cli import main
from rollsafe.storage import sql

ROOT = Path(__file__).resolve().parents[3]

# Modules `rollsafe --help` must not import: the commands' own weight (the demo, the backtest,
# the API server, the probes, the drivers, the configuration models, the store) and the
# libraries behind them.
NOT_FOR_HELP = [
    "rollsafe.demo",
    "rollsafe.backtest",
    "rollsafe.interfaces.api",
    "rollsafe.detect.probes.http",
    "rollsafe.execute",
    "rollsafe.runtime",
    "rollsafe.config.models",
    "rollsafe.storage",
    "fastapi",
    "uvicorn",
    "aiohttp",
    "sqlalchemy",
    "pydantic",
    "yaml",
    "boto3",
    "kubernetes",
    "asyncssh",
    "psycopg",
]
# `status` reads the store and nothing else; the embedded SQLite store through the standard
# library's sqlite3 (storage.sqlite_read), not SQLAlchemy, whose import alone would cost a
# per-host call more than reading 1,000 targets.
NOT_FOR_STATUS = [
    "sqlalchemy",
    "alembic",
    "rollsafe.storage.sql",
    "rollsafe.storage.engines",
    "rollsafe.demo",
    "rollsafe.backtest",
    "rollsafe.interfaces.api",
    "rollsafe.detect",
    "rollsafe.execute",
    "rollsafe.runtime.daemon",
    "rollsafe.config.models",
    "fastapi",
    "uvicorn",
    "aiohttp",
    "rich.table",
]

PROBE = """
import sys
sys.argv = ["rollsafe", *{args!r}]
from rollsafe.interfaces.cli import main
try:
    main.main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
sys.stdout.flush()
print("\\n" + {marker!r} + repr(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""
MARKER = "MODULES="


def imported_by(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules a fresh `rollsafe ARGS` imported, and the finished process."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args), marker=MARKER)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    listed = result.stderr.rsplit(MARKER, 1)
    assert len(listed) == 2, result.stderr
    return set(eval(listed[1])), result  # noqa: S307 - our own repr of a list of names


def loaded(modules: set[str], prefix: str) -> list[str]:
    return sorted(m for m in modules if m == prefix or m.startswith(prefix + "."))


def test_help_imports_none_of_the_commands():
    modules, result = imported_by("--help")
    assert result.returncode == 0, result.stderr
    assert "status" in result.stdout
    offending = {name: loaded(modules, name) for name in NOT_FOR_HELP}
    assert {k: v for k, v in offending.items() if v} == {}
    # Not even a command module: the table is enough to list them.
    assert loaded(modules, "rollsafe.interfaces.cli") == [
        "rollsafe.interfaces.cli",
        "rollsafe.interfaces.cli.main",
    ]


def test_version_prints_the_package_version_and_imports_no_command():
    modules, result = imported_by("--version")
    assert result.returncode == 0, result.stderr
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert result.stdout.strip() == f"rollsafe {version}"
    assert loaded(modules, "rollsafe.interfaces.cli") == [
        "rollsafe.interfaces.cli",
        "rollsafe.interfaces.cli.main",
    ]


def test_the_version_lives_in_pyproject_only():
    import rollsafe

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert rollsafe.__version__ == main.version() == version
    assert f'"{version}"' not in (ROOT / "src/rollsafe/__init__.py").read_text()


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        "version: 1\n"
        "state_dir: ./state\n"
        "targets:\n"
        "  - {id: web-1, driver: release}\n"
        "probes:\n"
        "  - {name: up, kind: tcp, port: 22, interval: 5s}\n"
        "drivers:\n"
        "  - {name: release, kind: local, rollback: 'true'}\n",
        encoding="utf-8",
    )
    # Read commands never create a store (issue 17): the controller's store exists already.
    sql.open_store(tmp_path / "state").close()
    return config


def test_status_imports_the_store_and_not_the_rest(tmp_path):
    config = write_config(tmp_path)
    modules, result = imported_by("status", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] is not None  # the store's migration revision
    offending = {name: loaded(modules, name) for name in NOT_FOR_STATUS}
    assert {k: v for k, v in offending.items() if v} == {}
    modules, result = imported_by("status", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert loaded(modules, "sqlalchemy") == []
    assert f"store schema: {report['schema']}" in result.stdout


def test_status_on_a_sqlite_url_reads_it_without_sqlalchemy_too(tmp_path):
    database = tmp_path / "elsewhere" / "fleet.db"
    database.parent.mkdir()
    store = sql.SqlStore(f"sqlite:///{database}")
    try:
        store.migrate()
    finally:
        store.close()
    config = tmp_path / "rollsafe.yaml"
    config.write_text(f"store:\n  url: sqlite:///{database}\n", encoding="utf-8")
    modules, result = imported_by("status", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema"] is not None
    assert loaded(modules, "sqlalchemy") == []


def test_runs_does_not_import_the_configuration_models_the_executor_or_sqlalchemy(tmp_path):
    config = write_config(tmp_path)
    modules, result = imported_by("runs", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    for heavy in (
        "rollsafe.config.models",
        "rollsafe.execute.runs",
        "rollsafe.runtime.assembly",
        "sqlalchemy",
    ):
        assert loaded(modules, heavy) == [], heavy


def test_target_list_and_runs_show_read_the_sqlite_store_without_sqlalchemy(tmp_path):
    config = write_config(tmp_path)
    modules, result = imported_by("target", "list", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []  # the controller never synced its targets here
    assert loaded(modules, "sqlalchemy") == []
    modules, result = imported_by("runs", "show", "run-x", "-c", str(config))
    assert result.returncode == 2, result.stdout
    assert "no run run-x in the store" in result.stderr
    assert loaded(modules, "sqlalchemy") == []


def test_a_broken_file_is_still_reported_by_status(tmp_path):
    # The quick read of state_dir/store gives up on what it cannot take; the loader reports.
    config = tmp_path / "rollsafe.yaml"
    config.write_text("state_dir: [unclosed\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "rollsafe", "status", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{config}:2: (yaml): expected ',' or ']'" in result.stderr


@pytest.mark.parametrize("name", list(main.COMMANDS))
def test_every_summary_is_its_commands_own_help(name):
    command = main.load(name)
    help_text = command.help or ""
    assert help_text.split("\n\n")[0].strip() == main.COMMANDS[name].summary


def test_help_lists_every_command_of_the_table_in_order():
    result = CliRunner().invoke(main.app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    listed = [line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")]
    commands = [name for name in listed if name in main.COMMANDS]
    # A deprecated alias (`targets`) works but is not listed: one name per noun.
    assert commands == [name for name, entry in main.COMMANDS.items() if entry.alias_of is None]


def test_a_lazily_loaded_command_runs_and_a_typo_is_answered_with_a_suggestion():
    runner = CliRunner()
    result = runner.invoke(main.app, ["config", "schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["title"]
    typo = runner.invoke(main.app, ["statsu"])
    assert typo.exit_code == 2
    assert "Did you mean 'status'" in typo.output


def test_listing_the_commands_loads_none_of_them():
    code = (
        "import sys, typer\n"
        "from rollsafe.interfaces.cli import main\n"
        "group = typer.main.get_command(main.app)\n"
        "names = group.list_commands(typer.Context(group))\n"
        "print(names == list(main.COMMANDS), "
        "sorted(m for m in sys.modules if m.startswith('rollsafe.interfaces.cli.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout.split(" ", 1) == ["True", "['rollsafe.interfaces.cli.main']\n"], (
        result.stderr
    )
