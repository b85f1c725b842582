"""``rollsafe run`` as a production process: its log, its exit when it cannot serve, and
secrets that are missing from its environment.

Real ``rollsafe run`` processes, standard error a pipe (not a terminal), as under systemd,
Docker or Kubernetes.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from rollsafe.interfaces.cli import context

ROLLSAFE = [sys.executable, "-m", "rollsafe.interfaces.cli.main"]
PLAIN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def _config(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        f"state_dir: state\nserver: {{address: 127.0.0.1, port: {port}}}\n"
        "targets:\n  - id: web-1\n" + extra
    )
    return path


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROLLSAFE, *args],
        capture_output=True,
        text=True,
        timeout=120,  # a bound on a broken build, not a measure: it exits within seconds
        env={**os.environ, "COLUMNS": "80", **(env or {})},
        check=False,
    )


def test_a_taken_port_stops_run_with_a_reason_and_plain_one_line_logs(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run("run", "-c", str(_config(tmp_path, port)))
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    lines = done.stderr.splitlines()
    logged = [line for line in lines if not line.startswith("error:")]
    assert logged, done.stderr
    for line in logged:
        assert PLAIN.match(line), line  # one event per line, never a wrapped rich block
    assert any(f"cannot listen on 127.0.0.1:{port}" in line for line in logged)
    assert lines[-1].startswith("error: ")


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run("run", "-c", str(_config(tmp_path, port)), "--log-format", "json")
        # --log-level error keeps the info lines out.
        quiet = _run(
            "run", "-c", str(_config(tmp_path, port)), "--log-format", "json",
            "--log-level", "error",
        )  # fmt: skip
    assert done.returncode == 1
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert events
    for event in events:
        assert {"time", "level", "logger", "message"} <= set(event)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"])
    assert events[-1]["level"] == "error"
    assert f"127.0.0.1:{port}" in events[-1]["message"]
    assert quiet.returncode == 1
    assert {json.loads(line)["level"] for line in quiet.stderr.splitlines()} == {"error"}


def test_a_missing_secret_is_a_config_error_before_anything_is_created(tmp_path: Path) -> None:
    intake = (
        "intake:\n"
        "  - name: hook\n"
        "    kind: generic\n"
        "    target_label: host\n"
        "    auth: {kind: hmac, secret_env: ROLLSAFE_TEST_UNSET_SECRET}\n"
    )
    config = _config(tmp_path, 0, intake)
    env = {"ROLLSAFE_TEST_UNSET_SECRET": ""}
    checked = _run("config", "check", str(config), env=env)
    assert checked.returncode == context.EXIT_ERROR
    assert (
        f"{config}:9: intake[0].auth.secret_env: environment variable "
        "ROLLSAFE_TEST_UNSET_SECRET is not set or empty"
    ) in " ".join(checked.stderr.split())
    ran = _run("run", "-c", str(config), env=env)
    assert ran.returncode == context.EXIT_ERROR
    assert "ROLLSAFE_TEST_UNSET_SECRET" in ran.stderr
    assert not (tmp_path / "state").exists()
    # Set, the same file checks out.
    assert (
        _run("config", "check", str(config), env={"ROLLSAFE_TEST_UNSET_SECRET": "k"}).returncode
        == 0
    )
