"""``rollsafe demo``: the whole loop on this machine, for a newcomer, in well under a minute.

Builds a local fleet of real services on 127.0.0.1, breaks one with a bad upgrade, and lets
the real daemon detect, decide, roll back and verify on its own (``rollsafe.demo.scenario``).
This module only tells the story: the timeline as it happens, then the measured times, the
demo's own checks and the audit trail. ``--json`` prints one JSON object and nothing else.

Exit codes: 0 the loop closed (run succeeded, verified, other hosts untouched, audit chain
intact); 1 it did not; 2 the demo could not run; 130 interrupted (everything stopped).
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rollsafe.demo import scenario

__all__ = ["EXIT_INTERRUPTED", "EXIT_NOT_CLOSED", "demo", "register"]

EXIT_NOT_CLOSED = 1
EXIT_CANNOT_RUN = 2
EXIT_INTERRUPTED = 130

_STYLE = {
    "fault": "bold red",
    "critical": "bold red",
    "warning": "yellow",
    "ok": "green",
    "run": "cyan",
    "step": "cyan",
    "verified": "bold green",
    "recovered": "bold green",
    "failed": "bold red",
}


def register(app: typer.Typer) -> None:
    """Add ``rollsafe demo`` to the top-level app."""
    app.command("demo")(demo)


def demo(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only one JSON object with the outcome")
    ] = False,
    hosts: Annotated[
        int, typer.Option("--hosts", min=2, max=50, help="Services in the fleet (one is broken)")
    ] = 5,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the work directory for inspection")
    ] = False,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="New or empty directory to build in (default: a temp dir)"),
    ] = None,
) -> None:
    """Break one host of a local fleet and watch rollsafe detect, roll back and verify."""
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    view = None if as_json else _Timeline(console)
    if view is not None:
        view.header(hosts)
    try:
        result = scenario.run_demo(
            hosts=hosts,
            workdir=workdir,
            keep=keep,
            emit=view.event if view is not None else None,
        )
    except KeyboardInterrupt:
        errors.print("interrupted: the demo stopped every process it started")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except scenario.DemoInterrupted as exc:
        errors.print(str(exc))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except scenario.DemoFailed as exc:
        errors.print(f"rollsafe demo: {exc}")
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        _report(console, result)
    if not result.closed:
        raise typer.Exit(EXIT_NOT_CLOSED)


class _Timeline:
    """Prints timeline events as the scenario emits them."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started: float | None = None

    def header(self, hosts: int) -> None:
        self.console.print(
            Text.assemble(
                ("rollsafe demo", "bold"),
                f": {hosts} real services on 127.0.0.1; one gets a bad upgrade. "
                "Nobody touches anything after that: detect -> judge -> execute -> verify.",
            )
        )
        self.console.print()

    def event(self, event: scenario.TimelineEvent) -> None:
        if self.started is None:
            self.started = event.at
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=7, justify="right", style="dim")
        grid.add_column(width=8, justify="right")
        grid.add_column(width=10)
        grid.add_column(overflow="fold")
        fault = "" if event.since_fault is None else f"+{event.since_fault:.2f}s"
        label = event.kind.upper() if event.kind in ("fault", "critical") else event.kind
        grid.add_row(
            f"{event.at - self.started:.1f}s",
            Text(fault, style="bold" if fault else ""),
            Text(label, style=_STYLE.get(event.kind, "")),
            event.text,
        )
        self.console.print(grid)


def _report(console: Console, result: scenario.DemoResult) -> None:
    console.print()
    if result.closed:
        console.print(Text("The loop closed.", style="bold green"))
    else:
        console.print(Text("The loop did NOT close.", style="bold red"))
    if result.error:
        console.print(Text(f"  {result.error}", style="red"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("fault -> critical decision", _seconds(result.fault_to_decision_s))
    facts.add_row("fault -> verified recovery", _seconds(result.fault_to_recovered_s))
    if result.run_id:
        steps = ", ".join(
            f"{s['name']} {_step_time(s)}" for s in result.steps if s.get("state") == "done"
        )
        facts.add_row("rollback run", f"{result.run_id} {result.run_state} ({steps})")
    for check in result.checks:
        mark = Text("ok  ", style="green") if check.ok else Text("FAIL", style="bold red")
        facts.add_row(check.name, Text.assemble(mark, " ", check.detail))
    audit_mark = Text("ok  ", style="green") if result.audit_ok else Text("FAIL", style="bold red")
    facts.add_row("audit chain", Text.assemble(audit_mark, " ", result.audit_summary or "-"))
    console.print(facts)
    if result.audit_trail:
        console.print()
        console.print(_audit_table(result))
    console.print()
    if result.kept:
        config = Path(result.workdir) / "rollsafe.yaml"
        console.print(f"Kept {result.workdir}. Look around:")
        console.print(f"  rollsafe audit show -c {config}")
        console.print(f"  rollsafe audit verify -c {config}")
        console.print(f"  less {Path(result.workdir) / 'hosts' / result.target / 'logs/app.log'}")
    else:
        console.print(f"Removed {result.workdir} (--keep leaves it for inspection).")


def _audit_table(result: scenario.DemoResult) -> Table:
    table = Table(title="Audit trail (hash-chained)", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("seq", justify="right")
    table.add_column("time (UTC)")
    table.add_column("actor")
    table.add_column("action")
    table.add_column("target")
    table.add_column("why / result", overflow="fold", max_width=70)
    for row in result.audit_trail:
        stamp = datetime.datetime.fromtimestamp(float(row["time"]), tz=datetime.UTC)
        said = str(row.get("reason") or row.get("result") or "")
        if row.get("rule"):
            said = f"{row['rule']}: {said}"
        table.add_row(
            str(row["seq"]),
            stamp.strftime("%H:%M:%S.%f")[:-3],
            str(row["actor"]),
            str(row["action"]),
            str(row.get("target") or ""),
            said if len(said) <= 120 else said[:117] + "...",
        )
    return table


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _step_time(step: Mapping[str, Any]) -> str:
    started, finished = step.get("started_at"), step.get("finished_at")
    if isinstance(started, float) and isinstance(finished, float):
        return f"{finished - started:.2f}s"
    return ""
