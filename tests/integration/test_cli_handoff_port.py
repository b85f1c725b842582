"""Real processes: ``rollout start --json`` handed to a running controller, ``run --port``,
``config check -c``.

A controller is "running" when it holds the state directory's controller lock; the test takes
that real lock (``flock``) as a daemon would, so the CLI really takes the hand-off path.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rollsafe.runtime import locking

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))

CONFIG = """\
version: 1
state_dir: ./state
server: {{port: {port}}}
targets:
  - {{id: web-1, driver: release}}
  - {{id: web-2, driver: release}}
probes:
  - {{name: up, kind: tcp, port: 1, interval: 5s}}
rules:
  - {{id: down, kind: threshold, probe: up, field: status, op: "==", value: 0}}
drivers:
  - {{name: release, kind: local, rollback: "true", upgrade: "true"}}
rollouts:
  - {{name: shop, waves: [1, 100%], bake: 1s}}
"""


def write_config(tmp_path: Path, *, port: int = 8787) -> Path:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(CONFIG.format(port=port), encoding="utf-8")
    (tmp_path / "state").mkdir(exist_ok=True)
    return path


def rollsafe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROLLSAFE, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_rollout_start_json_prints_the_rollout_it_hands_to_the_running_daemon(tmp_path):
    config = write_config(tmp_path)
    daemon = locking.ControllerLock(tmp_path / "state", role="daemon")
    assert daemon.try_acquire()
    try:
        result = rollsafe("rollout", "start", "shop", "-c", str(config), "--json")
    finally:
        daemon.release()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # one JSON document, nothing else on stdout
    assert summary["rollout"]["plan"] == "shop"
    assert summary["rollout"]["state"] == "pending"
    assert summary["driven_by_pid"] == os.getpid()
    assert summary["counts"] == {"pending": 2}


def test_config_check_takes_the_file_as_minus_c_or_as_argument(tmp_path):
    config = write_config(tmp_path)
    for args in (["-c", str(config)], ["--config", str(config)], [str(config)]):
        result = rollsafe("config", "check", *args)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout == "ok: 2 targets, 1 probe, 1 rule, 1 driver\n"
    assert rollsafe("config", "check").returncode == 2  # no file: a usage error
    other = tmp_path / "other.yaml"
    other.write_text("targets: []\n", encoding="utf-8")
    both = rollsafe("config", "check", str(config), "-c", str(other))
    assert both.returncode == 2
    assert "two different files" in both.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthz(port: int, proc: subprocess.Popen[str]) -> dict[str, object]:
    """/healthz of the controller on ``port``, once it answers (it is starting up)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"rollsafe run exited {proc.returncode}: {proc.communicate()[1]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                return dict(json.load(answer))
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"no API on port {port}")


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode


@pytest.mark.slow
def test_run_listens_on_the_port_of_the_flag_or_the_environment(tmp_path):
    # The configured port is taken (another replica on this host): each replica is given its
    # own, by flag or by environment, and the file stays shared.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_config(tmp_path, port=taken.getsockname()[1])
        by_flag, by_env = free_port(), free_port()
        env = {**os.environ, "ROLLSAFE_API_PORT": str(by_env)}
        for args, port, environ in (
            (["--port", str(by_flag)], by_flag, None),
            ([], by_env, env),
            (["--port", str(by_flag)], by_flag, env),  # the flag wins
        ):
            proc = subprocess.Popen(
                [ROLLSAFE, "run", "-c", str(config), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=environ,
            )
            try:
                assert "daemon" in healthz(port, proc)
            finally:
                assert stop(proc) == 0
    bad = rollsafe("run", "-c", str(config), "--port", "70000")
    assert bad.returncode == 2
