"""``rollsafe target``: what a person does to a target that rollsafe stopped touching.

A target is quarantined when a rollback failed or a governor tripped (too many rollbacks in
the window): automatic runs for it are blocked until a person looks and releases it here.
A target is pinned when a rollout rolled it back: later waves and rollouts skip it until a
person clears it with ``unpin`` (rollbacks are not affected by a pin).
"""

from __future__ import annotations

import getpass
import json
import time

import typer
from rich.console import Console
from rich.table import Table

from rollsafe.domain import audit_events, ids
from rollsafe.interfaces.cli import context, tables

app = typer.Typer(no_args_is_help=True, help="Inspect and release targets.")


@app.command("list")
def list_targets(
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Targets known to the store, with their quarantine state."""
    store = context.open_reader_from(config, state_dir)  # read-only; no SQLAlchemy on SQLite
    try:
        records = store.list_targets()
    finally:
        store.close()
    if as_json:
        rows = [
            {
                "id": r.id,
                "address": r.address,
                "labels": r.labels,
                "driver": r.driver,
                "quarantined": r.quarantined,
                "quarantine_reason": r.quarantine_reason,
                "pinned": r.pinned,
                "pin_reason": r.pin_reason,
            }
            for r in records
        ]
        typer.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    table = Table(title="targets")
    for column in ("target", "address", "driver", "quarantine", "pin"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.id, r.address, r.driver or "", r.quarantine_reason or "", r.pin_reason or ""
        )
    tables.show(table)


@app.command("release")
def release(
    target: str = typer.Argument(..., help="Target id"),
    reason: str = typer.Option(..., "--reason", help="Why it is safe to act on it again"),
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
) -> None:
    """Lift a quarantine, so that automatic rollbacks may act on the target again."""
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        known = {r.id: r for r in store.list_targets()}
        record = known.get(ids.TargetId(target))
        if record is None:
            context.fail(f"unknown target {target!r}")
        if not record.quarantined:
            Console().print(f"{target} is not quarantined: nothing to do")
            return
        actor = f"cli:{getpass.getuser()}"
        store.set_quarantine(
            ids.TargetId(target),
            reason=None,
            audit=audit_events.AuditEntry(
                time=time.time(),
                actor=actor,
                action="target.released",
                target=target,
                reason=reason,
                details={"was": record.quarantine_reason},
            ),
        )
    finally:
        store.close()
    Console().print(f"{target} released from quarantine by {actor}")


@app.command("unpin")
def unpin(
    target: str = typer.Argument(..., help="Target id"),
    reason: str = typer.Option(..., "--reason", help="Why rollouts may upgrade it again"),
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
) -> None:
    """Clear a rollout's pin, so that later rollouts (and waves) may upgrade the target again."""
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        record = {r.id: r for r in store.list_targets()}.get(ids.TargetId(target))
        if record is None:
            context.fail(f"unknown target {target!r}")
        if not record.pinned:
            Console().print(f"{target} is not pinned: nothing to do")
            return
        actor = f"cli:{getpass.getuser()}"
        store.set_pin(
            ids.TargetId(target),
            reason=None,
            audit=audit_events.AuditEntry(
                time=time.time(),
                actor=actor,
                action="target.unpinned",
                target=target,
                reason=reason,
                details={"was": record.pin_reason},
            ),
        )
    finally:
        store.close()
    Console().print(f"{target} unpinned by {actor}: rollouts may upgrade it again")
