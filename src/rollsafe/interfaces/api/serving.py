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
Body sizes are bounded by the app (``interfaces/api/limits`` and each route).
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

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(read_timeout, self._expired)

        def _expired(self) -> None:
            self._deadline = None
            cycle = self.cycle
            reading = cycle is None or cycle.response_complete or cycle.more_body
            if reading and not self.transport.is_closing():
                log.warning("closing a connection that did not send its request in time")
                self.transport.close()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
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
