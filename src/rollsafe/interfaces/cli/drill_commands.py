"""``rollsafe drill TARGET``: prove on a real target that a rollback works, before it is needed.

A drill really upgrades and rolls back: checkpoint -> precheck -> upgrade -> every rollback
step -> verify (the driver's own check, when it has one, such as the host driver's recipe
verify; then the same health verification a run uses, when probes select the target or the
restore point records data checks). Each step is printed with its duration and outcome and
audited (``drill.started``, ``drill.step``, ``drill.finished``, and ``driver.api_call`` for
every command or API call the driver makes). A failed upgrade is still rolled back: the
target may be half upgraded. Works with every driver.

Refused without ``--yes`` unless the target is labelled ``drill: "true"``. Exit codes: 0 every
step succeeded; 1 a step failed; 2 usage or configuration error. ``--json`` prints
``{"drill", "target", "ok", "restore_point", "steps": [{"step", "outcome", "duration",
"detail"}]}``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import markup
from rich.console import Console
from rich.table import Table

from rollsafe.config import loading, models
from rollsafe.domain import audit_events, clocks, errors, ids, restore_points
from rollsafe.execute import driving
from rollsafe.interfaces.cli import config_commands, context, tables
from rollsafe.runtime import assembly
from rollsafe.storage import repositories
from rollsafe.verify import checkpoints

__all__ = ["register"]

EXIT_OK = 0
EXIT_FAILED = 1
DRILL_LABEL = "drill"
_DETAIL_CHARS = 2000


def register(app: typer.Typer) -> None:
    """Add ``drill`` to the top-level app."""
    app.command("drill")(drill)


@dataclass(slots=True)
class StepReport:
    step: str
    outcome: str  # "ok", "failed", "skipped"
    duration: float
    detail: str


def drill(
    target: Annotated[str, typer.Argument(help="The target to upgrade and roll back")],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="rollsafe.yaml (targets, drivers, state_dir)")
    ],
    yes: Annotated[
        bool,
        typer.Option("--yes", help='Drill even though the target is not labelled drill: "true"'),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Checkpoint, upgrade, roll back and verify TARGET for real, timing every step."""
    loaded = config_commands.load_or_exit(config)
    try:
        chosen = loaded.config.target(target)
    except KeyError:
        known = ", ".join(t.id for t in loaded.config.targets) or "none"
        context.fail(f"unknown target {target!r} (known: {known})")
    if not yes and chosen.labels.get(DRILL_LABEL) != "true":
        context.fail(
            f"a drill really upgrades and rolls back {target}: pass --yes, or label the target "
            f'{DRILL_LABEL}: "true" if it is meant for drills'
        )
    if chosen.driver is None:
        context.fail(f"target {target} has no driver configured")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        driver = assembly.build_drivers(loaded.config, loaded.state_dir)[chosen.driver]
    except errors.ConfigError as exc:
        context.fail(str(exc))
    store = context.open_loaded_store(loaded)
    console = Console(highlight=False, soft_wrap=True)
    try:
        if store.list_runs(target=ids.TargetId(target), open_only=True, limit=1):
            context.fail(f"{target} has an open rollback run: no drill now", code=EXIT_FAILED)
        show = None if as_json else _printer(console)
        drill_id = f"drill-{secrets.token_hex(5)}"
        steps, point = asyncio.run(
            _drill(loaded, store, driver, chosen, drill_id=drill_id, show=show)
        )
    finally:
        store.close()
    ok = all(s.outcome == "ok" for s in steps)
    if as_json:
        print(
            json.dumps(
                {
                    "drill": drill_id,
                    "target": target,
                    "ok": ok,
                    "restore_point": point.id if point is not None else None,
                    "steps": [asdict(s) for s in steps],
                },
                indent=2,
            )
        )
    else:
        tables.show(_table(steps), console=console)
        verdict = "[green]drill passed[/]" if ok else "[bold red]drill FAILED[/]"
        console.print(f"{verdict} ({drill_id}, {sum(s.duration for s in steps):.1f}s)")
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)


async def _drill(
    loaded: loading.LoadedConfig,
    store: repositories.Store,
    driver: driving.Driver,
    target: models.Target,
    *,
    drill_id: str,
    show: Callable[[StepReport], None] | None,
) -> tuple[list[StepReport], restore_points.RestorePoint | None]:
    actor = _actor()
    clock = clocks.SystemClock()

    def audit(
        action: str, *, details: Mapping[str, Any], result: str = "", reason: str = ""
    ) -> None:
        store.append_audit(
            audit_events.AuditEntry(
                time=time.time(),
                actor=actor,
                action=action,
                target=target.id,
                reason=reason,
                details={"drill": drill_id, **details},
                result=result,
            )
        )

    def record(operation: str, details: Mapping[str, Any]) -> None:
        audit("driver.api_call", details={"operation": operation, **details})

    steps: list[StepReport] = []

    async def step(name: str, action: Callable[[], Awaitable[str]]) -> bool:
        started = time.monotonic()
        try:
            detail = await action()
            outcome = "ok"
        except errors.RollsafeError as exc:
            detail, outcome = str(exc), "failed"
        report = StepReport(
            step=name,
            outcome=outcome,
            duration=round(time.monotonic() - started, 3),
            detail=detail[-_DETAIL_CHARS:],
        )
        steps.append(report)
        audit(
            "drill.step",
            details={"step": name, "duration": report.duration, "detail": report.detail},
            result=outcome,
        )
        if show is not None:
            show(report)
        return outcome == "ok"

    audit("drill.started", details={"driver": driver.name})
    token = driving.recording_api_calls(record)
    point: restore_points.RestorePoint | None = None
    try:

        async def take() -> str:
            nonlocal point
            point = await checkpoints.take_checkpoint(
                config=loaded.config,
                target_id=target.id,
                store=store,
                driver=driver,
                clock=clock,
                label=f"drill {drill_id}",
                actor=actor,
            )
            return f"restore point {point.id}"

        if await step("checkpoint", take) and point is not None:
            taken: restore_points.RestorePoint = point

            async def precheck() -> str:
                await driver.precheck(target, taken)
                return "restore point usable"

            if await step("precheck", precheck):
                # Even a failed upgrade may have changed the target: roll back all the same.
                await step("upgrade", lambda: driver.upgrade(target, key=f"{drill_id}:upgrade"))
                await _roll_back_and_verify(
                    loaded, driver, target, taken, drill_id=drill_id, step=step, clock=clock
                )
    finally:
        driving.reset_api_calls(token)
        close = getattr(driver, "close", None)
        if callable(close):
            await close()
    ok = all(s.outcome == "ok" for s in steps)
    audit(
        "drill.finished",
        details={
            "restore_point": point.id if point is not None else None,
            "steps": [asdict(s) for s in steps],
        },
        result="ok" if ok else "failed",
    )
    return steps, point


async def _roll_back_and_verify(
    loaded: loading.LoadedConfig,
    driver: driving.Driver,
    target: models.Target,
    point: restore_points.RestorePoint,
    *,
    drill_id: str,
    step: Callable[[str, Callable[[], Awaitable[str]]], Awaitable[bool]],
    clock: clocks.Clock,
) -> None:
    for name in driver.rollback_steps(target, point):

        def one(name: str = name) -> Awaitable[str]:
            return driver.rollback(target, point, step=name, key=f"{drill_id}:{name}")

        if not await step(f"rollback:{name}", one):
            return
    own_verify = getattr(driver, "verify", None)
    if callable(own_verify):

        async def recipe_verify() -> str:
            return str(await own_verify(target, point))

        await step("verify:driver", recipe_verify)

    async def health() -> str:
        outcome = await assembly.build_verifier(loaded.config, clock=clock).verify(target, point)
        if not outcome.ok:
            raise errors.VerificationFailed(outcome.summary)
        return outcome.summary

    await step("verify:health", health)


def _table(steps: list[StepReport]) -> Table:
    table = Table(title="drill")
    table.add_column("step")
    table.add_column("outcome")
    table.add_column("duration", justify="right")
    table.add_column("detail", overflow="fold")
    styles = {"ok": "green", "failed": "bold red", "skipped": "yellow"}
    for s in steps:
        table.add_row(
            s.step,
            f"[{styles.get(s.outcome, '')}]{s.outcome}[/]",
            f"{s.duration:.2f}s",
            markup.escape(s.detail.strip().splitlines()[-1] if s.detail.strip() else ""),
        )
    return table


def _printer(console: Console) -> Callable[[StepReport], None]:
    def show(report: StepReport) -> None:
        console.print(
            f"{markup.escape(report.step)}: {report.outcome} in {report.duration:.2f}s",
            style="green" if report.outcome == "ok" else "red",
        )

    return show


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"
