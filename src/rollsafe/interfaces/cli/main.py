"""The ``rollsafe`` command: assembles the command groups, each in its own module."""

from __future__ import annotations

import typer

from rollsafe.interfaces.cli import (
    approval_commands,
    audit_commands,
    backtest_commands,
    breaker_commands,
    config_commands,
    daemon_commands,
    demo_commands,
    discover_commands,
    drill_commands,
    mark_commands,
    rollout_commands,
    run_commands,
    target_commands,
)

app = typer.Typer(
    name="rollsafe",
    help="Watch hosts after an upgrade; roll the upgrade back when monitoring shows it failed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(config_commands.app, name="config")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(target_commands.app, name="target")
# `rollsafe targets discover` (as the issue names it) and `rollsafe target discover` are the same
app.add_typer(discover_commands.app, name="targets")
target_commands.app.command("discover")(discover_commands.discover)
app.add_typer(rollout_commands.app, name="rollout")
app.add_typer(breaker_commands.app, name="breaker")
app.add_typer(mark_commands.app, name="mark")
daemon_commands.register(app)
run_commands.register(app)
demo_commands.register(app)
backtest_commands.register(app)
approval_commands.register(app)
drill_commands.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
