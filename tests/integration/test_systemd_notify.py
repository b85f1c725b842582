"""`rollsafe run` tells systemd READY=1 when it can act and STOPPING=1 when it stops.

The service manager's side is a real unix datagram socket bound here, as systemd binds the one
it names in $NOTIFY_SOCKET for a ``Type=notify`` unit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollsafe.runtime import readiness

ROLLSAFE = [sys.executable, "-m", "rollsafe"]


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(60)
    yield sock, path
    sock.close()


def test_notify_sends_one_datagram_to_the_named_socket(manager):
    sock, path = manager
    assert readiness.notify("READY=1", environ={"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1"


def test_the_abstract_namespace_is_reached_too():
    name = f"rollsafe-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        assert readiness.notify("STOPPING=1", environ={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"STOPPING=1"


def test_without_a_service_manager_nothing_is_sent(tmp_path):
    assert not readiness.notify("READY=1", environ={})
    # A socket nobody listens on: a warning, not a crash of the controller.
    assert not readiness.notify("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "gone")})


async def test_announce_waits_for_the_api_then_says_stopping(manager):
    sock, path = manager
    sock.setblocking(False)
    ready, stop, listening = asyncio.Event(), asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        readiness.announce(ready, stop, listening=listening, environ={"NOTIFY_SOCKET": path})
    )
    ready.set()
    await asyncio.sleep(0)
    with pytest.raises(BlockingIOError):  # the loop runs, the API does not listen yet
        sock.recv(4096)
    listening.set()
    loop = asyncio.get_running_loop()
    assert await loop.sock_recv(sock, 4096) == b"READY=1"
    stop.set()
    await task
    assert await loop.sock_recv(sock, 4096) == b"STOPPING=1"


async def test_a_controller_stopped_before_it_was_ready_only_says_stopping(manager):
    sock, path = manager
    sock.setblocking(False)
    ready, stop = asyncio.Event(), asyncio.Event()
    stop.set()
    await readiness.announce(ready, stop, environ={"NOTIFY_SOCKET": path})
    assert await asyncio.get_running_loop().sock_recv(sock, 4096) == b"STOPPING=1"


@pytest.mark.slow
def test_rollsafe_run_notifies_ready_then_stopping(tmp_path, manager):
    sock, path = manager
    config = tmp_path / "rollsafe.yaml"
    config.write_text(
        "state_dir: state\n"
        "server: {port: 0}\n"
        "targets:\n"
        "  - {id: app-1}\n"
        "probes:\n"
        "  - {name: up, kind: tcp, port: 9, interval: 1s, timeout: 1s}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "NOTIFY_SOCKET": path}
    log = tmp_path / "run.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*ROLLSAFE, "run", "-c", str(config)], env=env, stdout=output, stderr=output
        )
    try:
        assert sock.recv(4096) == b"READY=1"
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert sock.recv(4096) == b"STOPPING=1"
        assert process.wait(timeout=60) == 0, log.read_text()
        assert "API listening on" in log.read_text()  # READY=1 came after the API listened
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
