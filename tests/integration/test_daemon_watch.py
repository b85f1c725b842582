"""A target just upgraded is probed closely: ``rollsafe run`` watches it after the mark.

A real HTTP service (thread) is probed by a real ``rollsafe run`` process with an hour-long
interval, so in steady state it is left alone for the whole test. An upgrade mark stored for
it (what ``rollsafe upgrade`` and rollouts write) must make the daemon probe it at once and
then every ``policy.watch_interval``.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from rollsafe.domain import observations
from rollsafe.storage import sql

ROLLSAFE = [sys.executable, "-m", "rollsafe.interfaces.cli.main"]


class _Counted(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        self.hits = 0
        self.third_hit = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                if server.hits >= 3:
                    server.third_hit.set()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return None

        super().__init__(("127.0.0.1", 0), Handler)


def test_an_upgrade_mark_puts_its_target_under_close_watch(tmp_path: Path) -> None:
    service = _Counted()
    thread = threading.Thread(target=service.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        f"""
state_dir: state
policy:
  dry_run: true
  watch_after_upgrade: 10m
  watch_interval: 200ms
targets:
  - id: app-1
    vars: {{port: {service.server_address[1]}}}
probes:
  - name: http
    kind: http
    url: "http://{{address}}:{{port}}/health"
    interval: 1h
    timeout: 2s
"""
    )
    proc = subprocess.Popen(
        [*ROLLSAFE, "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        store = sql.open_store(tmp_path / "state")
        # The daemon migrated the store and started; no probe is due within the hour.
        store.add_observations(
            [
                observations.Observation(
                    time=time.time(), target="app-1", source="mark:upgrade", value=1.0
                )
            ]
        )
        assert service.third_hit.wait(timeout=60), f"only {service.hits} probe(s) after the mark"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        service.shutdown()
        service.server_close()
