"""``rollsafe run`` serves the API next to the daemon: alerts in over HTTP, Ctrl-C out.

Real processes and sockets: the controller is started as ``rollsafe run``, receives an
Alertmanager webhook on its configured port, decides, and stops cleanly on SIGINT. A port that
is taken stops a controller that has intake endpoints, with the address in the error.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest

ROLLSAFE = [sys.executable, "-m", "rollsafe.interfaces.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(tmp_path, port: int):
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            state_dir: state
            policy: {{dry_run: true}}
            server: {{port: {port}}}
            targets:
              - id: web-1
                address: 10.0.0.11
            intake:
              - name: am
                kind: alertmanager
                auth: {{kind: bearer, token_file: am.token}}
                target_label: instance
                strip_port: true
            rules:
              - id: am-firing
                kind: alert
                source: am
                severity: warning
            """
        )
    )
    (tmp_path / "am.token").write_text("cli-token\n")
    return path


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post(url: str, data: bytes, token: str) -> int:
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_healthy(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            status, _ = get(f"{base}/healthz")
        except OSError:
            time.sleep(0.1)
            continue
        if status == 200:
            return
        time.sleep(0.1)
    raise AssertionError("the API never became healthy")


@pytest.fixture
def controller(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    process = subprocess.Popen(
        [*ROLLSAFE, "run", "-c", str(config)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        yield process, f"http://127.0.0.1:{port}", config
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_run_serves_intake_and_stops_on_ctrl_c(controller):
    process, base, config = controller
    wait_healthy(base, process)
    started = (datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(minutes=1)).isoformat()
    alert = json.dumps(
        {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "HighErrorRate", "instance": "10.0.0.11:9100"},
                    "annotations": {},
                    "startsAt": started,
                    "fingerprint": "fp",
                }
            ],
        }
    ).encode()
    assert post(f"{base}/intake/am", alert, "wrong") == 401
    assert post(f"{base}/intake/am", alert, "cli-token") == 202

    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline:
        status = subprocess.run(
            [*ROLLSAFE, "status", "--json", "-c", str(config)],
            capture_output=True,
            text=True,
            check=True,
        )
        [target] = json.loads(status.stdout)["targets"]
        state = target["state"]
        if state == "warning":
            break
        time.sleep(0.1)
    assert state == "warning"

    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "cli-token" not in out + err  # secrets are never logged


def test_a_taken_port_stops_a_controller_with_intake(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, port)
        result = subprocess.run(
            [*ROLLSAFE, "run", "-c", str(config)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_a_missing_secret_starts_nothing(tmp_path):
    config = write_config(tmp_path, free_port())
    (tmp_path / "am.token").unlink()
    result = subprocess.run(
        [*ROLLSAFE, "run", "-c", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 1
    assert "intake 'am' auth: cannot read" in result.stderr
