"""HTTP probe: is the target's endpoint answering as expected, and how fast?

One ``aiohttp.ClientSession`` per probe instance, created lazily inside the running loop, keeps
a pool of connections reused across targets and runs (thousands of probes must not open
thousands of sockets per tick). Redirects are not followed: a health endpoint that starts
redirecting after an upgrade (to a login page, say) is itself a finding.

What the target did is a fact, observed as a value:

- ``value`` 1.0 when the status is in ``expect_status`` and ``body_match`` (if set) matches
  the body, else 0.0; ``status`` and ``latency_s`` as seen.
- connection refused, reset, TLS failure or no answer within ``timeout``: ``value`` 0.0,
  ``status`` None and a short reason in ``text`` ("connection refused", "timeout after 2s").

What stops the probe from looking is an error: a URL that does not render or is not an
absolute http(s) URL, and a host name that does not resolve (a broken resolver on the
controller must not look like a fleet of dead services).
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket

import aiohttp
import yarl

from rollsafe.config import models
from rollsafe.detect.probes import outcomes
from rollsafe.domain import clocks, errors, ids, observations

BODY_LIMIT = 1024 * 1024
"""Bytes of the body read for ``body_match``: health pages are small; a huge one is cut."""


class HttpProbe:
    """Requests a templated URL per target and reports status, latency and up/down."""

    def __init__(
        self,
        config: models.HttpProbe,
        clock: clocks.Clock,
        *,
        pool_size: int = 256,
    ) -> None:
        self.name = config.name
        self._config = config
        self._clock = clock
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._expect = frozenset(config.expect_status)
        try:
            self._body_match = re.compile(config.body_match) if config.body_match else None
        except re.error as exc:
            raise errors.ConfigError(
                f"probe {config.name}: body_match is not a valid regex: {exc}"
            ) from exc

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            # Our own asyncio.timeout bounds each request; aiohttp's default 5-minute total
            # timeout would only hide the configured one.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None)
            )
        return self._session

    async def observe(self, target: models.Target) -> observations.Observation:
        try:
            url = self._url(target)
            headers = {
                key: outcomes.render(value, target, what=f"header {key}")
                for key, value in self._config.headers.items()
            }
        except outcomes.CannotObserve as exc:
            return outcomes.blind(
                time=self._clock.now(), target=target, source=self.name, reason=str(exc)
            )

        loop = asyncio.get_running_loop()
        started = loop.time()
        status: int | None = None
        body_ok = True
        try:
            async with asyncio.timeout(self._config.timeout):
                async with self._client().request(
                    self._config.method, url, headers=headers, allow_redirects=False
                ) as response:
                    status = response.status
                    if self._body_match is not None:
                        body = await response.content.read(BODY_LIMIT)
                        text = _decode(body, response.charset)
                        body_ok = self._body_match.search(text) is not None
        except TimeoutError:
            return self._down(target, started, outcomes.timeout_reason(self._config.timeout))
        except aiohttp.ClientSSLError as exc:
            # A certificate or handshake that broke with the upgrade is the service's fault.
            return self._down(target, started, f"tls error: {exc}")
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, socket.gaierror):
                return outcomes.blind(
                    time=self._clock.now(),
                    target=target,
                    source=self.name,
                    reason=f"cannot resolve {exc.host}: {exc.os_error.strerror}",
                )
            return self._down(target, started, _connect_reason(exc.os_error))
        except aiohttp.InvalidURL as exc:
            return outcomes.blind(
                time=self._clock.now(),
                target=target,
                source=self.name,
                reason=f"invalid url: {exc}",
            )
        except (aiohttp.ClientError, OSError) as exc:
            return self._down(target, started, _failure_reason(exc))

        latency = loop.time() - started
        up = status in self._expect and body_ok
        reason = None
        if status not in self._expect:
            reason = f"unexpected status {status}"
        elif not body_ok:
            reason = "body did not match"
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=1.0 if up else 0.0,
            status=status,
            latency_s=latency,
            text=reason,
        )

    def _url(self, target: models.Target) -> str:
        rendered = outcomes.render(self._config.url, target, what="url")
        try:
            parsed = yarl.URL(rendered)
        except (ValueError, TypeError) as exc:
            raise outcomes.CannotObserve(f"invalid url {rendered!r}: {exc}") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise outcomes.CannotObserve(f"invalid url {rendered!r}: expected http(s)://host/...")
        return rendered

    def _down(self, target: models.Target, started: float, reason: str) -> observations.Observation:
        return observations.Observation(
            time=self._clock.now(),
            target=ids.TargetId(target.id),
            source=self.name,
            value=0.0,
            latency_s=asyncio.get_running_loop().time() - started,
            text=outcomes.clip(reason),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _decode(body: bytes, charset: str | None) -> str:
    # The declared charset if Python knows it, else UTF-8: health pages are ASCII in practice,
    # and sniffing (what aiohttp falls back to) costs more than it is worth here.
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            pass
    return body.decode("utf-8", errors="replace")


def _connect_reason(exc: OSError) -> str:
    if exc.errno == errno.ECONNREFUSED:
        return "connection refused"
    if exc.errno == errno.ECONNRESET:
        return "connection reset"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable"
    return f"connect failed: {exc.strerror or exc}"


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError):
        return "connection reset"
    if isinstance(exc, aiohttp.ClientOSError) and exc.errno == errno.ECONNRESET:
        return "connection reset"
    return f"request failed: {type(exc).__name__}: {exc}"


def create(config: models.Probe, clock: clocks.Clock) -> HttpProbe:
    """Factory registered under ``http``."""
    if not isinstance(config, models.HttpProbe):
        raise errors.ConfigError(f"probe {config.name}: not an http probe")
    return HttpProbe(config, clock)
