"""Telling the service manager how the controller is doing: systemd's notify protocol.

Role in the loop (runtime): under ``Type=notify`` systemd counts the controller as started
only when it says ``READY=1`` (its loop runs and its API listens), so units ordered after it,
and ``systemctl start`` itself, wait for a controller that can act; ``STOPPING=1`` says a
clean shutdown has begun. The protocol is one datagram per message on the unix socket named
by ``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace); without the variable
(not under systemd) nothing is sent. Implemented here in a few lines rather than with a
library: the protocol is that small.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["READY", "STOPPING", "announce", "notify"]

READY = "READY=1"
STOPPING = "STOPPING=1"

log = logging.getLogger("rollsafe.runtime")


def notify(message: str, *, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` to the service manager; True when it was sent.

    A failure to send is logged and otherwise ignored: the controller's work does not depend
    on systemd hearing it (systemd then times the start out, which says enough).
    """
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]  # the abstract namespace: a leading NUL byte
    elif not address.startswith("/"):
        if address:
            log.warning("NOTIFY_SOCKET %r is not a unix socket; not notifying", address)
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
        except OSError as exc:
            log.warning("cannot notify the service manager (%s): %s", message, exc)
            return False
    return True


async def announce(
    ready: asyncio.Event,
    stop: asyncio.Event,
    *,
    listening: asyncio.Event | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """``READY=1`` once ``ready`` (and ``listening``, when the API runs) are set, then
    ``STOPPING=1`` when ``stop`` is; a controller stopped before it was ready only says
    ``STOPPING=1``. Returns after ``STOPPING=1``."""

    async def all_ready() -> None:
        await ready.wait()
        if listening is not None:
            await listening.wait()

    started = asyncio.create_task(all_ready(), name="readiness-wait")
    stopping = asyncio.create_task(stop.wait(), name="readiness-stop")
    try:
        await asyncio.wait({started, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if started.done() and not stop.is_set():
            notify(READY, environ=environ)
            await stopping
    finally:
        started.cancel()
        stopping.cancel()
    notify(STOPPING, environ=environ)
