"""``rollsafe audit``: read, prove and export the hash-chained audit log.

``show`` lists events (a table, or ``--json``: an array of ``AuditEvent.to_json()``);
``verify`` exits 0 with ``audit chain ok: N events`` or 1 naming the first bad event and why;
``export`` writes JSON Lines that ``verify --file`` can check anywhere later. Exit code 2
means the command could not look at all (no store, broken configuration).
"""

from __future__ import annotations

import collections
import datetime
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import text
from rich.console import Console
from rich.table import Table

from rollsafe.audit import chain, exporting
from rollsafe.domain import audit_events, errors
from rollsafe.interfaces.cli import context, tables
from rollsafe.storage import auditing

__all__ = ["EXIT_BROKEN", "app", "export", "show", "verify"]

EXIT_BROKEN = 1  # the chain was read and is not intact: a finding, unlike EXIT_ERROR

app = typer.Typer(
    no_args_is_help=True,
    help="Show, verify and export the hash-chained audit log.",
)


@app.command("show")
def show(
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array of events instead of a table")
    ] = False,
    target: Annotated[str | None, typer.Option("--target", help="Only this target")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="The newest N events (0: all of them)")
    ] = 50,
) -> None:
    """List audit events, oldest first."""
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        found = store.list_audit_events(target=target)
        events = list(collections.deque(found, maxlen=limit or None))
    except errors.StoreError as exc:
        context.fail(f"cannot read the audit log: {exc}")
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([event.to_json() for event in events], indent=2))
        return
    tables.show(_table(events))


@app.command("verify")
def verify(
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Verify a JSON Lines export instead of the store"),
    ] = None,
) -> None:
    """Prove that no audit event was altered, removed or reordered."""
    if file is not None:
        result = _verify_export(file)
    else:
        store = context.open_store_from(config, state_dir, must_exist=True)
        try:
            result = auditing.verify_store(store)
        except errors.StoreError as exc:
            context.fail(f"cannot read the audit log: {exc}")
        finally:
            store.close()
    if result.ok:
        typer.echo(str(result))
        return
    Console(stderr=True, highlight=False, soft_wrap=True).print(str(result), markup=False)
    raise typer.Exit(EXIT_BROKEN)


@app.command("export")
def export(
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE instead of standard output"),
    ] = None,
) -> None:
    """Write every audit event as JSON Lines, hashes included."""
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        if output is None:
            exporting.write_jsonl(store.list_audit_events(), sys.stdout)
            sys.stdout.flush()
            return
        with output.open("w", encoding="utf-8") as stream:
            written = exporting.write_jsonl(store.list_audit_events(), stream)
    except errors.StoreError as exc:
        context.fail(f"cannot read the audit log: {exc}")
    except OSError as exc:
        context.fail(f"cannot write {output}: {exc.strerror or exc}")
    finally:
        store.close()
    Console(stderr=True, highlight=False).print(f"exported {written} events to {output}")


def _verify_export(file: Path) -> chain.VerifyResult:
    try:
        with file.open(encoding="utf-8") as stream:
            # An export has no chain head: removing its last lines is not detectable.
            return chain.verify(exporting.read_jsonl(stream))
    except OSError as exc:
        context.fail(f"cannot read {file}: {exc.strerror or exc}")
    except ValueError as exc:
        context.fail(f"{file}: {exc}")


def _table(events: list[audit_events.AuditEvent]) -> Table:
    table = Table(title="rollsafe audit", show_lines=False)
    for column in ("seq", "time (UTC)", "actor", "action", "target", "run", "result", "reason"):
        table.add_column(column, overflow="fold")
    table.add_column("details", overflow="fold", max_width=60)
    for event in events:
        entry = event.entry
        details = json.dumps(dict(entry.details), separators=(",", ":")) if entry.details else ""
        cells = (
            str(event.seq),
            _when(entry.time),
            entry.actor,
            entry.action,
            entry.target or "",
            entry.run_id or "",
            entry.result,
            entry.reason,
            details,
        )
        # Text, not markup: recorded strings such as "[red]" must show as written.
        table.add_row(*(text.Text(cell) for cell in cells))
    return table


def _when(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")
