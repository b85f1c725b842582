"""Serving the API with uvicorn, programmatically, inside an event loop someone else owns.

Role in the loop (interfaces): ``rollsafe run`` runs the daemon and the API in one event loop.
uvicorn must not install signal handlers there (the CLI's handlers set ``stop``, which ends
both), and must not ``sys.exit`` when the address is taken: the socket is bound here first,
so a bind failure is an ordinary ``ServeError`` with the address in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Generator
from pathlib import Path

import fastapi
import uvicorn

from rollsafe.config import models
from rollsafe.domain import errors

__all__ = ["ServeError", "bind", "serve"]

log = logging.getLogger("rollsafe.api")

GRACE = 5.0  # seconds open connections get to finish when stopping


class ServeError(errors.RollsafeError):
    """The API cannot listen (address in use, bad TLS files)."""


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
) -> None:
    """Serve ``app`` as ``server`` says until ``stop`` is set, then close within GRACE.

    TLS files are relative to ``base_dir`` (the config file's directory). ``listening`` is
    called with the bound host and port once requests are accepted (useful with port 0).
    Raises ServeError when the address or the TLS files cannot be used.
    """
    config = uvicorn.Config(
        app,
        ssl_certfile=_tls_path(server.tls.certfile, base_dir) if server.tls else None,
        ssl_keyfile=_tls_path(server.tls.keyfile, base_dir) if server.tls else None,
        log_config=None,  # rollsafe's logging setup applies
        access_log=False,  # a query string may carry a token: requests are logged by route
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=int(GRACE),
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
