"""``rollsafe run`` (the daemon) and ``rollsafe status`` (what it sees, from the store).

``status --json`` prints one object: ``{"generated_at": float, "targets": [TargetStatus]}``
where TargetStatus is ``{"id", "address", "labels", "driver", "state" (ok|warning|critical|
unknown), "quarantined", "quarantine_reason", "worst" (Decision|null), "decisions"
[Decision], "open_run" (Run|null)}``, ``"leader"`` (the replicas' lease or null) and
``"schema"``: the store's schema version (its Alembic revision), and ``"restore_points"``:
``{"points", "measured", "bytes", "unknown"}``, the disk the stored restore points take
where it can be measured on this machine (``restore_point_usage``); see docs/cli.md.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

# `status` is called by scripts, per host: the configuration models, the API server and the
# daemon are imported inside `run`, the only command here that needs them.
from rollsafe.interfaces.cli import context, restore_point_usage
from rollsafe.storage import repositories

if TYPE_CHECKING:  # the loader is imported inside `run` only
    from rollsafe.config import loading

PORT_ENV = "ROLLSAFE_API_PORT"
"""Overrides ``server.port`` for ``rollsafe run``, as ``--port`` does (the flag wins)."""

_COLOUR = {"ok": "green", "warning": "yellow", "critical": "red", "quarantined": "magenta"}


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
    port: int | None = typer.Option(
        None,
        "--port",
        envvar=PORT_ENV,
        min=0,
        max=65535,
        help="Listen on this API port instead of server.port (replicas on one host sharing "
        "one configuration file each take their own); 0 picks a free one",
        show_envvar=True,
    ),
) -> None:
    """Run the controller: probes, judge, rollback runs, audit, and the HTTP API.

    The API (webhook intake, /healthz, the dashboard) runs unless server.enabled is false.
    Ctrl-C or SIGTERM stops it cleanly. Exits 2 before anything is created when the
    configuration is invalid or a secret it names (*_env) is not set; exits 1 when the
    controller (or its API) cannot run."""
    import asyncio
    import logging
    import signal

    from rich import markup
    from rich.console import Console

    from rollsafe.domain import errors
    from rollsafe.interfaces.api import hosting
    from rollsafe.interfaces.cli import config_commands, logs
    from rollsafe.runtime import daemon, readiness

    if log_format not in logs.FORMATS:
        context.fail(f"--log-format: {log_format!r} (expected one of {', '.join(logs.FORMATS)})")
    if log_level not in logs.LEVELS:
        context.fail(f"--log-level: {log_level!r} (expected one of {', '.join(logs.LEVELS)})")
    loaded = with_port(config_commands.load_or_exit(config, require_secrets=True), port)
    logs.configure(fmt=log_format, level="debug" if verbose else log_level)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        controller = daemon.Daemon(loaded)
        # systemd (Type=notify) hears READY=1 once the loop runs and the API listens.
        listening = asyncio.Event()
        announcing = asyncio.create_task(
            readiness.announce(
                controller.ready,
                stop,
                listening=listening if loaded.config.server.enabled else None,
            ),
            name="readiness",
        )
        try:
            await hosting.run_controller(
                controller, stop, listening=lambda _host, _port: listening.set()
            )
        except (daemon.ControllerBusy, errors.ConfigError, hosting.ApiFailed) as exc:
            logging.getLogger("rollsafe").error("cannot run: %s", exc)  # noqa: TRY400
            if log_format != "json":  # a JSON log stays JSON to its last line
                Console(stderr=True, highlight=False, soft_wrap=True).print(
                    f"[red]error:[/] {markup.escape(str(exc))}"
                )
            return 1
        finally:
            stop.set()
            await announcing
            # Every connection closed, in-flight writes finished: a PostgreSQL server sees a
            # clean goodbye, not a socket dropped at exit.
            controller.store.close()
        return 1 if controller.failed else 0

    raise typer.Exit(asyncio.run(main()))


def with_port(loaded: loading.LoadedConfig, port: int | None) -> loading.LoadedConfig:
    """The configuration with its API port replaced by ``--port`` / ``ROLLSAFE_API_PORT``."""
    if port is None:
        return loaded
    server = loaded.config.server.model_copy(update={"port": port})
    return dataclasses.replace(loaded, config=loaded.config.model_copy(update={"server": server}))


def status(
    config: Path | None = typer.Option(None, "--config", "-c", help="rollsafe.yaml"),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Overrides the config's"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Targets, their latest decisions with evidence, and open rollback runs."""
    store = context.open_reader_from(config, state_dir)
    try:
        report = _status_report(store)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    rows = []
    for t in report["targets"]:
        worst = t["worst"] or {}
        run = t["open_run"]
        rows.append(
            (
                t["id"],
                "quarantined" if t["quarantined"] else t["state"],
                worst.get("rule", ""),
                worst.get("summary", ""),
                f"{run['id']} {run['state']}" if run else "",
            )
        )
    _print_table(("target", "state", "rule", "evidence", "run"), rows)
    leader = report.get("leader")
    if leader is not None:
        who = leader["holder"] if leader["live"] else "nobody (lease expired)"
        typer.echo(f"leader: {who}, fencing token {leader['token']}")
    typer.echo(f"store schema: {report['schema'] or 'not migrated'}")
    typer.echo(restore_point_usage.Usage(**report["restore_points"]).line())


def _print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Aligned columns, the state coloured on a terminal.

    Plain text rather than a rich Table: a fleet of thousands of targets is printed in
    milliseconds, where a rich Table measures and wraps every cell (a second per 1,000 rows).
    Nothing is cut: a long evidence line runs on, as in a log.
    """
    widths = [max([len(header[i]), *(len(row[i]) for row in rows)]) for i in range(len(header))]

    def line(cells: tuple[str, ...], state: str | None) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=True)]
        if state is not None:
            padded[1] = typer.style(padded[1], fg=_COLOUR.get(state), bold=state == "critical")
        return "  ".join(padded).rstrip()

    out = [line(header, None), "  ".join("-" * w for w in widths)]
    out.extend(line(row, row[1]) for row in rows)
    typer.echo("\n".join(out))


def _leader_report(store: context.StoreReads, now: float) -> dict[str, Any] | None:
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


def _status_report(store: context.StoreReads) -> dict[str, Any]:
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
    points = [point.data for point in store.list_restore_points(None)]
    return {
        "generated_at": now,
        "targets": targets,
        "leader": _leader_report(store, now),
        "schema": store.schema_version(),
        "restore_points": restore_point_usage.measure(points).to_json(),
    }
