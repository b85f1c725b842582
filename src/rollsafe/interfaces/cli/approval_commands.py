"""``rollsafe approve RUN`` / ``rollsafe reject RUN --reason``: a person decides a waiting run.

The decision is written to the durable run in the store, with an audit entry naming the person
(``cli:<user>``), through ``rollsafe.execute.approvals.decide``: the same code the API, the
dashboard, chat links and Slack buttons use. It therefore works whether or not the daemon
runs: a running controller notices the decision within its poll interval; a stopped one acts
on it when it resumes the run (``rollsafe run``, or ``rollsafe rollback TARGET``).

Exit codes: 0 decided; 1 the run is not waiting for a person (already decided, finished, or
not in ``awaiting_approval``); 2 no such run, or no store.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from typing import Annotated

import typer
from rich import markup
from rich.console import Console

from rollsafe.domain import errors, runs
from rollsafe.execute import approvals
from rollsafe.interfaces.cli import context
from rollsafe.runtime import locking

__all__ = ["register"]

EXIT_OK = 0
EXIT_NOT_WAITING = 1

JsonOption = Annotated[bool, typer.Option("--json", help="Print the run as JSON")]


def register(app: typer.Typer) -> None:
    """Add ``approve`` and ``reject`` to the top-level app."""
    app.command("approve")(approve)
    app.command("reject")(reject)


def approve(
    run_id: Annotated[str, typer.Argument(help="The run waiting for approval (run-...)")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log)")] = (
        "approved"
    ),
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Let a rollback that waits for a person go on now."""
    _decide(run_id, "approve", reason=reason, config=config, state_dir=state_dir, as_json=as_json)


def reject(
    run_id: Annotated[str, typer.Argument(help="The run waiting for approval (run-...)")],
    reason: Annotated[str, typer.Option("--reason", help="Why not (recorded in the audit log)")],
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop a rollback that waits for a person: it ends rejected, the target untouched."""
    _decide(run_id, "reject", reason=reason, config=config, state_dir=state_dir, as_json=as_json)


def _decide(
    run_id: str,
    verdict: approvals.Verdict,
    *,
    reason: str,
    config: context.ConfigOption,
    state_dir: context.StateDirOption,
    as_json: bool,
) -> None:
    if not reason.strip():
        context.fail("--reason must not be empty")
    location = context.locate_store(config, state_dir)
    store = context.open_store_from(config, state_dir, must_exist=True)
    who = _person()
    try:
        try:
            run, _ = approvals.decide(
                store, run_id, verdict, actor=who, reason=reason, now=time.time(), via="cli"
            )
        except approvals.RunNotFound:
            context.fail(f"no run {run_id} in the store at {location.shown}")
        except runs.InvalidTransition as exc:
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"[yellow]not decided:[/] {markup.escape(str(exc))}"
            )
            raise typer.Exit(EXIT_NOT_WAITING) from None
        except errors.StoreError as exc:
            context.fail(f"cannot write run {run_id}: {exc}")
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(run.to_json(), indent=2, sort_keys=True))
        return
    console = Console(highlight=False, soft_wrap=True)
    done = "approved" if verdict == "approve" else "rejected"
    console.print(f"run {run.id} ({run.target}) [bold]{done}[/] by {markup.escape(who)}")
    if verdict == "approve":
        holder = locking.ControllerLock(location.state_dir).holder()
        if holder is not None and holder.role == "daemon":
            console.print(f"the running controller (pid {holder.pid}) goes on with it now")
        else:
            console.print(
                "no controller is running: the rollback goes on when `rollsafe run` starts "
                f"or `rollsafe rollback {run.target}` resumes it"
            )


def _person() -> str:
    """The login user: the audit names who decided, as the operating system knows them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"
