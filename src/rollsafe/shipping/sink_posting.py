"""Posting: the HTTP plumbing the Elasticsearch, Loki and SLS sinks share.

Role in the loop (audit, outward): one lazily opened ``aiohttp`` session per sink, TLS set up
from the sink's options, secrets read from the environment at send time, and aiohttp's errors
translated here into ``SinkUnavailable`` so nothing above sees a library exception. Messages
name URLs without their credentials and never include a header value.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import urllib.parse
from collections.abc import Mapping

import aiohttp

from rollsafe.shipping import sinks

__all__ = ["Answer", "Poster", "basic_auth", "retry_after", "secret", "shown"]

_BODY_SHOWN = 300  # characters of an error body quoted in a log line


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self) -> str:
        """The start of the body, for an error message."""
        text = self.body.decode("utf-8", errors="replace").strip()
        return text if len(text) <= _BODY_SHOWN else text[:_BODY_SHOWN] + "..."


class Poster:
    """POSTs bodies for one sink; reconnects by itself after ``close``."""

    def __init__(self, *, ca_file: str | None = None, verify: bool = True) -> None:
        self._ca_file = ca_file
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | None = None

    async def post(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        auth: aiohttp.BasicAuth | None = None,
    ) -> Answer:
        """POST ``body``; raises SinkUnavailable when no answer came back."""
        if self._session is None:
            # The shipper bounds each send with its own timeout; none here on top of it.
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        try:
            async with self._session.post(
                url,
                data=body,
                headers=dict(headers),
                auth=auth,
                ssl=self._context() if url.startswith("https:") else True,
            ) as response:
                answer = Answer(
                    status=response.status,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    body=await response.read(),
                )
        except aiohttp.ClientError as exc:
            # aiohttp's messages can quote the URL; name it ourselves, without credentials.
            raise sinks.SinkUnavailable(
                f"{shown(url)} unreachable: {type(exc).__name__}: {_reason(exc)}"
            ) from exc
        except OSError as exc:
            raise sinks.SinkUnavailable(f"{shown(url)} unreachable: {exc.strerror or exc}") from exc
        return answer

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            context = ssl.create_default_context(cafile=self._ca_file)
            if not self._verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl = context
        return self._ssl


def secret(env: str) -> str:
    """The value of the environment variable ``env``; SinkRefused (naming it) when unset."""
    value = os.environ.get(env)
    if not value:
        raise sinks.SinkRefused(f"environment variable {env} is not set")
    return value


def basic_auth(username: str | None, password_env: str | None) -> aiohttp.BasicAuth | None:
    if username is None or password_env is None:
        return None
    return aiohttp.BasicAuth(username, secret(password_env))


def retry_after(answer: Answer) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (the HTTP-date form is ignored)."""
    value = answer.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def shown(url: str) -> str:
    """``url`` without user, password, query and fragment: safe to log."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _reason(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.InvalidURL):
        return "not a valid URL"  # its message is the URL itself
    if isinstance(exc, aiohttp.ClientConnectorError):
        return exc.os_error.strerror or type(exc.os_error).__name__
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{exc.status} {exc.message}"
    return type(exc).__name__ if not str(exc) else str(exc).split(" url=")[0]
