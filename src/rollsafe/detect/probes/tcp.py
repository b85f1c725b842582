"""TCP probe: does the target accept connections on a port?

The cheapest liveness signal there is (sshd, a database, a port a service must listen on).
A completed handshake is ``value`` 1.0 with ``latency_s`` the connect time; refused, reset,
unreachable or no answer within ``timeout`` is ``value`` 0.0 with a short reason in ``text``:
facts about the target. A host name that does not resolve, or a port that does not render to
a number, means the probe cannot look, and is an error.

The socket is closed right after the handshake, and the probe waits for the close to finish
so that thousands of probes do not leave sockets lingering between ticks.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket

from rollsafe.config import models
from rollsafe.detect.probes import outcomes
from rollsafe.domain import clocks, errors, ids, observations


class _Handshake(asyncio.Protocol):
    """Does nothing with the connection but tell us when it is fully closed."""

    def __init__(self) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class TcpProbe:
    """Opens and closes one TCP connection per observation."""

    def __init__(self, config: models.TcpProbe, clock: clocks.Clock) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock

    async def observe(self, target: models.Target) -> observations.Observation:
        try:
            host = outcomes.render(self._config.host, target, what="host")
            port = self._port(target)
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )

        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self._config.timeout):
                transport, protocol = await loop.create_connection(_Handshake, host, port)
        except TimeoutError:
            return self._seen(target, started, 0.0, outcomes.timeout_reason(self._config.timeout))
        except socket.gaierror as exc:
            return outcomes.blind(
                time=self._clock.now(),
                target=target,
                source=self.name,
                reason=f"cannot resolve {host}: {exc.strerror}",
            )
        except OSError as exc:
            return self._seen(target, started, 0.0, _reason(exc))

        latency = loop.time() - started
        transport.close()
        # The close completes on the next loop iterations; bound the wait so a peer that
        # never finishes cannot hold the probe.
        try:
            async with asyncio.timeout(self._config.timeout):
                await protocol.closed
        except TimeoutError:
            transport.abort()
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=1.0,
            latency_s=latency,
        )

    def _port(self, target: models.Target) -> int:
        raw = self._config.port
        text = str(raw) if isinstance(raw, int) else outcomes.render(raw, target, what="port")
        try:
            port = int(text)
        except ValueError:
            raise outcomes.CannotObserve(f"port {text!r} is not a number") from None
        if not 0 < port < 65536:
            raise outcomes.CannotObserve(f"port {port} is out of range")
        return port

    def _seen(
        self, target: models.Target, started: float, value: float, reason: str
    ) -> observations.Observation:
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=value,
            latency_s=asyncio.get_running_loop().time() - started,
            text=reason,
        )

    async def close(self) -> None:
        """Nothing to release: every observation closes its own socket."""


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ECONNREFUSED or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if exc.errno == errno.ECONNRESET:
        return "connection reset"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable"
    # create_connection joins the errors of every address it tried (::1 and 127.0.0.1 for
    # "localhost") into one OSError without errno; refused everywhere is still refused.
    if exc.errno is None and os.strerror(errno.ECONNREFUSED) in str(exc):
        return "connection refused"
    return outcomes.clip(f"connect failed: {exc.strerror or exc}")


def create(config: models.Probe, clock: clocks.Clock) -> TcpProbe:
    """Factory registered under ``tcp``."""
    if not isinstance(config, models.TcpProbe):
        raise errors.ConfigError(f"probe {config.name}: not a tcp probe")
    return TcpProbe(config, clock)
