"""``rollsafe restore-points``: list a target's restore points, prune the old ones.

Role in the loop (execute, housekeeping): every upgrade leaves a restore point (a directory
copy, a btrfs/snapper/qcow2 snapshot, a cloud snapshot); ``prune`` applies
``policy.retention`` (``rollsafe.execute.pruning``): the newest ``keep_last`` per target stay,
and so does any point an open run or a rollout still needs; the others are deleted on their
back end by their driver, each deletion audited as ``restore_point.deleted``.

``rollsafe restore-points TARGET`` (no sub-command) still lists, as it always did. Exit codes
of ``prune``: 0 nothing failed; 1 a deletion failed or a driver cannot delete; 2 usage,
unknown target, no store.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer import core

from rollsafe.interfaces.cli import context

__all__ = ["app"]

EXIT_FAILED = 1
_T = TypeVar("_T")


class _ListByDefault(core.TyperGroup):
    """``restore-points TARGET`` means ``restore-points list TARGET`` (the old spelling)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # Options may come first (`restore-points -c FILE web-1`), as they always could.
        if args and args[0] not in ("--help", "-h") and not any(a in self.commands for a in args):
            args = ["list", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_ListByDefault,
    no_args_is_help=True,
    help="List TARGET's restore points (oldest first), or prune old ones (retention).",
)


@app.command("list")
def list_points(
    target: Annotated[str, typer.Argument(help="The target whose restore points to list")],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="rollsafe.yaml (targets, state_dir)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """List TARGET's restore points, oldest first (rollbacks use the latest by default)."""
    from rollsafe.interfaces.cli import run_commands

    run_commands.restore_points_command(target, config, as_json)


@app.command("prune")
def prune(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="rollsafe.yaml (targets, drivers)")
    ],
    target: Annotated[
        str | None, typer.Argument(help="Only this target's points (default: every target)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted, delete nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Delete restore points that policy.retention does not keep, on their back ends."""
    from rich import markup
    from rich.table import Table

    from rollsafe.domain import clocks, errors
    from rollsafe.execute import pruning
    from rollsafe.interfaces.cli import config_commands, run_commands, tables
    from rollsafe.runtime import assembly

    loaded = config_commands.load_or_exit(config)
    known = [t.id for t in loaded.config.targets]
    if target is not None and target not in known:
        context.fail(f"unknown target {target!r} (known: {', '.join(known) or 'none'})")
    store = context.open_loaded_store(loaded, must_exist=True)
    try:
        try:
            drivers = assembly.build_drivers(loaded.config, loaded.state_dir)
        except errors.ConfigError as exc:
            context.fail(str(exc))
        outcomes = asyncio.run(
            _prune_and_close(
                pruning.prune(
                    config=loaded.config,
                    store=store,
                    drivers=drivers,
                    clock=clocks.SystemClock(),
                    actor=run_commands.actor(),
                    target_id=target,
                    dry_run=dry_run,
                ),
                drivers.values(),
            )
        )
    except errors.StoreError as exc:
        context.fail(f"cannot prune restore points: {exc}")
    finally:
        store.close()
    failed = any(o.action in {"failed", "unsupported"} for o in outcomes)
    if as_json:
        typer.echo(json.dumps([o.to_json() for o in outcomes], indent=2, sort_keys=True))
    else:
        table = Table(title="restore points" + (" (dry run)" if dry_run else ""))
        for column in ("target", "id", "driver", "action", "why", "detail"):
            table.add_column(column)
        for o in sorted(outcomes, key=lambda o: (o.point.target, o.point.created_at)):
            table.add_row(
                o.point.target,
                o.point.id,
                o.point.driver,
                o.action,
                markup.escape(o.reason),
                markup.escape(o.detail),
            )
        tables.show(table)
    if failed:
        raise typer.Exit(EXIT_FAILED)


async def _prune_and_close(work: Coroutine[Any, Any, _T], drivers: Iterable[object]) -> _T:
    """Run ``work``, then release the drivers' connections (SSH, cloud clients) in this loop."""
    try:
        return await work
    finally:
        for driver in drivers:
            close = getattr(driver, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    result = close()
                    if inspect.isawaitable(result):
                        await result
