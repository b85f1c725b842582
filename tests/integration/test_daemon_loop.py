"""The daemon against real local services: decisions change when a service breaks and heals.

A real HTTP server (thread) and a real log file stand in for a host; ``rollsafe run`` runs as a
real process; ``rollsafe status --json`` reads what it decided from the store.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROLLSAFE = [sys.executable, "-m", "rollsafe.interfaces.cli.main"]


class _Service:
    """A real HTTP server whose health can be flipped, writing a real log file."""

    def __init__(self, log_path: Path) -> None:
        self.broken = False
        self.log_path = log_path
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status = 500 if service.broken else 200
                with service.log_path.open("a") as log:
                    level = "ERROR" if service.broken else "INFO"
                    log.write(f"2026-11-27 10:00:00 {level} GET {self.path} -> {status}\n")
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"boom")

            def log_message(self, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service(tmp_path: Path):
    svc = _Service(tmp_path / "app.log")
    svc.log_path.write_text("")
    yield svc
    svc.close()


def _write_config(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        f"""
state_dir: state
server: {{port: 0}}  # a free port: other tests' daemons may run beside this one
policy:
  dry_run: true          # decide and audit, do not act: this test is about detection
targets:
  - id: app-1
    vars: {{port: {port}}}
probes:
  - name: http
    kind: http
    url: "http://{{address}}:{{port}}/health"
    interval: 200ms
    timeout: 2s
  - name: errors
    kind: log
    path: "{tmp_path}/app.log"
    presets: [app_error]
    interval: 200ms
rules:
  - id: http-5xx
    kind: ratio
    probe: http
    when: {{field: status, op: ">=", value: 500}}
    window: 2s
    above: 0.5
    min_samples: 3
  - id: log-errors
    kind: rate
    probe: errors
    window: 2s
    per: 1m
    above: 10
  - id: broken
    kind: all
    severity: critical
    rules: [http-5xx, log-errors]
"""
    )
    return config


def _status(config: Path) -> dict:
    out = subprocess.run(
        [*ROLLSAFE, "status", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def _wait_for_state(config: Path, state: str, *, deadline: float = 60.0) -> dict:
    end = time.monotonic() + deadline
    last: dict = {}
    while time.monotonic() < end:
        try:
            last = _status(config)
        except subprocess.CalledProcessError:
            last = {}
        targets = last.get("targets", [])
        if targets and targets[0]["state"] == state:
            return targets[0]
        time.sleep(0.3)
    raise AssertionError(f"target never became {state}; last status: {last}")


@pytest.mark.slow
def test_run_decides_critical_when_service_breaks_and_ok_when_it_heals(tmp_path, service):
    config = _write_config(tmp_path, service.port)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*ROLLSAFE, "run", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        healthy = _wait_for_state(config, "ok")
        assert healthy["worst"]["severity"] == "ok"

        service.broken = True
        broken = _wait_for_state(config, "critical")
        assert broken["worst"]["rule"] == "broken"
        children = broken["worst"]["evidence"]
        assert children, "a critical decision carries its evidence"

        service.broken = False
        _wait_for_state(config, "ok")
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output

    audit = subprocess.run(
        [*ROLLSAFE, "audit", "verify", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    shown = subprocess.run(
        [*ROLLSAFE, "audit", "show", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    actions = [e["action"] for e in json.loads(shown.stdout)]
    assert "decision.critical" in actions
    # dry_run: the critical decision is audited as a run that did nothing
    runs = subprocess.run(
        [*ROLLSAFE, "runs", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    states = [r["state"] for r in json.loads(runs.stdout)]
    assert states
    assert set(states) == {"dry_run"}
