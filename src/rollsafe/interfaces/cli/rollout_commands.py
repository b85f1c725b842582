"""``rollsafe rollout``: start a guarded upgrade in waves, watch it, pause, resume or abort it.

A rollout needs the judge's live decisions while each wave bakes, so it runs inside a
controller. ``start`` opens the rollout in the store; then, like ``rollsafe rollback``, it
looks at the controller lock (``rollsafe.runtime.locking``): when a daemon holds it, the
daemon drives the rollout (this command only reports it queued, or follows it with
``--wait``); when nobody does, this command runs a whole controller in-process (probes,
judge, run executor, rollouts: ``rollsafe.runtime.daemon.Daemon``) until the rollout ends or
is paused with nothing under way. ``resume`` and ``abort`` do the same after recording what
the person asked for; ``pause`` only records it (the controller applies it within a second).
A controller killed mid-rollout resumes it where it stopped: run ``rollout resume``.

On a terminal the progress is a live table (waves, targets, state, current evidence); piped,
one line per event; ``--json`` prints only the final summary (see docs/rollouts.md).

Exit codes: 0 the rollout completed (``abort``: ended aborted), is paused, or was queued for
the running daemon; 1 it ended otherwise (halted, aborted), or cannot be changed (ended
already); 2 usage or configuration error; 130 interrupted (the rollout stays where it was;
``rollout resume`` continues it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import getpass
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box, markup
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from rollsafe.config import loading
from rollsafe.domain import audit_events, clocks, errors, rollouts
from rollsafe.interfaces.cli import config_commands, context, tables
from rollsafe.rollouts import opening, reports
from rollsafe.runtime import assembly, daemon, locking
from rollsafe.storage import repositories, sql

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "app"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
REFRESH_S = 0.5
_ROWS_SHOWN = 30  # targets listed in the live view: the busy and the failed first

_STYLE = {
    "pending": "dim",
    "readying": "cyan",
    "upgrading": "cyan",
    "baking": "yellow",
    "passed": "green",
    "rolling_back": "bold red",
    "rolled_back": "red",
    "rollback_failed": "bold red",
    "not_ready": "magenta",
    "skipped": "dim",
    "upgraded": "yellow",
    "running": "cyan",
    "paused": "yellow",
    "halting": "bold red",
    "aborting": "bold red",
    "completed": "bold green",
    "halted": "bold red",
    "aborted": "bold red",
    "passed wave": "green",
}

app = typer.Typer(
    no_args_is_help=True,
    help="Guarded upgrades in waves: start, status, pause, resume, abort.",
)

ConfigRequired = Annotated[
    Path, typer.Option("--config", "-c", help="rollsafe.yaml (targets, drivers, rollouts)")
]
RolloutArg = Annotated[
    str | None, typer.Argument(help="Rollout id (default: the one in progress, else the newest)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log)")]
WaitOption = Annotated[
    bool, typer.Option("--wait", help="When a daemon drives it, follow the rollout to its end")
]


# ---------------------------------------------------------------------------- commands


@app.command("start")
def start(
    plan: Annotated[str, typer.Argument(help="The plan's name (rollouts[].name)")],
    config: ConfigRequired,
    reason: ReasonOption = "",
    wait: WaitOption = False,
    as_json: JsonOption = False,
) -> None:
    """Open a rollout of PLAN and drive it here, or hand it to the running daemon."""
    loaded = config_commands.load_or_exit(config)
    _quiet_logging()
    store = _open_store(loaded)
    try:
        assembly.sync_targets(loaded.config, store)
        try:
            rollout = opening.open_rollout(
                config=loaded.config,
                store=store,
                plan_name=plan,
                actor=_actor(),
                reason=reason or f"rollsafe rollout start {plan}",
                clock=clocks.SystemClock(),
            )
        except errors.ConfigError as exc:
            context.fail(str(exc))
        except opening.RolloutRefused as exc:
            context.fail(str(exc), code=EXIT_FAILED)
    finally:
        store.close()
    console = Console(highlight=False, soft_wrap=True)
    if not as_json:
        waves = ", ".join(f"{w.size} ({len(w.targets)})" for w in rollout.spec.waves)
        console.print(f"rollout [bold]{rollout.id}[/] of plan {plan} opened: waves {waves}")
    ended = _drive_or_queue(loaded, rollout.id, console, wait=wait, as_json=as_json)
    raise typer.Exit(_exit_code(ended, success=rollouts.RolloutState.COMPLETED))


@app.command("status")
def status(
    rollout_id: RolloutArg = None,
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """A rollout's waves, targets and budget (the one in progress, else the newest)."""
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        summary = _summary(store, rollout_id)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    _print_summary(Console(highlight=False, soft_wrap=True), summary)


@app.command("list")
def list_rollouts(
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="The newest N rollouts")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Rollouts, oldest first."""
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        found = store.list_rollouts(limit=limit)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in found], indent=2, sort_keys=True))
        return
    table = Table(title="rollouts")
    for column in ("rollout", "plan", "state", "wave", "opened", "by", "halt reason"):
        table.add_column(column, no_wrap=column in ("rollout", "state", "wave"))
    for r in found:
        table.add_row(
            r.id,
            r.plan,
            _styled(r.state.value),
            f"{min(r.wave + 1, len(r.spec.waves))}/{len(r.spec.waves)}",
            _when(r.created_at),
            r.actor,
            markup.escape(r.halt_reason or ""),
        )
    tables.show(table)


@app.command("pause")
def pause(
    rollout_id: RolloutArg = None,
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    reason: ReasonOption = "",
) -> None:
    """Stop starting targets: those under way finish; no new wave starts until resumed."""
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        rollout = _ask(store, rollout_id, rollouts.Desired.PAUSE, reason=reason)
    finally:
        store.close()
    Console(highlight=False).print(
        f"pause of {rollout.id} recorded: targets under way finish, none starts "
        f"(`rollsafe rollout resume {rollout.id}` goes on)"
    )


@app.command("resume")
def resume(
    config: ConfigRequired,
    rollout_id: RolloutArg = None,
    reason: ReasonOption = "",
    wait: WaitOption = False,
    as_json: JsonOption = False,
) -> None:
    """Go on with a paused rollout, or one a stopped controller left: drive it here or queue it."""
    loaded = config_commands.load_or_exit(config)
    _quiet_logging()
    store = _open_store(loaded)
    try:
        rollout = _ask(store, rollout_id, rollouts.Desired.RUN, reason=reason)
    finally:
        store.close()
    console = Console(highlight=False, soft_wrap=True)
    if not as_json:
        console.print(f"resuming {rollout.id} ({rollout.state.value})")
    ended = _drive_or_queue(loaded, rollout.id, console, wait=wait, as_json=as_json)
    raise typer.Exit(_exit_code(ended, success=rollouts.RolloutState.COMPLETED))


@app.command("abort")
def abort(
    config: ConfigRequired,
    rollout_id: RolloutArg = None,
    reason: ReasonOption = "",
    wait: WaitOption = False,
    as_json: JsonOption = False,
) -> None:
    """Stop the rollout and roll back what its on_halt policy says."""
    loaded = config_commands.load_or_exit(config)
    _quiet_logging()
    store = _open_store(loaded)
    try:
        rollout = _ask(store, rollout_id, rollouts.Desired.ABORT, reason=reason)
    finally:
        store.close()
    console = Console(highlight=False, soft_wrap=True)
    if not as_json:
        console.print(f"aborting {rollout.id}: on_halt is {rollout.spec.on_halt}")
    ended = _drive_or_queue(loaded, rollout.id, console, wait=wait, as_json=as_json)
    raise typer.Exit(_exit_code(ended, success=rollouts.RolloutState.ABORTED))


# ---------------------------------------------------------------------------- control


def _ask(
    store: repositories.Store,
    rollout_id: str | None,
    desired: rollouts.Desired,
    *,
    reason: str,
) -> rollouts.Rollout:
    """Record what a person asks of an open rollout (audited); exits if there is none."""
    rollout = reports.load(store, rollout_id)
    if rollout is None:
        context.fail(f"no rollout {rollout_id}" if rollout_id else "no rollout in the store")
    if not rollout.open:
        context.fail(
            f"rollout {rollout.id} ended {rollout.state.value}: nothing to {desired.value}",
            code=EXIT_FAILED,
        )
    store.set_rollout_desired(
        rollout.id,
        desired,
        audit=audit_events.AuditEntry(
            time=time.time(),
            actor=_actor(),
            action=f"rollout.{desired.value}_requested",
            reason=reason,
            details={"rollout": rollout.id, "plan": rollout.plan, "state": rollout.state.value},
        ),
    )
    return rollout


def _drive_or_queue(
    loaded: loading.LoadedConfig,
    rollout_id: str,
    console: Console,
    *,
    wait: bool,
    as_json: bool,
) -> rollouts.Rollout | None:
    """Drive the rollout with an in-process controller, or leave it to the running daemon.

    Returns the rollout as it ended (or stands, when queued without ``--wait``).
    """
    lock = locking.ControllerLock(loaded.state_dir, role="cli")
    while True:
        holder = _free_or_daemon(lock, console, quiet=as_json)
        if holder is None:
            ended = _run_controller(loaded, rollout_id, console, as_json=as_json)
            if ended is not None:
                _finish(loaded, rollout_id, console, as_json=as_json)
                return ended
            holder = lock.holder()  # someone started a controller in between: it drives
        if not as_json:
            who = f"pid {holder.pid}" if holder else "another process"
            console.print(f"rollout {rollout_id} is driven by the running controller ({who})")
        if not wait:
            if as_json:
                # Queued is an outcome too: a script gets the rollout as it stands (the daemon
                # drives it from here), not an empty stdout it cannot tell from a crash.
                pid = holder.pid if holder else None
                _finish(loaded, rollout_id, console, as_json=True, extra={"driven_by_pid": pid})
            return _current(loaded, rollout_id)
        if _follow(loaded, rollout_id, lock, console, as_json=as_json):
            _finish(loaded, rollout_id, console, as_json=as_json)
            return _current(loaded, rollout_id)
        # The daemon went away mid-rollout: take over (round again).


def _free_or_daemon(
    lock: locking.ControllerLock, console: Console, *, quiet: bool
) -> locking.Holder | None:
    """None when nobody drives (the lock was free); else who does. Waits out another CLI."""
    told = False
    while not lock.try_acquire():
        holder = lock.holder()
        if holder is None or holder.role != "cli":
            return holder or locking.Holder(pid=0, role="unknown")
        if not told and not quiet:
            console.print(f"waiting for another rollsafe command (pid {holder.pid}) to finish")
            told = True
        time.sleep(0.2)
    lock.release()  # the in-process controller takes it again, as a daemon
    return None


def _run_controller(
    loaded: loading.LoadedConfig, rollout_id: str, console: Console, *, as_json: bool
) -> rollouts.Rollout | None:
    """A whole controller in this process until the rollout ends or pauses with nothing under
    way; None when another controller got the lock first."""
    interrupted = False

    async def main() -> rollouts.Rollout | None:
        nonlocal interrupted
        stop = asyncio.Event()

        def on_signal() -> None:
            nonlocal interrupted
            interrupted = True
            stop.set()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, on_signal)
        controller = daemon.Daemon(loaded)
        task = asyncio.create_task(controller.run(stop), name="rollsafe-rollout-controller")
        view = _View(console, quiet=as_json)
        try:
            with view:
                while not stop.is_set() and not task.done():
                    rollout = controller.store.get_rollout(rollouts.RolloutId(rollout_id))
                    if rollout is None:
                        return None
                    rows = controller.store.list_rollout_targets(rollout.id)
                    view.show(controller.store, rollout, rows)
                    if not rollout.open or _paused_and_idle(rollout, rows):
                        return rollout
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(REFRESH_S):
                            await stop.wait()
        finally:
            stop.set()
            try:
                await task
            except daemon.ControllerBusy:
                return None
            finally:
                controller.store.close()
        return None

    result = asyncio.run(main())
    if interrupted:
        Console(stderr=True).print(
            f"interrupted: rollout {rollout_id} stays where it was; "
            f"`rollsafe rollout resume {rollout_id}` goes on"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    return result


def _follow(
    loaded: loading.LoadedConfig,
    rollout_id: str,
    lock: locking.ControllerLock,
    console: Console,
    *,
    as_json: bool,
) -> bool:
    """Watch the daemon drive the rollout; True when it ended (or paused idle), False when the
    daemon went away (the lock is free: the caller drives it)."""
    store = _open_store(loaded)
    view = _View(console, quiet=as_json)
    try:
        with view:
            while True:
                rollout = store.get_rollout(rollouts.RolloutId(rollout_id))
                if rollout is None:
                    context.fail(f"rollout {rollout_id} disappeared from the store")
                rows = store.list_rollout_targets(rollout.id)
                view.show(store, rollout, rows)
                if not rollout.open or _paused_and_idle(rollout, rows):
                    return True
                if lock.try_acquire():
                    lock.release()
                    if not as_json:
                        console.print("the controller stopped; driving the rollout here")
                    return False
                time.sleep(REFRESH_S)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        store.close()


def _paused_and_idle(rollout: rollouts.Rollout, rows: list[rollouts.RolloutTarget]) -> bool:
    """Paused (and still meant to be), with nothing under way: nothing left to watch."""
    return (
        rollout.state is rollouts.RolloutState.PAUSED
        and rollout.desired is rollouts.Desired.PAUSE
        and not any(row.state.in_flight for row in rows)
    )


def _finish(
    loaded: loading.LoadedConfig,
    rollout_id: str,
    console: Console,
    *,
    as_json: bool,
    extra: dict[str, Any] | None = None,
) -> None:
    store = _open_store(loaded)
    try:
        summary = {**_summary(store, rollout_id), **(extra or {})}
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        _print_summary(console, summary)


def _current(loaded: loading.LoadedConfig, rollout_id: str) -> rollouts.Rollout | None:
    store = _open_store(loaded)
    try:
        return store.get_rollout(rollouts.RolloutId(rollout_id))
    finally:
        store.close()


def _exit_code(rollout: rollouts.Rollout | None, *, success: rollouts.RolloutState) -> int:
    if rollout is None or rollout.open or rollout.state is success:
        return EXIT_OK
    return EXIT_FAILED


# ---------------------------------------------------------------------------- views


class _View:
    """The live table on a terminal; one line per audit event otherwise; nothing for JSON."""

    def __init__(self, console: Console, *, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self.live: Live | None = None
        self.seen = 0

    def __enter__(self) -> _View:
        if not self.quiet and self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def show(
        self,
        store: repositories.Store,
        rollout: rollouts.Rollout,
        rows: list[rollouts.RolloutTarget],
    ) -> None:
        if self.quiet:
            return
        if self.live is not None:
            latest = store.latest_decisions()
            summary = reports.summarize(rollout, rows, latest=latest, now=time.time())
            self.live.update(_live_view(summary))
            return
        self._lines(store, rollout)

    def _lines(self, store: repositories.Store, rollout: rollouts.Rollout) -> None:
        if self.seen == 0:
            # Start from the rollout's own opening, not from the whole history.
            for event in store.list_audit_events():
                if event.entry.action == "rollout.opened" and (
                    event.entry.details.get("rollout") == rollout.id
                ):
                    self.seen = event.seq
                    break
        for event in store.list_audit_events(since_seq=self.seen):
            self.seen = event.seq
            entry = event.entry
            if entry.details.get("rollout") != rollout.id:
                continue
            stamp = datetime.datetime.fromtimestamp(entry.time, tz=datetime.UTC).astimezone()
            what = " ".join(
                part for part in (entry.target or "", entry.reason or entry.result) if part
            )
            self.console.print(
                f"{stamp:%H:%M:%S}  {entry.action:<30} {markup.escape(what)}", soft_wrap=True
            )


def _live_view(summary: Mapping[str, Any]) -> Group:
    rollout = summary["rollout"]
    head = Text.assemble(
        (f"rollout {rollout['id']}", "bold"),
        f"  plan {rollout['plan']}  ",
        (rollout["state"], _STYLE.get(rollout["state"], "")),
        f"  wave {rollout['wave']}/{rollout['waves']}  {rollout['duration_s']:.0f}s",
    )
    if rollout["desired"] != "run" and rollout["state"] not in ("paused", "aborting"):
        head.append(f"  ({rollout['desired']} requested)", style="yellow")
    targets = Table(box=box.SIMPLE_HEAD, expand=False)
    for column in ("wave", "target", "state", "evidence / note"):
        targets.add_column(column, overflow="fold")
    order = {"rolling_back": 0, "baking": 1, "upgrading": 1, "readying": 1}
    listed = sorted(
        summary["targets"],
        key=lambda t: (order.get(t["state"], 2), t["wave"] or 999, t["position"]),
    )
    for item in listed[:_ROWS_SHOWN]:
        targets.add_row(
            str(item["wave"] or "-"),
            item["target"],
            _styled(item["state"]),
            markup.escape(_target_text(item)),
        )
    if len(listed) > _ROWS_SHOWN:
        targets.add_row("", f"... {len(listed) - _ROWS_SHOWN} more", "", "")
    return Group(head, _waves_table(summary), targets)


def _target_text(item: Mapping[str, Any]) -> str:
    current = item.get("current")
    if item.get("failure"):
        return str(item["failure"])
    if current:
        return f"{current['rule']}: {current['summary']}"
    if item["state"] == "baking" and item.get("bake_until"):
        return f"baking, {max(0.0, item['bake_until'] - time.time()):.0f}s left"
    return str(item.get("note") or "")


def _waves_table(summary: Mapping[str, Any]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title="waves", title_justify="left")
    for column in ("wave", "size", "targets", "bake", "outcome", "duration", "failures", "states"):
        table.add_column(column)
    for wave in summary["waves"]:
        states = ", ".join(f"{k} {v}" for k, v in sorted(wave["states"].items()))
        allowed = wave["allowed_failures"]
        table.add_row(
            str(wave["wave"]),
            wave["size"],
            str(len(wave["targets"])),
            f"{wave['bake_s']:g}s",
            _styled(wave["outcome"]),
            "-" if wave["duration_s"] is None else f"{wave['duration_s']:.1f}s",
            f"{wave['failures']}" + ("" if allowed is None else f" (max {allowed})"),
            states,
        )
    return table


def _print_summary(console: Console, summary: Mapping[str, Any]) -> None:
    rollout = summary["rollout"]
    console.print(
        Text.assemble(
            (f"rollout {rollout['id']}", "bold"),
            f" (plan {rollout['plan']}): ",
            (rollout["state"], _STYLE.get(rollout["state"], "bold")),
            f" after {rollout['duration_s']:.1f}s",
        )
    )
    if rollout["halt_reason"]:
        console.print(f"  {markup.escape(rollout['halt_reason'])}")
    tables.show(_waves_table(summary), console=console)
    budget = summary["budget"]
    allowed = budget["allowed_failures"]
    console.print(
        f"failures: {budget['failures']} of {budget['planned']} targets"
        + ("" if allowed is None else f" (the rollout tolerates {allowed})")
    )
    notable = [t for t in summary["targets"] if t["state"] not in ("passed", "pending")]
    if notable:
        table = Table(box=box.SIMPLE_HEAD, title="targets to look at", title_justify="left")
        for column in ("target", "wave", "state", "why", "run", "pinned"):
            table.add_column(column, overflow="fold")
        for item in notable:
            table.add_row(
                item["target"],
                str(item["wave"] or "-"),
                _styled(item["state"]),
                markup.escape(str(item.get("failure") or item.get("note") or "")),
                item.get("run_id") or "",
                "yes" if item.get("pinned") else "",
            )
        tables.show(table, console=console)
    pending = sum(1 for t in summary["targets"] if t["state"] == "pending")
    if pending and summary["rollout"]["state"] not in ("running", "pending", "paused"):
        console.print(f"{pending} targets were never touched")


# ---------------------------------------------------------------------------- helpers


def _summary(store: repositories.Store, rollout_id: str | None) -> dict[str, Any]:
    rollout = reports.load(store, rollout_id)
    if rollout is None:
        context.fail(f"no rollout {rollout_id}" if rollout_id else "no rollout in the store")
    rows = store.list_rollout_targets(rollout.id)
    return reports.summarize(
        rollout,
        rows,
        latest=store.latest_decisions(),
        pins=reports.pins_of(store),
        now=time.time(),
    )


def _styled(value: str) -> str:
    style = _STYLE.get(value)
    return f"[{style}]{value}[/]" if style else value


def _open_store(loaded: loading.LoadedConfig) -> sql.SqlStore:
    return context.open_loaded_store(loaded)


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def _when(epoch: float) -> str:
    stamp = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def _quiet_logging() -> None:
    # The progress is printed from the store; logs only for what goes wrong.
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
