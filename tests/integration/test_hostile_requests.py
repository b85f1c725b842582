"""Hostile clients against a real server (uvicorn on 127.0.0.1, as ``rollsafe run`` serves it).

Every case ends the same way: nothing partial was stored (inbox rows counted), the audit
chain verifies, and the server still answers ``/healthz``. Raw sockets send what no
well-behaved client would: oversized, deeply nested, truncated, trickled or malformed bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct

import httpx
import pytest

from rollsafe.config import models
from rollsafe.interfaces.api import app as api_app
from rollsafe.interfaces.api import serving
from rollsafe.storage import auditing, sql

LIMIT = 200_000  # server.max_body_bytes here: room for a 100k-deep body, small for speed
TOKEN = "hostile-test-token"
LIMITS = serving.Limits(read_timeout=1.0, keep_alive=1, max_connections=40)
BOUND = 30.0  # a safety bound on waiting for the server, never an assertion on its speed
VALID = json.dumps(
    {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down", "instance": "web-1"},
                "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": "f1",
            }
        ],
    }
).encode()


class Server:
    def __init__(self, store, port):
        self.store = store
        self.port = port

    def rows(self):
        return len(self.store.list_inbox(limit=10_000))

    async def raw(self, data: bytes, *, then_close: bool = False) -> bytes:
        """Send ``data`` on a fresh connection and read until the server closes it."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(data)
            await writer.drain()
            if then_close:
                return b""
            return await asyncio.wait_for(_read_all(reader), BOUND)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def healthy(self) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as client:
            response = await client.get("/healthz", timeout=BOUND)
        assert response.status_code == 200, response.text
        verified = auditing.verify_store(self.store)
        assert verified.ok, verified.reason


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    parts = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(65536):
            parts.append(chunk)
    return b"".join(parts)


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer[9:12])


def _post(path: str, body: bytes, *, content_type: str = "application/json", extra: str = ""):
    head = (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


@pytest.fixture
async def server(tmp_path):
    store = sql.open_store(tmp_path / "state")
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1"}],
            # The limits come from the config, as `rollsafe run` applies them.
            "server": {
                "port": 0,
                "max_body_bytes": LIMIT,
                "read_timeout": LIMITS.read_timeout,
                "keep_alive": LIMITS.keep_alive,
                "max_connections": LIMITS.max_connections,
            },
            "access": {"tokens": [{"name": "ops", "role": "admin", "token_env": "T"}]},
            "intake": [
                {
                    "name": "am",
                    "kind": "alertmanager",
                    "auth": {"kind": "none"},
                    "target_label": "instance",
                },
                {
                    "name": "gen",
                    "kind": "generic",
                    "auth": {"kind": "bearer", "token_env": "T"},
                    "target_label": "host",
                },
            ],
        }
    )
    app = api_app.create_app(config, store=store, environ={"T": TOKEN})
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serving.serve(app, config.server, stop, listening=lambda h, p: bound.set_result(p))
    )
    port = await asyncio.wait_for(bound, BOUND)
    yield Server(store, port)
    stop.set()
    await asyncio.wait_for(task, BOUND)
    store.close()


async def test_a_valid_body_is_stored_once(server):
    assert _status(await server.raw(_post("/intake/am", VALID))) == 202
    assert server.rows() == 1
    await server.healthy()


async def test_oversized_bodies_are_413_while_streaming_and_nothing_is_stored(server):
    # Declared too large: refused before a byte of it is read.
    head = b"POST /intake/am HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    declared = head + b"Content-Length: 100000000\r\nConnection: close\r\n\r\n" + b"[" * 1000
    assert _status(await server.raw(declared)) == 413
    # No length given (chunked): cut at the first chunk over the limit, the rest never sent.
    chunk = b"[" * 65536
    chunked = head + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    chunked += (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 4  # 256 KiB > LIMIT
    assert _status(await server.raw(chunked)) == 413
    # The same ceiling on the people's API, which FastAPI would read whole before the token.
    big = b'{"reason": "' + b"x" * (LIMIT + 10) + b'"}'
    assert _status(await server.raw(_post("/api/v1/runs/r1/reject", big))) == 413
    assert server.rows() == 0
    await server.healthy()


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"[" * 100_000, "application/json", 400),  # RecursionError inside json.loads
        (b'{"alerts": ' + b"[" * 500 + b"]" * 500 + b"}", "application/json", 400),
        (b'{"version": "4", "alerts": "\xff\xfe\xfd"}', "application/json", 400),
        (VALID, "text/xml", 415),
        (VALID, "", 415),
        (b'{"version": "4", "alerts": [{"startsAt": NaN}]}', "application/json", 400),
        (b'{"version": "4", "alerts": [{"startsAt": 1e999}]}', "application/json", 400),
        (b'{"version": "4", "alerts": [{"x": ' + b"9" * 5000 + b"}]}", "application/json", 400),
        (b'{"version": "4", "alerts": [', "application/json", 400),
        (b"", "application/json", 400),
    ],
    ids=[
        "100k-deep",
        "500-deep",
        "bad-utf8",
        "xml",
        "no-type",
        "nan",
        "inf",
        "huge-int",
        "cut-json",
        "empty",
    ],
)
async def test_malformed_bodies_are_4xx_and_nothing_is_stored(server, body, content_type, expected):
    assert _status(await server.raw(_post("/intake/am", body, content_type=content_type))) == (
        expected
    )
    assert server.rows() == 0
    await server.healthy()


async def test_deep_json_on_an_authenticated_json_route_is_4xx(server):
    auth = f"Authorization: Bearer {TOKEN}\r\n"
    deep = b"[" * 100_000
    for path in ("/intake/gen", "/api/v1/runs/r1/reject", "/api/v1/targets/web-1/rollback"):
        status = _status(await server.raw(_post(path, deep, extra=auth)))
        assert 400 <= status < 500, (path, status)
    assert server.rows() == 0
    await server.healthy()


async def test_duplicate_keys_take_the_last_value_and_store_one_row(server):
    body = VALID[:-1] + b', "status": "resolved", "status": "firing"}'
    assert _status(await server.raw(_post("/intake/am", body))) == 202
    assert server.rows() == 1
    await server.healthy()


async def test_oversized_headers_are_refused(server):
    big = b"X-Junk: " + b"a" * 300_000 + b"\r\n"  # past what one read of the socket holds
    answer = await server.raw(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n")
    assert answer == b"" or 400 <= _status(answer) < 500
    await server.healthy()


async def _trickle(port: int, data: bytes, cut: asyncio.Event, *, prefix: bytes = b"") -> None:
    """Send ``prefix`` at once, then ``data`` a byte at a time until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    closed = asyncio.create_task(_read_all(reader))
    try:
        writer.write(prefix)
        await writer.drain()
        for byte in data:
            if closed.done():
                break
            writer.write(bytes([byte]))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            # Pacing, not an assertion: slower than the server's read timeout allows.
            await asyncio.wait({closed}, timeout=0.2)
        await asyncio.wait_for(closed, BOUND)
        cut.set()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@pytest.mark.parametrize("part", ["headers", "body"])
async def test_a_slow_client_is_cut_off_and_blocks_no_one(server, part):
    request = _post("/intake/am", VALID)
    cut = asyncio.Event()
    if part == "headers":
        trickled = asyncio.create_task(_trickle(server.port, request, cut))
    else:
        head, _, body = request.partition(b"\r\n\r\n")
        prefix = head + b"\r\n\r\n"
        trickled = asyncio.create_task(_trickle(server.port, body, cut, prefix=prefix))
    # While the slow one trickles, a normal client is answered.
    await server.healthy()
    assert _status(await server.raw(_post("/intake/am", VALID))) == 202
    await asyncio.wait_for(trickled, BOUND)
    assert cut.is_set()
    assert server.rows() == 1  # the normal one only: the trickled body was never stored
    await server.healthy()


async def test_a_slow_body_after_quick_headers_is_cut_off(server):
    body = VALID
    head = (
        b"POST /intake/am HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(head + body[:5])
    await writer.drain()
    # Then nothing more: the server closes the connection when its read timeout passes.
    answer = await asyncio.wait_for(_read_all(reader), BOUND)
    writer.close()
    assert answer == b"" or 400 <= _status(answer) < 500
    assert server.rows() == 0
    await server.healthy()


async def test_truncated_bodies_and_resets_store_nothing(server):
    request = _post("/intake/am", VALID)
    await server.raw(request[: len(request) - 10], then_close=True)  # FIN mid-body
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.sendall(request[: len(request) - 10])
    sock.close()  # RST mid-body
    await server.healthy()
    assert server.rows() == 0


async def test_many_connections_are_bounded_and_recover(server):
    # Concurrent valid requests, each with its own body: all stored, each once.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        bodies = [VALID.replace(b"f1", b"f-%d" % i) for i in range(20)]
        answers = await asyncio.gather(
            *(
                client.post(
                    "/intake/am",
                    content=b,
                    headers={"content-type": "application/json"},
                    timeout=BOUND,
                )
                for b in bodies
            )
        )
    assert {a.status_code for a in answers} == {202}
    assert server.rows() == 20
    # A flood of idle connections past the bound: the excess is refused (503, uvicorn's
    # overload answer), every idle one is closed by the read timeout, and service resumes.
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(60)]
    closed = await asyncio.wait_for(
        asyncio.gather(*(_read_all(reader) for reader, _ in idle)), BOUND
    )
    assert all(answer == b"" or _status(answer) in (408, 503) for answer in closed)
    for _, writer in idle:
        writer.close()
    await server.healthy()
    assert server.rows() == 20


def _send_whole_then_read(port: int, request: bytes) -> bytes:
    """What curl, requests and most webhook senders do: write the whole body, then read.

    A server that answers early and closes with the rest of the body unread makes the kernel
    send a reset, and such a client sees ``Connection reset`` instead of the answer.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as sock:
        sock.sendall(request)
        parts = []
        while chunk := sock.recv(65536):
            parts.append(chunk)
        return b"".join(parts)


@pytest.mark.parametrize("how", ["declared", "chunked", "api"])
async def test_an_oversized_body_written_whole_gets_its_413_not_a_reset(server, how):
    body = b"[" * (5 * LIMIT)
    if how == "declared":
        request = _post("/intake/am", body)
    elif how == "api":
        request = _post("/api/v1/runs/r1/reject", body)
    else:
        head = b"POST /intake/am HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        chunked = b"".join(
            b"%x\r\n" % len(part) + part + b"\r\n"
            for part in (body[i : i + 65536] for i in range(0, len(body), 65536))
        )
        request = head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n"
    answer = await asyncio.to_thread(_send_whole_then_read, server.port, request)
    assert _status(answer) == 413
    head, _, text = answer.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    assert b"larger than" in text or b"at most" in text
    assert server.rows() == 0
    await server.healthy()
