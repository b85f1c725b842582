"""A target just upgraded is probed closely: ``rollsafe run`` watches it after the mark.

A real HTTP service (thread) is probed by a real ``rollsafe run`` process with an hour-long
interval, so in steady state it is left alone for the whole test. An upgrade mark stored for
it (what ``rollsafe upgrade`` and rollouts write) must make the daemon probe it at once and
then every ``policy.watch_interval``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from rollsafe.domain import observations
from rollsafe.storage import sql
from support import counting_server

ROLLSAFE = [sys.executable, "-m", "rollsafe.interfaces.cli.main"]


def test_an_upgrade_mark_puts_its_target_under_close_watch(tmp_path: Path) -> None:
    service = counting_server.Counted()
    thread = threading.Thread(target=service.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        f"""
state_dir: state
server: {{port: 0}}  # a free port: other tests' daemons may run beside this one
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
