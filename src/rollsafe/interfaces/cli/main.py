"""The ``rollsafe`` command: a table of command groups, each module imported only when run.

Every call of ``rollsafe`` pays for what it imports, and a script or an apt hook may call it
once per host. So the top level knows its commands by name and one-line summary only
(``COMMANDS``): ``rollsafe --help`` and ``--version`` import no command module, and
``rollsafe status`` imports the status command's module, not the API server, the demo, the
backtest or the drivers. A test checks every summary against its command's own help
(tests/unit/interfaces/test_cli_lazy.py), so the table cannot drift from the commands.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import typer
from typer import core

__all__ = ["COMMANDS", "Entry", "LazyGroup", "app", "load", "main", "version"]

_PACKAGE = "rollsafe.interfaces.cli"


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """A top-level command: the module that defines it and the summary ``--help`` shows.

    ``group`` is true for a command group whose module has a ``typer.Typer`` named ``app``;
    otherwise the module's ``register(app)`` adds the command (with its siblings). One noun,
    one group: an old plural (``targets``) is an ``alias_of`` the singular, not a second group.
    """

    module: str
    summary: str
    group: bool = False
    alias_of: str | None = None
    """A former name kept working (hidden from ``--help``): it runs ``alias_of`` after a note."""


COMMANDS: dict[str, Entry] = {
    "run": Entry(
        "daemon_commands",
        "Run the controller: probes, judge, rollback runs, audit, and the HTTP API.",
    ),
    "status": Entry(
        "daemon_commands", "Targets, their latest decisions with evidence, and open rollback runs."
    ),
    "rollback": Entry(
        "run_commands",
        "Roll TARGET back now: drive the run here, or hand it to the running daemon.",
    ),
    "checkpoint": Entry(
        "run_commands",
        "Take a restore point of TARGET now (driver copy + data checks), before an upgrade.",
    ),
    "restore-points": Entry(
        "restore_point_commands",
        "List TARGET's restore points (oldest first), or prune old ones (retention).",
        group=True,
    ),
    "upgrade": Entry(
        "run_commands",
        "Checkpoint TARGET, run its driver's upgrade, and mark the time for the judge.",
    ),
    "demo": Entry(
        "demo_commands",
        "Run a local fleet and watch rollsafe guard a rollout (or roll back a broken host).",
    ),
    "backtest": Entry(
        "backtest_commands",
        "Replay recorded history through the judge; print decisions, or scores for a corpus.",
    ),
    "record": Entry(
        "backtest_commands",
        "Build a recording from Prometheus, log files and log platforms (their probes).",
    ),
    "approve": Entry("approval_commands", "Let a rollback that waits for a person go on now."),
    "reject": Entry(
        "approval_commands",
        "Stop a rollback that waits for a person: it ends rejected, the target untouched.",
    ),
    "drill": Entry(
        "drill_commands",
        "Checkpoint, upgrade, roll back and verify TARGET for real, timing every step.",
    ),
    "config": Entry(
        "config_commands",
        "Check a configuration file; print its JSON Schema or its reference.",
        group=True,
    ),
    "audit": Entry(
        "audit_commands", "Show, verify and export the hash-chained audit log.", group=True
    ),
    "target": Entry("target_commands", "Inspect and release targets.", group=True),
    "targets": Entry(
        "target_commands",
        "Deprecated spelling of target (it runs rollsafe target ...).",
        group=True,
        alias_of="target",
    ),
    "rollout": Entry(
        "rollout_commands",
        "Guarded upgrades in waves: start, status, pause, resume, abort.",
        group=True,
    ),
    "breaker": Entry(
        "breaker_commands",
        "The fleet circuit breaker: see it, and reset it after a person looked.",
        group=True,
    ),
    "runs": Entry(
        "run_commands", "List rollback runs, or show one with its steps and audit events."
    ),
    "mark": Entry(
        "mark_commands",
        "Record events made outside rollsafe (an upgrade by another tool).",
        group=True,
    ),
}
"""Every top-level command, in the order ``--help`` lists them."""


def load(name: str) -> typer.core.TyperCommand | typer.core.TyperGroup:
    """The real command ``name``, its module imported now."""
    entry = COMMANDS[name]
    module = importlib.import_module(f"{_PACKAGE}.{entry.module}")
    holder = typer.Typer(add_completion=False)
    if entry.group:
        sub: typer.Typer = module.app
        if (entry.alias_of or name) == "target":
            _add_target_discover(sub)
        holder.add_typer(sub, name=name)
    else:
        module.register(holder)
    command = typer.main.get_group(holder).commands[name]
    assert isinstance(command, core.TyperCommand | core.TyperGroup)  # noqa: S101 (typer builds these)
    if entry.alias_of is not None:
        _deprecate(command, name=name, use=entry.alias_of, summary=entry.summary)
    return command


def _deprecate(
    command: core.TyperCommand | core.TyperGroup, *, name: str, use: str, summary: str
) -> None:
    """``command`` still works under its old ``name``, hidden, saying on stderr what to type."""
    command.hidden = True
    command.help = summary
    run = command.invoke

    def invoke(ctx: Any) -> Any:
        # stderr: a script reading the command's output is not broken by the note.
        typer.echo(f"note: 'rollsafe {name}' is deprecated; use 'rollsafe {use}'", err=True)
        return run(ctx)

    command.invoke = invoke  # type: ignore[method-assign]


def _add_target_discover(target_app: typer.Typer) -> None:
    """`rollsafe target discover`: the discover command joins the target group."""
    if any(info.name == "discover" for info in target_app.registered_commands):
        return
    from rollsafe.interfaces.cli import discover_commands

    target_app.command("discover")(discover_commands.discover)


class _Commands(MutableMapping[str, Any]):
    """The group's commands: loaded from ``COMMANDS`` on first use, summaries while listing."""

    def __init__(self, loader: Callable[[str], Any]) -> None:
        self._load = loader
        self._loaded: dict[str, Any] = {}
        self.summarising = False

    def __getitem__(self, name: str) -> Any:
        if name in self._loaded:
            return self._loaded[name]
        entry = COMMANDS[name]  # KeyError: no such command (click then says so)
        if self.summarising:
            # `rollsafe --help` lists names and summaries: no module needs importing for that.
            return core.TyperCommand(name, help=entry.summary, hidden=entry.alias_of is not None)
        command = self._loaded[name] = self._load(name)
        return command

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError(f"the command {name!r} cannot be removed")

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._loaded if name not in COMMANDS)


class LazyGroup(core.TyperGroup):
    """The top-level group: commands resolve through ``_Commands``, imported when invoked."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        lazy = _Commands(load)
        for name, command in self.commands.items():
            lazy[name] = command
        self.commands = lazy

    def list_commands(self, ctx: Any) -> list[str]:
        # The names only: TyperGroup's own version reads every value, loading every module.
        return list(self.commands)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self._summaries():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        # Completing `rollsafe ro<TAB>` offers names and summaries: the table has them, and a
        # shell waits for this on every key press. A sub-command's own words (`rollsafe
        # rollout st<TAB>`) are completed by that command, loaded as it is resolved.
        with self._summaries():
            return super().shell_complete(ctx, incomplete)

    @contextlib.contextmanager
    def _summaries(self) -> Iterator[None]:
        commands = self.commands
        if not isinstance(commands, _Commands):  # pragma: no cover - set in __init__
            yield
            return
        commands.summarising = True
        try:
            yield
        finally:
            commands.summarising = False


def version() -> str:
    """The installed version of rollsafe (pyproject.toml is the one place it is written)."""
    import rollsafe

    return rollsafe.__version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"rollsafe {version()}")
        raise typer.Exit


app = typer.Typer(
    name="rollsafe",
    cls=LazyGroup,
    help="Watch hosts after an upgrade; roll the upgrade back when monitoring shows it failed.",
    no_args_is_help=True,
    # --install-completion / --show-completion: completing reads only the names and summaries
    # of the table (LazyGroup.shell_complete), like --help.
    add_completion=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version of rollsafe and exit.",
    ),
) -> None:
    """Watch hosts after an upgrade; roll the upgrade back when monitoring shows it failed."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
