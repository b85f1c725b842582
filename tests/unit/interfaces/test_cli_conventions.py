"""CLI conventions: help texts read as plain text, one group per noun, completion, tables.

Every command's ``--help`` is rendered as a user sees it and checked for markup that would
show literally (backticks, reST double backticks, rich tags), so a docstring written for the
code reader cannot leak into the terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer import core
from typer.testing import CliRunner

from rollsafe.domain import ids
from rollsafe.interfaces.cli import main
from rollsafe.storage import repositories, sql

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))


def every_command_path() -> list[tuple[str, ...]]:
    """Every command and sub-command, as the words typed after ``rollsafe``."""
    paths: list[tuple[str, ...]] = [()]  # `rollsafe --help` itself

    def walk(command: core.TyperCommand | core.TyperGroup, path: tuple[str, ...]) -> None:
        paths.append(path)
        if isinstance(command, core.TyperGroup):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))

    for name in main.COMMANDS:
        walk(main.load(name), (name,))
    return paths


STRAY = [
    ("a backtick", re.compile(r"`")),
    ("a rich tag", re.compile(r"\[/\]|\[/?(bold|red|green|yellow|dim|italic|magenta)\b[^\]]*\]")),
    ("markdown bold", re.compile(r"\*\*")),
]


@pytest.mark.parametrize(
    "path", every_command_path(), ids=lambda path: " ".join(path) or "rollsafe"
)
def test_help_has_no_stray_markup(path):
    result = CliRunner().invoke(main.app, [*path, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    for what, pattern in STRAY:
        found = pattern.search(result.output)
        assert found is None, f"{what} in `rollsafe {' '.join(path)} --help`:\n{result.output}"


def test_one_group_per_noun_the_plural_is_a_hidden_alias_with_a_note(tmp_path):
    listed = subprocess.run(
        [ROLLSAFE, "--help"], capture_output=True, text=True, env={"COLUMNS": "200"}, check=True
    ).stdout
    assert re.search(r"^│ target\b", listed, re.MULTILINE)
    assert not re.search(r"^│ targets\b", listed, re.MULTILINE)
    # The old spelling still runs the same group, with the note on stderr only.
    state = tmp_path / "state"
    state.mkdir()
    sql.open_store(state, None).close()  # read commands open an existing store
    new = subprocess.run(
        [ROLLSAFE, "target", "list", "--state-dir", str(state), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    old = subprocess.run(
        [ROLLSAFE, "targets", "list", "--state-dir", str(state), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert new.returncode == old.returncode == 0, old.stderr
    assert old.stdout == new.stdout
    assert "deprecated; use 'rollsafe target'" in old.stderr
    assert "deprecated" not in new.stderr
    # `discover` is one of the group's commands under both names.
    for group in ("target", "targets"):
        help_text = CliRunner().invoke(main.app, [group, "discover", "--help"]).output
        assert "--driver" in help_text


def bash(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``script`` run by a real bash, with this venv's ``rollsafe`` first on PATH."""
    path = f"{Path(ROLLSAFE).parent}:{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PATH": path, **env},
    )


def test_bash_completion_completes_commands_and_sub_commands():
    script = (
        'eval "$(rollsafe --show-completion)"\n'
        "complete() { COMP_WORDS=($1); COMP_CWORD=$2; _rollsafe_completion rollsafe;"
        ' printf "%s\\n" "${COMPREPLY[@]}"; echo --; }\n'
        'complete "rollsafe rol" 1\n'
        'complete "rollsafe rollout st" 2\n'
        'complete "rollsafe targ" 1\n'
    )
    result = bash(script)
    assert result.returncode == 0, result.stderr
    top, sub, target, _ = result.stdout.split("--\n")
    assert top.split() == ["rollback", "rollout"]
    assert sub.split() == ["start", "status"]
    assert target.split() == ["target"]  # the deprecated alias is not offered


def test_install_completion_writes_the_script_for_the_shell(tmp_path):
    result = bash("rollsafe --install-completion", HOME=str(tmp_path))
    assert result.returncode == 0, result.stderr
    installed = (tmp_path / ".bash_completions" / "rollsafe.sh").read_text()
    assert "_ROLLSAFE_COMPLETE=complete_bash" in installed
    assert "rollsafe.sh" in (tmp_path / ".bashrc").read_text()


COMPLETE_PROBE = """
import sys
sys.argv = ["rollsafe"]
from rollsafe.interfaces.cli import main
try:
    main.main()
except SystemExit:
    pass
sys.stdout.flush()
print("MODULES=" + repr(sorted(sys.modules)), file=sys.stderr)
"""


def test_completing_a_command_name_imports_no_command_module():
    # A shell runs this on every <TAB>: names and summaries come from the table, as in --help.
    result = subprocess.run(
        [sys.executable, "-c", COMPLETE_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **os.environ,
            "_ROLLSAFE_COMPLETE": "complete_bash",
            "COMP_WORDS": "rollsafe r",
            "COMP_CWORD": "1",
        },
    )
    assert result.stdout.split() == [
        "run",
        "rollback",
        "restore-points",
        "record",
        "reject",
        "rollout",
        "runs",
    ]
    modules = eval(result.stderr.rsplit("MODULES=", 1)[1])  # noqa: S307 - our own repr
    commands = [m for m in modules if m.startswith("rollsafe.interfaces.cli.")]
    assert commands == ["rollsafe.interfaces.cli.main"]


def test_a_table_piped_keeps_every_cell_whole_on_one_line(tmp_path):
    # Before: rich fitted the table to 80 columns when piped, wrapping the reason over lines.
    reason = (
        "rollback run-3f2a9c01de failed at step restore: the snapshot snap-0a1b2c3d4e5f6 is "
        "gone (deleted by the retention job of the backup team)"
    )
    state = tmp_path / "state"
    state.mkdir()
    store = sql.open_store(state, None)
    try:
        store.sync_targets(
            [
                repositories.TargetRecord(
                    id=ids.TargetId("web-1"), address="10.0.0.1", labels={}, driver="release"
                ),
                repositories.TargetRecord(
                    id=ids.TargetId("db-primary-eu-west-1a"),
                    address="10.0.0.2",
                    labels={},
                    driver="release",
                ),
            ]
        )
        store.set_quarantine(ids.TargetId("db-primary-eu-west-1a"), reason=reason)
    finally:
        store.close()
    result = subprocess.run(
        [ROLLSAFE, "target", "list", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "targets"  # the title
    assert lines[1].split() == ["target", "address", "driver", "quarantine", "pin"]
    row = next(line for line in lines if line.startswith("db-primary-eu-west-1a"))
    assert row.split(None, 3) == ["db-primary-eu-west-1a", "10.0.0.2", "release", reason]
    assert len(lines) == 4  # one line per target: nothing wrapped
    assert "\x1b[" not in result.stdout
    assert "┃" not in result.stdout


def test_plain_lines_align_columns_and_strip_markup():
    from rich.table import Table

    from rollsafe.interfaces.cli import tables

    table = Table(title="runs")
    table.add_column("id")
    table.add_column("state")
    table.add_row("run-1", "[red]failed[/]")
    table.add_row("run-22", "ok\nthen more")
    assert tables.plain_lines(table) == [
        "runs",
        "id      state",
        "run-1   failed",
        "run-22  ok then more",
    ]
