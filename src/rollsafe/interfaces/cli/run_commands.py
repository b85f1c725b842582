"""Rollback runs by hand: ``rollback``, ``runs``, ``checkpoint``, ``restore-points``, ``upgrade``.

The manual channel of the loop. ``rollsafe rollback TARGET --reason TEXT`` opens a run exactly
like a critical decision would (same governors, same audit), as ``cli:<user>``. Who drives it
depends on the controller lock (``rollsafe.runtime.locking``): when no daemon runs, this
process takes the lock and drives the run itself, printing each state and step; when a daemon
holds the lock, this process only opens the run and, with ``--wait``, follows it in the store
(and takes over if the daemon goes away). Never both. Replicas sharing a PostgreSQL store lead
by a lease in the store, not by the local lock: while another process holds a live leader
lease (``repositories.LEADER_LEASE``), this process only opens the run for that leader, even
when the lock on this host is free. Running the same command again after a
crash finds the target's open run and resumes it instead of opening a second one.

Exit codes: 0 the run succeeded (or dry run, or was opened for the daemon without
``--wait``); 1 it failed, was blocked or rejected (``checkpoint``/``upgrade``: the driver or a
data check failed); 2 usage or configuration error (unknown target, broken file, no store).

``--json`` outputs (stable, see docs/runs.md): ``runs`` prints an array of runs;
``runs show`` and ``rollback`` print ``{"run", "steps", "audit"}``; ``checkpoint`` a restore
point; ``restore-points`` an array of restore points.
"""

from __future__ import annotations

import asyncio
import datetime
import getpass
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import markup
from rich.console import Console
from rich.table import Table

from rollsafe.domain import audit_events, clocks, errors, ids, restore_points, runs
from rollsafe.interfaces.cli import context, tables
from rollsafe.runtime import locking  # a file lock: nothing of the runtime's weight
from rollsafe.storage import repositories

if TYPE_CHECKING:
    # `runs` only reads the store: the configuration models, drivers, executor and runtime
    # are imported by the commands that act (rollback, checkpoint, upgrade), when they run.
    from rollsafe.config import loading
    from rollsafe.execute import driving
    from rollsafe.execute import runs as executing
    from rollsafe.storage import sql

__all__ = ["register"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = context.EXIT_ERROR
FOLLOW_INTERVAL = 0.5
_OK_STATES = frozenset({runs.RunState.SUCCEEDED, runs.RunState.DRY_RUN})
_STYLE = {
    "succeeded": "green",
    "failed": "bold red",
    "blocked": "red",
    "rejected": "yellow",
    "dry_run": "cyan",
}

ConfigRequired = Annotated[
    Path, typer.Option("--config", "-c", help="rollsafe.yaml (targets, drivers, state_dir)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output")]

runs_app = typer.Typer(
    invoke_without_command=True,
    help="List rollback runs, or show one with its steps and audit events.",
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("rollback")(rollback)
    app.add_typer(runs_app, name="runs")
    app.command("checkpoint")(checkpoint)
    app.command("upgrade")(upgrade)


# ---------------------------------------------------------------------------- rollback


def rollback(  # noqa: PLR0915 - two lazy imports on top of the command's own steps
    target: Annotated[str, typer.Argument(help="The target to roll back")],
    *,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log)")],
    config: ConfigRequired,
    to: Annotated[
        str | None, typer.Option("--to", help="Restore point id (default: the latest)")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="When a daemon drives the run, follow it until it ends"),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Go past a quarantine and an open fleet breaker (audited as forced)",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Roll TARGET back now: drive the run here, or hand it to the running daemon.

    A person's rollback is never stopped by the per-target rate limit; --force also goes
    past a quarantine. --to must name one of TARGET's restore points (checked first).
    """
    from rollsafe.interfaces.cli import config_commands
    from rollsafe.runtime import assembly

    loaded = config_commands.load_or_exit(config)
    _known_target(loaded, target)
    if not reason.strip():
        context.fail("--reason must say why (it is recorded in the audit log)")
    _quiet_logging()
    console = Console(highlight=False, soft_wrap=True)
    show = None if as_json else _progress_printer(console)
    store = _open_store(loaded)
    lock = locking.ControllerLock(loaded.state_dir, role="cli")
    try:
        holder = _take_lock_unless_daemon(lock, console, quiet=as_json)
        leader = _yield_to_leader(lock, store)
        started = time.time()
        try:
            executor = assembly.build_executor(
                loaded, store, clock=clocks.SystemClock(), on_audit=show
            )
            run = executor.request(
                target,
                trigger="manual",
                actor=_actor(),
                reason=reason,
                restore_point=to,
                force=force,
            )
        except errors.ConfigError as exc:
            context.fail(str(exc))
        if run.created_at < started and not as_json:
            console.print(
                f"run {run.id} was already open for {target} ({run.state.value}, opened by "
                f"{run.actor}: {markup.escape(run.reason)}); "
                + ("resuming it" if lock.held else "it is the one in progress")
            )
        if run.open and lock.held:
            run = _drive(executor, run, console)
        elif run.open:
            if not as_json:
                who = _controller(holder, leader)
                console.print(f"run {run.id} is queued for the running controller ({who})")
            if wait:
                # run.opened was printed already when this process opened the run.
                mine = run.created_at >= started
                run = _follow(executor, store, run, lock, console, quiet=as_json, skip_opened=mine)
    finally:
        lock.release()
        store.close()
    if as_json:
        store = _open_store(loaded)
        try:
            report = _run_report(store, run.id)
        except errors.StoreError as exc:
            context.fail(f"cannot read run {run.id}: {exc}")
        finally:
            store.close()
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
    elif not run.open:
        style = _STYLE.get(run.state.value, "bold")
        tail = f": {markup.escape(run.error)}" if run.error else ""
        console.print(f"run {run.id} [{style}]{run.state.value}[/]{tail}")
    raise typer.Exit(_exit_code(run))


def _take_lock_unless_daemon(
    lock: locking.ControllerLock, console: Console, *, quiet: bool
) -> locking.Holder | None:
    """Take the controller lock; wait for another CLI holding it; give up for a daemon."""
    told = False
    while not lock.try_acquire():
        holder = lock.holder()
        if holder is None or holder.role != "cli":
            return holder  # a daemon (or someone unknown) drives runs: we only open ours
        if not told and not quiet:
            console.print(f"waiting for another rollsafe command (pid {holder.pid}) to finish")
            told = True
        time.sleep(0.2)
    return None


def _yield_to_leader(
    lock: locking.ControllerLock, store: repositories.Store
) -> repositories.Lease | None:
    """Give the lock back when a leader elsewhere drives runs; that leader's lease, if so.

    Replicas lead by the lease in the shared store, and the one leading may run on another
    host, where this host's free lock says nothing: driving here too would act twice.
    """
    if not lock.held:
        return None
    leader = _live_leader(store)
    if leader is not None:
        lock.release()
    return leader


def _controller(holder: locking.Holder | None, leader: repositories.Lease | None) -> str:
    if leader is not None:
        return f"the leader {markup.escape(leader.holder)}, from the store's leader lease"
    return f"pid {holder.pid}" if holder else "another process"


def _live_leader(store: repositories.Store) -> repositories.Lease | None:
    """The leader lease while someone holds it live (a replica on any host), else None."""
    try:
        lease = store.lease(repositories.LEADER_LEASE)
    except errors.StoreError as exc:
        context.fail(f"cannot read the leader lease: {exc}")
    if lease is None or not lease.live(clocks.SystemClock().now()):
        return None
    return lease


def _drive(
    executor: executing.Executor, run: runs.RollbackRun, console: Console
) -> runs.RollbackRun:
    try:
        result = asyncio.run(executor.drive(run.id))
    except KeyboardInterrupt:
        console.print(
            f"interrupted: run {run.id} stays {run.state.value} where it stopped; "
            "run the same command again to resume it"
        )
        raise typer.Exit(130) from None
    return result


def _follow(
    executor: executing.Executor,
    store: repositories.Store,
    run: runs.RollbackRun,
    lock: locking.ControllerLock,
    console: Console,
    *,
    quiet: bool,
    skip_opened: bool,
) -> runs.RollbackRun:
    """Print the run's audit events as the daemon writes them, until the run ends."""
    seen = 0
    printer = None if quiet else _progress_printer(console)
    while True:
        for event in store.list_audit_events(since_seq=seen, target=run.target):
            seen = event.seq
            if event.entry.run_id != run.id or printer is None:
                continue
            if not (skip_opened and event.entry.action == "run.opened"):
                printer(event.entry)
        current = store.get_run(run.id)
        if current is None:
            context.fail(f"run {run.id} disappeared from the store")
        if not current.open:
            return current
        if lock.try_acquire():
            if _live_leader(store) is not None:
                # The lock here is free, but a leader elsewhere drives the run: keep following.
                lock.release()
                time.sleep(FOLLOW_INTERVAL)
                continue
            # The daemon went away mid-run: the lock is ours now, so nobody else drives it.
            if not quiet:
                console.print("the controller stopped; driving the run here")
            return _drive(executor, current, console)
        time.sleep(FOLLOW_INTERVAL)


def _progress_printer(console: Console) -> Callable[[audit_events.AuditEntry], None]:
    def show(entry: audit_events.AuditEntry) -> None:
        stamp = _local(entry.time).strftime("%H:%M:%S")
        console.print(f"{stamp}  {entry.action:<28} {markup.escape(_describe(entry))}")

    return show


def _describe(entry: audit_events.AuditEntry) -> str:
    details = entry.details
    if entry.action.startswith("run.step."):
        text = f"step {details.get('index')} {details.get('step')}"
        if details.get("attempt", 1) != 1:
            text += f" (attempt {details.get('attempt')})"
        extra = entry.reason or entry.result
        return f"{text}: {extra}" if extra else text
    if entry.action == "run.opened":
        return f"{entry.run_id} for {entry.target} by {entry.actor}: {entry.reason}"
    if entry.action == "run.state.prechecking":
        return f"restore point {details.get('restore_point')}"
    return entry.reason or entry.result


# ---------------------------------------------------------------------------- runs


@runs_app.callback()
def runs_list(
    ctx: typer.Context,
    *,
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    as_json: JsonOption = False,
    target: Annotated[str | None, typer.Option("--target", help="Only this target")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only runs not finished")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="The newest N runs")] = 50,
) -> None:
    """List rollback runs, oldest first (``runs show RUN`` for one run)."""
    if ctx.invoked_subcommand is not None:
        return
    # Read-only, and without SQLAlchemy on the embedded store (context.open_reader_from).
    store = context.open_reader_from(config, state_dir)
    try:
        found = store.list_runs(
            target=ids.TargetId(target) if target else None, open_only=open_only, limit=limit
        )
    except errors.StoreError as exc:
        context.fail(f"cannot read runs: {exc}")
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([run.to_json() for run in found], indent=2, sort_keys=True))
        return
    table = Table(title="rollback runs")
    for column in ("run", "target", "state", "trigger", "by", "opened", "error"):
        table.add_column(column, no_wrap=column in ("run", "state"))
    for run in found:
        style = _STYLE.get(run.state.value, "bold")
        table.add_row(
            run.id,
            run.target,
            f"[{style}]{run.state.value}[/]",
            run.trigger,
            run.actor,
            _when(run.created_at),
            markup.escape(run.error or ""),
        )
    tables.show(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="The run id (run-...)")],
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """One run: its state, its steps and its audit events."""
    store = context.open_reader_from(config, state_dir)  # read-only; no SQLAlchemy on SQLite
    try:
        report = _run_report(store, ids.RunId(run_id))
    except errors.StoreError as exc:
        context.fail(f"cannot read run {run_id}: {exc}")
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    console = Console(highlight=False, soft_wrap=True)
    run = report["run"]
    style = _STYLE.get(run["state"], "bold")
    console.print(f"[bold]{run['id']}[/] {run['target']} [{style}]{run['state']}[/]")
    for key in ("trigger", "actor", "reason", "restore_point", "error"):
        if run[key]:
            console.print(f"  {key:<14} {markup.escape(str(run[key]))}")
    approval = run["approval"]
    console.print(
        f"  {'approval':<14} {approval['mode']}"
        + (f" ({approval['decision']} by {approval['decided_by']})" if approval["decision"] else "")
    )
    console.print(f"  {'opened':<14} {_when(run['created_at'])}")
    console.print(f"  {'updated':<14} {_when(run['updated_at'])}")
    if report["steps"]:
        console.print("[bold]steps[/]")
        for step in report["steps"]:
            console.print(
                f"  {step['index']} {step['name']:<24} {step['state']:<8} "
                f"attempt {step['attempt']}  {markup.escape(step['output'])}"
            )
    console.print("[bold]audit[/]")
    for event in report["audit"]:
        entry = audit_events.AuditEntry(
            time=event["time"],
            actor=event["actor"],
            action=event["action"],
            target=event["target"],
            run_id=event["run_id"],
            reason=event["reason"],
            details=event["details"],
            result=event["result"],
        )
        console.print(
            f"  #{event['seq']} {_when(entry.time)} {entry.action:<28} "
            f"{markup.escape(_describe(entry))}"
        )


def _run_report(store: context.StoreReads, run_id: ids.RunId) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None:
        context.fail(f"no run {run_id} in the store")
    steps = store.list_steps(run.id)
    events = [e for e in store.list_audit_events(target=run.target) if e.entry.run_id == run.id]
    return {
        "run": run.to_json(),
        "steps": [step.to_json() for step in steps],
        "audit": [event.to_json() for event in events],
    }


# ---------------------------------------------------------------------------- restore points


def checkpoint(
    target: Annotated[str, typer.Argument(help="The target to take a restore point of")],
    config: ConfigRequired,
    label: Annotated[str, typer.Option("--label", help="A note kept with the point")] = "",
    as_json: JsonOption = False,
) -> None:
    """Take a restore point of TARGET now (driver copy + data checks), before an upgrade."""
    from rollsafe.interfaces.cli import config_commands

    loaded = config_commands.load_or_exit(config)
    _known_target(loaded, target)
    _quiet_logging()
    store = _open_store(loaded)
    try:
        driver = _driver_for(loaded, target)
        point = _take(loaded, store, driver, target, label=label)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(point.to_json(), indent=2, sort_keys=True))
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"restore point [bold]{point.id}[/] of {target} taken by driver {point.driver}")
    for name, value in sorted(point.checks.items()):
        console.print(f"  check {name} = {markup.escape(str(value))}")


def restore_points_command(
    target: Annotated[str, typer.Argument(help="The target whose restore points to list")],
    config: ConfigRequired,
    as_json: JsonOption = False,
) -> None:
    """List TARGET's restore points, oldest first (rollbacks use the latest by default)."""
    from rollsafe.interfaces.cli import config_commands

    loaded = config_commands.load_or_exit(config)
    _known_target(loaded, target)
    store = context.open_loaded_store(loaded, must_exist=True)
    try:
        points = store.list_restore_points(ids.TargetId(target))
    except errors.StoreError as exc:
        context.fail(f"cannot read restore points: {exc}")
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([p.to_json() for p in points], indent=2, sort_keys=True))
        return
    table = Table(title=f"restore points of {target}")
    for column in ("id", "taken", "driver", "label", "checks"):
        table.add_column(column)
    for point in points:
        checks = ", ".join(f"{k}={_short(v)}" for k, v in sorted(point.checks.items()))
        table.add_row(
            point.id, _when(point.created_at), point.driver, markup.escape(point.label), checks
        )
    tables.show(table)


# ---------------------------------------------------------------------------- upgrade


def upgrade(
    target: Annotated[str, typer.Argument(help="The target to upgrade")],
    config: ConfigRequired,
    no_checkpoint: Annotated[
        bool, typer.Option("--no-checkpoint", help="Do not take a restore point first")
    ] = False,
    label: Annotated[str, typer.Option("--label", help="Label of the restore point")] = "",
) -> None:
    """Checkpoint TARGET, run its driver's upgrade, and mark the time for the judge."""
    from rollsafe.execute import upgrading
    from rollsafe.interfaces.cli import config_commands

    loaded = config_commands.load_or_exit(config)
    _known_target(loaded, target)
    _quiet_logging()
    console = Console(highlight=False, soft_wrap=True)
    store = _open_store(loaded)
    try:
        tid = ids.TargetId(target)
        if store.list_runs(target=tid, open_only=True, limit=1):
            context.fail(f"{target} has an open rollback run: not upgrading it now", code=1)
        driver = _driver_for(loaded, target)
        point = None
        if not no_checkpoint:
            point = _take(loaded, store, driver, target, label=label or "before upgrade")
            console.print(f"restore point {point.id} taken")
        key = f"upgrade:{target}:{secrets.token_hex(5)}"
        actor = _actor()
        # Before the effect: a failure seen while the upgrade runs has a release to undo.
        upgrading.started(store, tid, at=time.time())
        try:
            output = asyncio.run(driver.upgrade(loaded.config.target(target), key=key))
        except errors.RollsafeError as exc:
            _upgrade_done(store, tid, actor=actor, ok=False, text=str(exc), point=point)
            context.fail(f"upgrade of {target} failed: {exc}", code=EXIT_FAILED)
        _upgrade_done(store, tid, actor=actor, ok=True, text=output, point=point)
    finally:
        store.close()
    console.print(f"upgraded {target}: {markup.escape(output)}")


def _upgrade_done(
    store: repositories.Store,
    target: ids.TargetId,
    *,
    actor: str,
    ok: bool,
    text: str,
    point: restore_points.RestorePoint | None,
) -> None:
    """Audit the upgrade and leave the ``mark:upgrade`` observation the judge reads."""
    from rollsafe.execute import upgrading

    now = time.time()
    store.append_audit(
        audit_events.AuditEntry(
            time=now,
            actor=actor,
            action="upgrade.finished" if ok else "upgrade.failed",
            target=target,
            reason=text[:2000],
            details={"restore_point": point.id if point is not None else None},
            result="ok" if ok else "failed",
        )
    )
    # Even a failed upgrade may have changed the target: the judge must know when.
    upgrading.finished(store, target, at=now)


# ---------------------------------------------------------------------------- helpers


def _take(
    loaded: loading.LoadedConfig,
    store: repositories.Store,
    driver: driving.Driver,
    target: str,
    *,
    label: str,
) -> restore_points.RestorePoint:
    from rollsafe.verify import checkpoints

    try:
        return asyncio.run(
            checkpoints.take_checkpoint(
                config=loaded.config,
                target_id=target,
                store=store,
                driver=driver,
                clock=clocks.SystemClock(),
                label=label,
                actor=_actor(),
            )
        )
    except errors.ConfigError as exc:
        context.fail(str(exc))
    except errors.RollsafeError as exc:
        context.fail(f"checkpoint of {target} failed: {exc}", code=EXIT_FAILED)


def _driver_for(loaded: loading.LoadedConfig, target: str) -> driving.Driver:
    from rollsafe.runtime import assembly

    name = loaded.config.target(target).driver
    if name is None:
        context.fail(f"target {target} has no driver configured")
    try:
        return assembly.build_drivers(loaded.config, loaded.state_dir)[name]
    except errors.ConfigError as exc:
        context.fail(str(exc))


def _known_target(loaded: loading.LoadedConfig, target: str) -> None:
    known = [t.id for t in loaded.config.targets]
    if target not in known:
        context.fail(f"unknown target {target!r} (known: {', '.join(known) or 'none'})")


def _open_store(loaded: loading.LoadedConfig) -> sql.SqlStore:
    return context.open_loaded_store(loaded)


def _actor() -> str:
    return actor()


def actor() -> str:
    """``cli:<user>``: who a command acts as, in the audit log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def _exit_code(run: runs.RollbackRun) -> int:
    if run.open or run.state in _OK_STATES:
        return EXIT_OK
    return EXIT_FAILED


def _quiet_logging() -> None:
    # The run's progress is printed from its audit entries; logs only for what goes wrong.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _when(epoch: float) -> str:
    return _local(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _local(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).astimezone()


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 16 else text[:12] + "…"
