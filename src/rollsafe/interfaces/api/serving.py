"""Serving the API with uvicorn, programmatically, inside an event loop someone else owns.

Role in the loop (interfaces): ``rollsafe run`` runs the daemon and the API in one event loop.
uvicorn must not install signal handlers there (the CLI's handlers set ``stop``, which ends
both), and must not ``sys.exit`` when the address is taken: the socket is bound here first,
so a bind failure is an ordinary ``ServeError`` with the address in it.

Hostile clients are bounded here, at the socket (``Limits``): a request (headers and body)
must arrive whole within ``read_timeout`` of its first byte or of the previous answer, or the
connection is closed (a slow client holds one connection for that long, never the loop); idle
keep-alive connections close after ``keep_alive``; past ``max_connections`` open connections
new requests are answered 503 at once; a header block over ``max_header_bytes`` is a 400.
Body sizes are bounded by the app (``interfaces/api/limits`` and each route); a connection
closed after an early answer (413) while the body still arrives lingers (``_Lingering``), so
the client reads the answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi
import h11
import uvicorn
from uvicorn.protocols.http import h11_impl

from rollsafe.config import models
from rollsafe.domain import errors

__all__ = ["Limits", "ServeError", "bind", "serve"]

log = logging.getLogger("rollsafe.api")

GRACE = 5.0  # seconds open connections get to finish when stopping


class ServeError(errors.RollsafeError):
    """The API cannot listen (address in use, bad TLS files)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client may hold of the server (see the module notes)."""

    read_timeout: float = 30.0  # seconds for one request's headers and body to arrive
    keep_alive: int = 5  # seconds an idle keep-alive connection stays open
    max_connections: int = 1000  # open connections (and requests in progress) at once
    max_header_bytes: int = 16 * 1024  # request line and headers


class _Lingering:
    """The transport as uvicorn sees it: ``close`` lingers while a request body is unread.

    A server that answers early (413 for a body over the limit) and closes with the rest of
    the body still arriving makes the kernel answer that data with a reset, and a client that
    writes its whole body before reading (curl, requests, most webhook senders) then sees
    "connection reset" instead of the 413. So, like Apache's lingering close, the answer is
    sent, the write side shut (the client sees the answer and then end of file), and what
    still arrives is read and thrown away, bounded by ``LINGER_BYTES`` and ``LINGER_SECONDS``
    (and ``LINGER_IDLE`` without data), before the socket is closed.
    """

    def __init__(self, transport: asyncio.Transport, protocol: Any) -> None:
        self._transport = transport
        self._protocol = protocol

    def close(self) -> None:
        self._protocol.close_lingering()

    def is_closing(self) -> bool:
        return bool(self._protocol.lingering) or self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


LINGER_BYTES = 16 * 1024 * 1024  # an unread body is drained up to this much, then reset
LINGER_SECONDS = 10.0  # ... for at most this long
LINGER_IDLE = 1.0  # ... and closed once nothing arrived for this long


def _guarded_protocol(read_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with a deadline on reading each request.

    uvicorn has no timeout while it reads a request: a client trickling its headers or its
    body byte by byte (slowloris) keeps a connection, and a handler awaiting the body, open
    forever. This arms a timer when the connection opens and again after each answer; when it
    fires while a request is still being read (no request yet, or its body unfinished), the
    connection is closed (a handler reading the body sees a disconnect: nothing is stored).
    """

    class _Guarded(h11_impl.H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _raw: asyncio.Transport | None = None
        lingering = False
        _drained = 0
        _linger_timers: tuple[asyncio.TimerHandle, ...] = ()

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(read_timeout, self._expired)

        def _expired(self) -> None:
            self._deadline = None
            cycle = self.cycle
            reading = cycle is None or cycle.response_complete or cycle.more_body
            if reading and self._raw is not None and not self._raw.is_closing():
                log.warning("closing a connection that did not send its request in time")
                self._raw.close()  # at once: a slow client gets no lingering either

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)  # noqa: S101 - TCP, maybe TLS
            self._raw = transport
            super().connection_made(_Lingering(transport, self))  # type: ignore[arg-type]
            self._arm()

        def close_lingering(self) -> None:
            """``transport.close()`` as uvicorn calls it (see ``_Lingering``)."""
            raw = self._raw
            if raw is None or self.lingering or raw.is_closing():
                return
            if self.conn.their_state is not h11.SEND_BODY:
                raw.close()  # the request was read whole (or never began): nothing to drain
                return
            self.lingering = True
            if raw.can_write_eof():
                raw.write_eof()  # the answer, then end of file, reach the client now
            raw.resume_reading()
            self._linger_timers = (
                self.loop.call_later(LINGER_SECONDS, raw.close),
                self.loop.call_later(LINGER_IDLE, raw.close),
            )

        def data_received(self, data: bytes) -> None:
            if not self.lingering:
                super().data_received(data)
                return
            self._drained += len(data)
            assert self._raw is not None  # noqa: S101 - set in connection_made
            if self._drained > LINGER_BYTES:
                self._raw.close()  # more than we drain for anyone: the kernel resets it
                return
            # Data still arrives: the idle close waits for the client to pause again.
            first, idle = self._linger_timers
            idle.cancel()
            self._linger_timers = (first, self.loop.call_later(LINGER_IDLE, self._raw.close))

        def eof_received(self) -> None:
            if self.lingering and self._raw is not None:
                self._raw.close()  # the client finished sending: done draining

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            for timer in self._linger_timers:
                timer.cancel()
            super().connection_lost(exc)

    return _Guarded


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``stop`` decides when it ends."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn before 0.29
        return None


def bind(address: str, port: int) -> socket.socket:
    """A listening TCP socket on ``address:port`` (IPv4 or IPv6); ServeError if impossible."""
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {address}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, where = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {address}:{port}: {exc.strerror or exc}") from exc
    return sock


def _tls_path(path: Path, base_dir: Path | None) -> str:
    return str(path if path.is_absolute() or base_dir is None else base_dir / path)


async def serve(
    app: fastapi.FastAPI,
    server: models.Server,
    stop: asyncio.Event,
    *,
    base_dir: Path | None = None,
    listening: Callable[[str, int], None] | None = None,
    limits: Limits | None = None,
) -> None:
    """Serve ``app`` as ``server`` says until ``stop`` is set, then close within GRACE.

    TLS files are relative to ``base_dir`` (the config file's directory). ``listening`` is
    called with the bound host and port once requests are accepted (useful with port 0).
    ``limits`` bound what clients may hold (default: those ``server`` configures). Raises
    ServeError when the address or the TLS files cannot be used.
    """
    limits = limits or Limits(
        read_timeout=server.read_timeout,
        keep_alive=server.keep_alive,
        max_connections=server.max_connections,
        max_header_bytes=server.max_header_bytes,
    )
    bounds: dict[str, Any] = {
        "http": _guarded_protocol(limits.read_timeout),
        "timeout_keep_alive": limits.keep_alive,
        "limit_concurrency": limits.max_connections,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }
    config = uvicorn.Config(
        app,
        ssl_certfile=_tls_path(server.tls.certfile, base_dir) if server.tls else None,
        ssl_keyfile=_tls_path(server.tls.keyfile, base_dir) if server.tls else None,
        log_config=None,  # rollsafe's logging setup applies
        access_log=False,  # a query string may carry a token: requests are logged by route
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=int(GRACE),
        **bounds,
    )
    try:
        config.load()
    except (OSError, ssl.SSLError) as exc:
        raise ServeError(f"server.tls: cannot load the certificate or key: {exc}") from exc
    sock = bind(server.address, server.port)
    host, port = sock.getsockname()[:2]
    uv = _Server(config)
    task = asyncio.create_task(uv.serve(sockets=[sock]), name="uvicorn")
    # The socket listens already: connections wait in its backlog until uvicorn accepts them.
    scheme = "https" if server.tls else "http"
    log.info("API listening on %s://%s:%d", scheme, host, port)
    if listening is not None:
        listening(host, port)
    stopping = asyncio.create_task(stop.wait(), name="api-stop")
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        uv.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
