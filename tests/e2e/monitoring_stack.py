"""A real Prometheus and a real Alertmanager on 127.0.0.1, for the end-to-end tests.

Both are the Debian packages' binaries (``prometheus``, ``prometheus-alertmanager``; .ci/run
installs them), started as child processes with their own configuration and storage under a
temporary directory, on free loopback ports, with second-scale intervals. Each runs in its own
process group and is stopped (SIGTERM, then SIGKILL) when its context ends, whatever happened.

Every wait here is bounded and polls the real thing (``/-/ready``, the query API), with the
tail of the process's log in the failure message: on a slow machine the message, not a
timeout alone, has to say what went wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

PROMETHEUS = Path("/usr/bin/prometheus")
ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
START_TIMEOUT_S = 60.0
POLL_S = 0.1

T = TypeVar("T")


def missing_binaries(*binaries: Path) -> str | None:
    """Why the stack cannot run here, or None when every binary is installed."""
    absent = [str(b) for b in binaries if not os.access(b, os.X_OK)]
    if not absent:
        return None
    return (
        f"{', '.join(absent)} not installed (Debian packages prometheus and "
        "prometheus-alertmanager; .ci/run installs them)"
    )


class StackError(AssertionError):
    """A component did not start or did not behave; the message carries its log tail."""


def wait_for(
    check: Callable[[], T | None], *, timeout: float, what: str, details: Callable[[], str]
) -> T:
    """Poll ``check`` until it returns something other than None, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise StackError(f"{what} not within {timeout:g}s\n{details()}")
        time.sleep(POLL_S)


def get_json(url: str, *, timeout: float = 2.0) -> Any:
    """The JSON body of ``url``, or None when it cannot be had (down, not ready, not JSON)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


class Process:
    """A child process in its own process group, with its output in ``log``."""

    def __init__(self, name: str, command: list[str], *, log: Path, cwd: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.popen.poll() is None

    def describe(self) -> str:
        state = "running" if self.running() else f"exited with {self.popen.returncode}"
        return f"{self.name} ({state}), last lines of {self.log}:\n{tail(self.log)}"

    def stop(self, *, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=timeout)
        # Anything it left in its group (none expected) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)


class Prometheus:
    """A running Prometheus; ``query`` and ``alerts`` read its HTTP API."""

    def __init__(self, process: Process, port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def query(self, promql: str) -> dict[str, Any] | None:
        """The ``data`` of an instant query, or None when Prometheus did not answer it."""
        answer = get_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        if not isinstance(answer, dict) or answer.get("status") != "success":
            return None
        data = answer.get("data")
        return data if isinstance(data, dict) else None

    def vector(self, promql: str) -> list[tuple[dict[str, str], float]]:
        data = self.query(promql)
        if data is None or data.get("resultType") != "vector":
            return []
        return [(s["metric"], float(s["value"][1])) for s in data["result"]]

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing) as ``/api/v1/alerts`` lists them."""
        answer = get_json(f"{self.url}/api/v1/alerts")
        if not isinstance(answer, dict):
            return []
        return list(answer.get("data", {}).get("alerts", []))

    def wait_for(self, check: Callable[[], T | None], *, timeout: float, what: str) -> T:
        return wait_for(check, timeout=timeout, what=what, details=self.process.describe)


class Alertmanager:
    def __init__(self, process: Process, port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def alerts(self) -> list[dict[str, Any]]:
        answer = get_json(f"{self.url}/api/v2/alerts")
        return list(answer) if isinstance(answer, list) else []


def prometheus_config(
    *,
    scrape: dict[str, list[str]],
    alertmanager_port: int | None = None,
    labels: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A prometheus.yml: every 1 s, ``scrape`` = job -> targets, optional alerting."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [
                    {
                        "targets": targets,
                        **({"labels": labels[job]} if labels and job in labels else {}),
                    }
                ],
            }
            for job, targets in scrape.items()
        ],
    }
    if alertmanager_port is not None:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        }
    return config


@contextlib.contextmanager
def prometheus(
    directory: Path, *, port: int, config: dict[str, Any], rules: dict[str, Any] | None = None
) -> Iterator[Prometheus]:
    """Prometheus with ``config`` (and ``rules.yml`` from ``rules``), ready to query."""
    directory.mkdir(parents=True, exist_ok=True)
    if rules is not None:
        (directory / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
        config = {**config, "rule_files": [str(directory / "rules.yml")]}
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    process = Process(
        "prometheus",
        [
            str(PROMETHEUS),
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # The first alert goes out as soon as it fires; the default 1m only delays resends.
            "--rules.alert.resend-delay=1s",
            "--log.level=info",
        ],
        log=directory / "prometheus.log",
        cwd=directory,
    )
    server = Prometheus(process, port)
    try:
        server.wait_for(
            lambda: True if answers_200(f"{server.url}/-/ready") else None,
            timeout=START_TIMEOUT_S,
            what="prometheus ready",
        )
        yield server
    finally:
        process.stop()


@contextlib.contextmanager
def alertmanager(directory: Path, *, port: int, config: dict[str, Any]) -> Iterator[Alertmanager]:
    """Alertmanager with ``config``, clustering off, ready to receive alerts."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    process = Process(
        "alertmanager",
        [
            str(ALERTMANAGER),
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # one instance: no gossip, no peers to wait for
            "--log.level=info",
        ],
        log=directory / "alertmanager.log",
        cwd=directory,
    )
    server = Alertmanager(process, port)
    try:
        wait_for(
            lambda: True if answers_200(f"{server.url}/-/ready") else None,
            timeout=START_TIMEOUT_S,
            what="alertmanager ready",
            details=process.describe,
        )
        yield server
    finally:
        process.stop()
