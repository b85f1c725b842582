"""The TCP probe against real sockets on 127.0.0.1: open port, closed port, bad templates."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from rollsafe.config import models
from rollsafe.detect.probes import tcp
from rollsafe.testing import FakeClock


class _Listener:
    def __init__(self) -> None:
        self.accepted = 0
        self.closed_by_peer = asyncio.Event()
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        # The probe must close its side: we see EOF instead of a lingering connection.
        await reader.read()
        self.closed_by_peer.set()
        writer.close()
        await writer.wait_closed()


@pytest.fixture
async def listener() -> AsyncIterator[_Listener]:
    state = _Listener()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    yield state
    server.close()
    await server.wait_closed()


def _probe(**options: object) -> tcp.TcpProbe:
    config = models.TcpProbe.model_validate({"kind": "tcp", "name": "port", **options})
    return tcp.TcpProbe(config, FakeClock(start=50.0))


def _target(**vars_: str | int) -> models.Target:
    return models.Target(id="db-1", address="127.0.0.1", vars=vars_)


async def test_open_port_is_up_and_the_socket_is_closed(listener: _Listener) -> None:
    probe = _probe(port="{db_port}")
    seen = await probe.observe(_target(db_port=listener.port))
    await probe.close()
    assert seen.ok
    assert (seen.value, seen.time, seen.source, seen.target) == (1.0, 50.0, "port", "db-1")
    assert seen.latency_s is not None
    await asyncio.wait_for(listener.closed_by_peer.wait(), timeout=10)
    assert listener.accepted == 1


async def test_closed_port_is_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    seen = await _probe(port=port).observe(_target())
    assert seen.ok
    assert (seen.value, seen.text) == (0.0, "connection refused")


async def test_localhost_refused_on_every_address_is_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    seen = await _probe(host="localhost", port=port).observe(_target())
    assert (seen.value, seen.text) == (0.0, "connection refused")


@pytest.mark.parametrize(
    ("port", "reason"),
    [
        ("{ssh_port}", "port: unknown template variable 'ssh_port' for target db-1"),
        ("{name}", "port 'db' is not a number"),
        ("70000", "port 70000 is out of range"),
    ],
)
async def test_port_that_does_not_render_is_a_probe_error(port: str, reason: str) -> None:
    seen = await _probe(port=port).observe(_target(name="db"))
    assert not seen.ok
    assert seen.value is None
    assert seen.error == reason
