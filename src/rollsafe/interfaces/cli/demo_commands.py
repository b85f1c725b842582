"""``rollsafe demo``: the whole loop on this machine, for a newcomer, in well under a minute.

Builds a local fleet of real services on 127.0.0.1 and lets the real daemon do the rest.
``--scenario`` picks the story:

* ``rollout`` (the default): a guarded rollout of a bad release over ten hosts; the canary
  fails its bake, is rolled back, verified and pinned, and the rollout halts with the rest of
  the fleet untouched (``rollsafe.demo.rollout_scenario``);
* ``good``: the same rollout of a good release, wave after wave over the whole fleet;
* ``single``: one host of five gets a bad upgrade by hand; rollsafe detects, decides, rolls
  back and verifies on its own (``rollsafe.demo.scenario``).

This module only tells the story: the timeline as it happens, then the measured times, the
demo's own checks and the audit trail. ``--json`` prints one JSON object and nothing else
(always with ``closed``, ``rolled_back``, ``verified``, ``fault_to_decision_s`` and
``fault_to_recovered_s``).

Exit codes: 0 the loop closed (the story ended as it should, checked by the demo itself, audit
chain intact); 1 it did not; 2 the demo could not run; 130 interrupted (everything stopped).
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

from rollsafe.demo import rollout_scenario, scenario

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
    "halt": "bold red",
    "wave": "bold cyan",
    "rollout": "bold",
}
SCENARIOS = ("rollout", "good", "single")
DEFAULT_SCENARIO = "rollout"


def register(app: typer.Typer) -> None:
    """Add ``rollsafe demo`` to the top-level app."""
    app.command("demo")(demo)


def demo(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only one JSON object with the outcome")
    ] = False,
    hosts: Annotated[
        int | None,
        typer.Option(
            "--hosts", min=2, max=50, help="Services in the fleet (default: 10; single: 5)"
        ),
    ] = None,
    scenario_name: Annotated[
        str,
        typer.Option(
            "--scenario",
            help="rollout: a bad release caught in the canary wave; good: a good release "
            "over the whole fleet in waves; single: one host broken by hand",
        ),
    ] = DEFAULT_SCENARIO,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the work directory for inspection")
    ] = False,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="New or empty directory to build in (default: a temp dir)"),
    ] = None,
) -> None:
    """Run a local fleet and watch rollsafe guard a rollout (or roll back a broken host)."""
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    if scenario_name not in SCENARIOS:
        errors.print(
            f"rollsafe demo: unknown scenario {scenario_name!r} (expected one of: "
            f"{', '.join(SCENARIOS)})"
        )
        raise typer.Exit(EXIT_CANNOT_RUN)
    count = hosts if hosts is not None else (5 if scenario_name == "single" else 10)
    view = None if as_json else _Timeline(console)
    if view is not None:
        view.header(count, scenario_name)
    result: scenario.DemoResult | rollout_scenario.RolloutDemoResult
    try:
        if scenario_name == "single":
            result = scenario.run_demo(
                hosts=count,
                workdir=workdir,
                keep=keep,
                emit=view.event if view is not None else None,
            )
        else:
            result = rollout_scenario.run_rollout_demo(
                kind="bad" if scenario_name == "rollout" else "good",
                hosts=count,
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
    elif isinstance(result, scenario.DemoResult):
        _report(console, result)
    else:
        _report_rollout(console, result)
    if not result.closed:
        raise typer.Exit(EXIT_NOT_CLOSED)


class _Timeline:
    """Prints timeline events as the scenario emits them."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started: float | None = None

    def header(self, hosts: int, scenario_name: str = "single") -> None:
        story = {
            "single": "one gets a bad upgrade. Nobody touches anything after that: "
            "detect -> judge -> execute -> verify.",
            "rollout": "a bad release is rolled out in waves, canary first. Nobody touches "
            "anything after that: readiness -> checkpoint -> upgrade -> bake -> judge -> "
            "roll back -> verify -> halt.",
            "good": "a good release is rolled out in waves: each wave bakes under the judge "
            "before the next one starts.",
        }[scenario_name]
        self.console.print(
            Text.assemble(
                ("rollsafe demo", "bold"), f": {hosts} real services on 127.0.0.1; {story}"
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


def _report_rollout(console: Console, result: rollout_scenario.RolloutDemoResult) -> None:
    console.print()
    if result.closed:
        verdict = (
            "The bad release was stopped at the canary."
            if result.kind == "bad"
            else "The whole fleet was upgraded, wave after wave."
        )
        console.print(Text(verdict, style="bold green"))
    else:
        console.print(Text("The rollout did NOT end as it should.", style="bold red"))
    if result.error:
        console.print(Text(f"  {result.error}", style="red"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("rollout", f"{result.rollout_id} {result.rollout_state} ({result.release})")
    if result.kind == "bad":
        facts.add_row("fault -> critical decision", _seconds(result.fault_to_decision_s))
        facts.add_row("fault -> verified recovery", _seconds(result.fault_to_recovered_s))
        if result.run_id:
            facts.add_row("rollback run", f"{result.run_id} {result.run_state} ({result.target})")
    for check in result.checks:
        mark = Text("ok  ", style="green") if check.ok else Text("FAIL", style="bold red")
        facts.add_row(check.name, Text.assemble(mark, " ", check.detail))
    audit_mark = Text("ok  ", style="green") if result.audit_ok else Text("FAIL", style="bold red")
    facts.add_row("audit chain", Text.assemble(audit_mark, " ", result.audit_summary or "-"))
    console.print(facts)
    if result.waves:
        console.print()
        table = Table(title="Waves", box=box.SIMPLE_HEAD, title_justify="left")
        for column in ("wave", "size", "targets", "bake", "outcome", "duration"):
            table.add_column(column)
        for wave in result.waves:
            duration = wave.get("duration_s")
            table.add_row(
                str(wave["wave"]),
                str(wave["size"]),
                ", ".join(wave["targets"]),
                f"{wave['bake_s']:g}s",
                str(wave["outcome"]),
                "-" if duration is None else f"{duration:.1f}s",
            )
        console.print(table)
    console.print()
    if result.kept:
        config = Path(result.workdir) / "rollsafe.yaml"
        console.print(f"Kept {result.workdir}. Look around:")
        console.print(f"  rollsafe rollout status -c {config}")
        console.print(f"  rollsafe target list -c {config}")
        console.print(f"  rollsafe audit verify -c {config}")
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
