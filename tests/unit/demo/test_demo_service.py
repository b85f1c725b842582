"""The demo service and servicectl, with real processes on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from rollsafe.demo import fleet, layout, releases, servicectl


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _log_lines(host: fleet.Host) -> list[str]:
    return (host.root / layout.LOG_FILE).read_text(encoding="utf-8").splitlines()


@pytest.fixture
def host(tmp_path):
    built = fleet.build(tmp_path / "work", hosts=1, rows=42)
    only = built.hosts[0]
    yield only
    servicectl.stop(only.root)


def test_good_release_answers_every_request_and_logs_no_errors(host):
    servicectl.start(host.root)
    statuses = [_get(f"{host.url}/health")[0] for _ in range(30)]
    status, items = _get(f"{host.url}/items")

    assert statuses == [200] * 30
    assert status == 200
    assert items["total"] == 42
    assert len(items["items"]) == 20
    lines = _log_lines(host)
    assert any(" INFO " in line and "GET /health 200" in line for line in lines)
    assert not [line for line in lines if "ERROR" in line]


def test_bad_release_fails_every_third_request_and_logs_each_failure(host):
    releases.install(host.root / layout.RELEASE_DIR, releases.BAD)
    servicectl.start(host.root)

    statuses = [_get(f"{host.url}/health")[0] for _ in range(30)]

    assert statuses == [200, 200, 500] * 10
    errors = [line for line in _log_lines(host) if " ERROR " in line]
    assert len(errors) == 10
    assert all("500" in line and releases.BAD.version in line for line in errors)


def test_stop_ends_the_process_removes_the_pid_file_and_logs_it(host):
    pid = servicectl.start(host.root)
    assert servicectl.running_pid(host.root) == pid

    assert servicectl.stop(host.root) == [pid]

    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not (host.root / layout.PID_FILE).exists()
    assert servicectl.running_pid(host.root) is None
    lines = _log_lines(host)
    assert lines[-2].endswith("received SIGTERM, shutting down")
    assert lines[-1].endswith("stopped")
    assert servicectl.stop(host.root) == []  # stopping a stopped host is fine


def test_start_is_idempotent(host):
    first = servicectl.start(host.root)
    assert servicectl.start(host.root) == first
    assert [p.pid for p in servicectl.processes(host.root)] == [first]


def _ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rollsafe.demo.servicectl", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_servicectl_command_upgrade_installs_the_bad_release_and_restarts(host):
    assert _ctl("start", str(host.root)).returncode == 0
    before = servicectl.running_pid(host.root)
    good = releases.fingerprint(host.root / layout.RELEASE_DIR)

    done = _ctl("upgrade", str(host.root))

    assert done.returncode == 0, done.stderr
    after = servicectl.running_pid(host.root)
    assert after is not None
    assert after != before
    assert _get(f"{host.url}/version")[1]["version"] == releases.BAD.version
    changed = releases.fingerprint(host.root / layout.RELEASE_DIR)
    assert "migrations/0042_tenant_shards.sql" in changed
    assert changed["app.conf"] != good["app.conf"]
    assert _ctl("status", str(host.root)).returncode == 0
    assert _ctl("stop", str(host.root)).returncode == 0
    assert _ctl("status", str(host.root)).returncode == 3


def test_servicectl_start_fails_with_the_reason_when_the_port_is_taken(host):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((host.address, host.port))
        squatter.listen()

        done = _ctl("start", str(host.root))

    assert done.returncode == 1
    assert "exited with status" in done.stderr
    assert "Address already in use" in done.stderr
    assert servicectl.running_pid(host.root) is None


def test_unknown_release_is_refused(host):
    done = _ctl("upgrade", str(host.root), "9.9.9")
    assert done.returncode == 1
    assert "unknown release '9.9.9'" in done.stderr


def test_fingerprint_sees_added_and_changed_files(tmp_path: Path):
    releases.install(tmp_path, releases.GOOD)
    good = releases.fingerprint(tmp_path)
    releases.install(tmp_path, releases.BAD)
    bad = releases.fingerprint(tmp_path)
    assert set(bad) - set(good) == {"migrations/0042_tenant_shards.sql"}
    assert bad["release.json"] != good["release.json"]
    assert releases.read(tmp_path).error_every == 3
