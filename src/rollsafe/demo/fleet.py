"""The demo fleet: N real service processes on 127.0.0.1, and the rollsafe.yaml watching them.

``build`` lays out a work directory::

    <workdir>/rollsafe.yaml      targets, probes, rules, the local driver, policy
    <workdir>/state/             rollsafe's state directory (SQLite store, restore points)
    <workdir>/hosts/web-1 ...    one directory per host (see ``rollsafe.demo.layout``)

``start`` starts every host in parallel through ``servicectl`` (the same command the driver
uses to restart a host), ``stop`` stops them all and then sweeps for anything left that
runs from the work directory, so no process outlives the demo.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

from rollsafe.demo import layout, releases, servicectl
from rollsafe.domain import errors

ADDRESS = "127.0.0.1"
CONFIG_FILE = "rollsafe.yaml"
STATE_DIR = "state"
DRIVER = "release"

# Names the scenario reads back from the store: keep them in one place.
HTTP_PROBE = "health"
LOG_PROBE = "app-log"
RATIO_RULE = "http-5xx-ratio"
RATE_RULE = "app-error-rate"
CRITICAL_RULE = "upgrade-failed"

_ITEM_NAMES = ("kettle", "lamp", "chair", "desk", "mug", "shelf", "rug", "clock", "vase", "fan")


class FleetError(errors.PermanentError):
    """The fleet could not be built, started or stopped; the message says which host and why."""


@dataclass(frozen=True, slots=True)
class Host:
    id: str
    root: Path
    port: int
    address: str = ADDRESS

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class Fleet:
    workdir: Path
    config_path: Path
    state_dir: Path
    hosts: tuple[Host, ...]
    rows: int

    def host(self, host_id: str) -> Host:
        for host in self.hosts:
            if host.id == host_id:
                return host
        raise KeyError(host_id)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports on 127.0.0.1 that were free a moment ago."""
    sockets: list[socket.socket] = []
    try:
        # Hold every socket until all are chosen, so the kernel cannot hand one out twice.
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((ADDRESS, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _seed_data(path: Path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)")
        db.executemany(
            "INSERT INTO items (id, name, price) VALUES (?, ?, ?)",
            [
                (i, f"{_ITEM_NAMES[i % len(_ITEM_NAMES)]}-{i}", round(4.5 + (i * 7) % 90, 2))
                for i in range(1, rows + 1)
            ],
        )
        db.commit()


def build(workdir: Path, *, hosts: int = 5, rows: int = 100) -> Fleet:
    """Lay out ``hosts`` hosts (good release, seeded data, empty log) and their config."""
    if hosts < 1:
        raise FleetError("a fleet needs at least one host")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    built: list[Host] = []
    for index, port in enumerate(free_ports(hosts), start=1):
        host = Host(id=f"web-{index}", root=workdir / "hosts" / f"web-{index}", port=port)
        host.root.mkdir(parents=True, exist_ok=False)
        layout.write_host(host.root, layout.HostInfo(host.id, host.address, host.port))
        releases.install(host.root / layout.RELEASE_DIR, releases.GOOD)
        _seed_data(host.root / layout.DATA_FILE, rows)
        for sub in (layout.LOG_FILE, layout.OUT_FILE):
            (host.root / sub).parent.mkdir(parents=True, exist_ok=True)
        (host.root / layout.LOG_FILE).touch()
        (host.root / layout.PID_FILE).parent.mkdir(parents=True, exist_ok=True)
        built.append(host)
    fleet = Fleet(
        workdir=workdir,
        config_path=workdir / CONFIG_FILE,
        state_dir=workdir / STATE_DIR,
        hosts=tuple(built),
        rows=rows,
    )
    fleet.config_path.write_text(render_config(fleet), encoding="utf-8")
    return fleet


def _servicectl(action: str, root: str) -> list[str]:
    # sys.executable: the driver must run the same Python (the venv's) as the demo.
    return [sys.executable, "-m", layout.CTL_MODULE, action, root]


def config_document(fleet: Fleet) -> dict[str, Any]:
    """The demo's rollsafe.yaml as data (``render_config`` adds the comments)."""
    return {
        "version": 1,
        "state_dir": STATE_DIR,
        "policy": {
            "approval": "auto",
            # A detector that cannot see raises a warning for a person, never a rollback.
            "no_data": "warning",
            "blind_after": 3,
            "max_concurrent_runs": 2,
            "max_rollbacks_per_target": 2,
            "verify_timeout": "30s",
            "step_timeout": "30s",
        },
        "targets": [
            {
                "id": h.id,
                "address": h.address,
                "labels": {"role": "web", "service": "shop-api"},
                "driver": DRIVER,
                "vars": {"root": str(h.root), "port": h.port},
            }
            for h in fleet.hosts
        ],
        "probes": [
            {
                "name": HTTP_PROBE,
                "kind": "http",
                "url": "http://{address}:{port}/health",
                "interval": "500ms",
                "timeout": "2s",
            },
            {"name": "port", "kind": "tcp", "port": "{port}", "interval": "1s", "timeout": "2s"},
            {
                "name": LOG_PROBE,
                "kind": "log",
                "path": "{root}/" + layout.LOG_FILE,
                "presets": ["app_error"],
                "interval": "500ms",
                "timeout": "2s",
            },
            {
                "name": "items-rows",
                "kind": "data",
                "url": "sqlite:///{root}/" + layout.DATA_FILE,
                "query": "SELECT count(*) FROM items",
                "interval": "2s",
                "timeout": "2s",
            },
            {
                "name": "data-file",
                "kind": "data",
                "file": "{root}/" + layout.DATA_FILE,
                "interval": "2s",
                "timeout": "2s",
            },
        ],
        "rules": [
            {
                "id": RATIO_RULE,
                "kind": "ratio",
                "severity": "warning",
                "description": "more than 20% of health checks answered 5xx in the last 5s",
                "probe": HTTP_PROBE,
                "when": {"field": "status", "op": ">=", "value": 500},
                "window": "5s",
                "above": 0.2,
                "min_samples": 6,
            },
            {
                "id": RATE_RULE,
                "kind": "rate",
                "severity": "warning",
                "description": "application ERROR lines above 18 per minute over the last 5s",
                "probe": LOG_PROBE,
                "window": "5s",
                "per": "1m",
                "above": 18,
            },
            {
                "id": CRITICAL_RULE,
                "kind": "all",
                "severity": "critical",
                "description": "5xx ratio and log errors agree: the upgrade failed, roll back",
                "rules": [RATIO_RULE, RATE_RULE],
            },
        ],
        "drivers": [
            {
                "name": DRIVER,
                "kind": "local",
                "directory": "{root}/" + layout.RELEASE_DIR,
                "upgrade": _servicectl("upgrade", "{root}"),
                "restart": _servicectl("restart", "{root}"),
                "step_timeout": "30s",
            }
        ],
    }


_HEADER = """\
# rollsafe demo fleet: generated by `rollsafe demo`.
#
# {hosts} hosts on 127.0.0.1, each a real process with its own directory, port, log file and
# SQLite data file. The rules cross-validate two independent signals: the share of health
# checks answering 5xx, and the rate of ERROR lines in the application log. Either one alone
# is a warning (notify); both together are critical (roll back with the `release` driver,
# which restores the host's release directory and restarts the service).
#
# Try it yourself:  rollsafe config check {config}
"""


def render_config(fleet: Fleet) -> str:
    doc = config_document(fleet)
    header = _HEADER.format(hosts=len(fleet.hosts), config=fleet.config_path)
    # One top-level key at a time, so the file reads in the order a person would write it.
    sections = [
        yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=100)
        for key, value in doc.items()
    ]
    return "\n".join([header, *sections])


def _start_one(host: Host, timeout: float) -> None:
    try:
        servicectl.start(host.root, timeout=timeout)
    except servicectl.ServiceControlError as exc:
        raise FleetError(f"{host.id}: {exc}") from exc


def start(fleet: Fleet, *, timeout: float = servicectl.START_TIMEOUT_S) -> None:
    """Start every host in parallel; raises FleetError naming each host that did not start."""
    with futures.ThreadPoolExecutor(max_workers=min(8, len(fleet.hosts))) as pool:
        jobs = {pool.submit(_start_one, h, timeout): h for h in fleet.hosts}
        problems = [str(job.exception()) for job in jobs if job.exception() is not None]
    if problems:
        raise FleetError("; ".join(problems))


def leftover_processes(
    workdir: Path, *, modules: tuple[str, ...] = (layout.SERVICE_MODULE, layout.CTL_MODULE)
) -> list[psutil.Process]:
    """Live processes running one of ``modules`` whose command line names ``workdir``."""
    needle = str(workdir.resolve())
    # Never ourselves or whoever started us (a shell running `rollsafe demo --workdir ...`).
    me = psutil.Process()
    spared = {me.pid, *(p.pid for p in me.parents())}
    found = []
    for proc in psutil.process_iter():
        if proc.pid in spared:
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            cmdline = proc.cmdline()
        except psutil.Error:
            continue
        ours = any(part in modules for part in cmdline)
        if ours and any(needle in part for part in cmdline):
            found.append(proc)
    return found


def stop(fleet: Fleet, *, timeout: float = 10.0) -> list[int]:
    """Stop every host, then kill anything still running from the work directory.

    Safe to call more than once and on a half-started fleet. Returns the pids stopped.
    """
    # Control commands first: a `servicectl restart` caught halfway must not start a service
    # after the hosts were stopped.
    stopped = _sweep(fleet.workdir, timeout=timeout, modules=(layout.CTL_MODULE,))
    with futures.ThreadPoolExecutor(max_workers=min(8, max(1, len(fleet.hosts)))) as pool:
        for pids in pool.map(lambda h: servicectl.stop(h.root, timeout=timeout), fleet.hosts):
            stopped.extend(pids)
    # Whatever servicectl could not account for (a pid file lost mid-restart, a service
    # started by hand): found by the work directory in its command line, killed by pid.
    stopped.extend(_sweep(fleet.workdir, timeout=timeout))
    return stopped


def _sweep(
    workdir: Path,
    *,
    timeout: float,
    modules: tuple[str, ...] = (layout.SERVICE_MODULE, layout.CTL_MODULE),
) -> list[int]:
    procs = leftover_processes(workdir, modules=modules)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
    alive = servicectl.wait_gone(procs, timeout=timeout / 2)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    servicectl.wait_gone(alive, timeout=timeout / 2)
    return [p.pid for p in procs]


def health(host: Host, *, timeout: float = 2.0) -> dict[str, Any] | None:
    """The host's /health answer, or None if it did not answer 200."""
    try:
        with urllib.request.urlopen(f"{host.url}/health", timeout=timeout) as resp:  # noqa: S310
            data = json.loads(resp.read())
            return data if isinstance(data, dict) else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def wait_healthy(hosts: Sequence[Host], *, timeout: float = 10.0) -> list[str]:
    """Ids of hosts still not answering /health with 200 after ``timeout`` (empty: all up)."""
    deadline = time.monotonic() + timeout
    pending = list(hosts)
    while pending and time.monotonic() < deadline:
        pending = [h for h in pending if health(h) is None]
        if pending:
            time.sleep(0.1)
    return [h.id for h in pending]
