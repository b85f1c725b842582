"""``rollsafe breaker status`` / ``rollsafe breaker reset --reason``: the fleet circuit breaker.

Role in the loop (interfaces): the breaker (``rollsafe.execute.breaker``) trips by itself when
too much of the fleet turns critical at once, and then only a person closes it. Both commands
read and write the store's ``flags`` row, shared by every replica, so they work whether or not
the daemon runs. The reset is audited as ``breaker.reset`` naming the person (``cli:<user>``);
runs the breaker already held keep waiting for their own approve/reject.

Exit codes: ``status`` 0 closed, 3 open (scripts can test it); ``reset`` 0 reset, 1 it was not
tripped; 2 no store.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import time
from typing import Annotated

import typer
from rich import markup
from rich.console import Console

from rollsafe.domain import errors
from rollsafe.execute import breaker
from rollsafe.interfaces.cli import context

__all__ = ["app"]

EXIT_OK = 0
EXIT_NOT_TRIPPED = 1
EXIT_OPEN = 3

app = typer.Typer(
    help="The fleet circuit breaker: see it, and reset it after a person looked.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the state as JSON")]


@app.command("status")
def status(
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show whether the breaker is open, and the evidence of its last trip (exit 3 if open)."""
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        state = breaker.read(store)
    except errors.StoreError as exc:
        context.fail(f"cannot read the breaker: {exc}")
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(state.to_json(), indent=2, sort_keys=True))
    else:
        _show(state)
    raise typer.Exit(EXIT_OPEN if state.open else EXIT_OK)


@app.command("reset")
def reset(
    reason: Annotated[str, typer.Option("--reason", help="What was checked (audited)")],
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close the tripped breaker: automatic rollbacks act on their own again."""
    if not reason.strip():
        context.fail("--reason must not be empty")
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        state, _ = breaker.reset(store, actor=_person(), reason=reason, now=time.time())
    except breaker.NotTripped as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[yellow]not reset:[/] {markup.escape(str(exc))}"
        )
        raise typer.Exit(EXIT_NOT_TRIPPED) from None
    except errors.StoreError as exc:
        context.fail(f"cannot reset the breaker: {exc}")
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(state.to_json(), indent=2, sort_keys=True))
        return
    Console(highlight=False, soft_wrap=True).print(
        f"circuit breaker [bold]reset[/] by {markup.escape(state.reset_by or '')}; runs it held "
        "still wait for their own approve/reject (`rollsafe approve RUN`)"
    )


def _show(state: breaker.State) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if not state.open:
        line = "circuit breaker [green]closed[/]: automatic rollbacks act on their own"
        if state.reset_at is not None:
            line += (
                f" (last reset {_when(state.reset_at)} by {markup.escape(state.reset_by or '?')}:"
                f" {markup.escape(state.reset_reason or '')})"
            )
        console.print(line)
        return
    share = f"{state.share:.0%}" if state.share is not None else "?"
    console.print(
        f"circuit breaker [red bold]OPEN[/] since {_when(state.tripped_at)}: "
        f"{len(state.targets)} of {state.fleet_size} targets ({share}) turned critical within "
        f"{state.window_s or 0:g}s; automatic rollbacks wait for a person"
    )
    console.print("critical: " + markup.escape(", ".join(state.targets)))
    console.print("after checking the cause: `rollsafe breaker reset --reason ...`")


def _when(moment: float | None) -> str:
    if moment is None:
        return "?"
    return datetime.datetime.fromtimestamp(moment, tz=datetime.UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )


def _person() -> str:
    """The login user: the audit names who reset it, as the operating system knows them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"
