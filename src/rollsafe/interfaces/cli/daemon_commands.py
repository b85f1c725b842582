"""``rollsafe run`` (the daemon) and ``rollsafe status`` (what it sees, from the store).

``status --json`` prints one object: ``{"generated_at": float, "targets": [TargetStatus]}``
where TargetStatus is ``{"id", "address", "labels", "driver", "state" (ok|warning|critical|
unknown), "quarantined", "quarantine_reason", "worst" (Decision|null), "decisions"
[Decision], "open_run" (Run|null)}``; see docs/cli.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

import typer
from rich import markup
from rich.console import Console
from rich.table import Table

from rollsafe.interfaces.cli import config_commands, context
from rollsafe.storage import repositories

_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "unknown": "dim"}


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("status")(status)


def run(
    config: Path = typer.Option(..., "--config", "-c", help="rollsafe.yaml"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging"),
    log_format: str = typer.Option(
        "auto",
        "--log-format",
        help="auto (rich on a terminal, else plain), plain (one line per event), json, rich",
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error"),
) -> None:
    """Run the controller: probes, judge, rollback runs, audit, and the HTTP API (webhook
    intake, /healthz) unless `server.enabled` is false. Ctrl-C stops it cleanly.

    Exits 2 before anything is created when the configuration is invalid or a secret it
    names (``*_env``) is not set; exits 1 when the controller (or its API) cannot run."""
    from rollsafe.domain import errors
    from rollsafe.interfaces.api import hosting
    from rollsafe.interfaces.cli import logs
    from rollsafe.runtime import daemon

    if log_format not in logs.FORMATS:
        context.fail(f"--log-format: {log_format!r} (expected one of {', '.join(logs.FORMATS)})")
    if log_level not in logs.LEVELS:
        context.fail(f"--log-level: {log_level!r} (expected one of {', '.join(logs.LEVELS)})")
    loaded = config_commands.load_or_exit(config, require_secrets=True)
    logs.configure(fmt=log_format, level="debug" if verbose else log_level)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        controller = daemon.Daemon(loaded)
        try:
            await hosting.run_controller(controller, stop)
        except (daemon.ControllerBusy, errors.ConfigError, hosting.ApiFailed) as exc:
            logging.getLogger("rollsafe").error("cannot run: %s", exc)  # noqa: TRY400
            if log_format != "json":  # a JSON log stays JSON to its last line
                Console(stderr=True, highlight=False, soft_wrap=True).print(
                    f"[red]error:[/] {markup.escape(str(exc))}"
                )
            return 1
        return 1 if controller.failed else 0

    raise typer.Exit(asyncio.run(main()))


def status(
    config: Path | None = typer.Option(None, "--config", "-c", help="rollsafe.yaml"),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Overrides the config's"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Targets, their latest decisions with evidence, and open rollback runs."""
    store = context.open_store_from(config, state_dir, must_exist=True)
    try:
        report = _status_report(store)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    table = Table(title="rollsafe status")
    for column in ("target", "state", "rule", "evidence", "run"):
        table.add_column(column)
    for t in report["targets"]:
        worst = t["worst"] or {}
        run = t["open_run"]
        state = "quarantined" if t["quarantined"] else t["state"]
        table.add_row(
            t["id"],
            f"[{_STYLE.get(t['state'], '')}]{state}[/]",
            worst.get("rule", ""),
            worst.get("summary", ""),
            f"{run['id']} {run['state']}" if run else "",
        )
    Console().print(table)
    leader = report.get("leader")
    if leader is not None:
        who = leader["holder"] if leader["live"] else "nobody (lease expired)"
        Console().print(f"leader: {who}, fencing token {leader['token']}")


def _leader_report(store: Any, now: float) -> dict[str, Any] | None:
    """Who leads the replicas sharing this store (None: no replica ever used the lease)."""
    lease = store.lease(repositories.LEADER_LEASE)
    if lease is None:
        return None
    return {
        "holder": lease.holder,
        "token": lease.token,
        "expires_at": lease.expires_at,
        "live": lease.live(now),
    }


def _status_report(store: Any) -> dict[str, Any]:
    latest = store.latest_decisions()
    open_runs = {r.target: r for r in store.list_runs(open_only=True)}
    targets = []
    for record in store.list_targets():
        decisions = sorted(latest.get(record.id, []), key=lambda d: (-d.severity, d.rule))
        worst = decisions[0] if decisions else None
        run = open_runs.get(record.id)
        targets.append(
            {
                "id": record.id,
                "address": record.address,
                "labels": record.labels,
                "driver": record.driver,
                "state": worst.severity.label if worst else "unknown",
                "quarantined": record.quarantined,
                "quarantine_reason": record.quarantine_reason,
                "worst": worst.to_json() if worst else None,
                "decisions": [d.to_json() for d in decisions],
                "open_run": run.to_json() if run else None,
            }
        )
    now = time.time()
    return {"generated_at": now, "targets": targets, "leader": _leader_report(store, now)}
