"""Posting to chat webhooks: one HTTP client per channel, answers classified for the dispatcher.

Every chat channel (Slack, WeCom, DingTalk, Feishu, generic webhook) POSTs JSON to a URL that
usually embeds the channel's token. This module keeps that URL out of every error and log
line (only its host is named), and translates what comes back into the error tree the
dispatcher retries on: unreachable, 429 and 5xx are ``TemporaryError`` (429's ``Retry-After``
becomes ``retry_after``), any other 4xx is ``PermanentError``.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp

from rollsafe.domain import errors

__all__ = ["Answer", "Poster", "from_env", "resolve_url"]

_SNIPPET = 200


@dataclass(frozen=True, slots=True)
class Answer:
    """A response that was not an HTTP error: its status, raw body and JSON (None if not JSON)."""

    status: int
    body: bytes
    data: Any


def from_env(name: str, *, what: str) -> str:
    """The value of environment variable ``name``; PermanentError when unset or empty."""
    value = os.environ.get(name)
    if not value:
        raise errors.PermanentError(f"{what}: environment variable {name} is not set")
    return value


def resolve_url(url: str | None, url_env: str | None, *, what: str) -> str:
    """The configured URL, or the one in the environment variable."""
    if url is not None:
        return url
    if url_env is None:
        raise errors.PermanentError(f"{what}: no url configured")
    return from_env(url_env, what=what)


class Poster:
    """POSTs for one notifier over a session opened on first use and closed with ``close``."""

    def __init__(self, what: str, *, timeout: float = 10.0) -> None:
        self._what = what
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def post(
        self,
        url: str,
        *,
        payload: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """POST ``payload`` as JSON (or raw ``data``); raise Temporary/PermanentError on failure."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        sent_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        if data is None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        host = urllib.parse.urlsplit(url).hostname or "?"
        try:
            async with self._session.post(url, data=data, headers=sent_headers) as response:
                body = await response.read()
                status = response.status
                retry_after = _seconds(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Never the URL: it carries the channel's token. The host is enough to debug.
            raise errors.TemporaryError(
                f"{self._what}: {host} unreachable ({type(exc).__name__})"
            ) from None
        snippet = body[:_SNIPPET].decode("utf-8", "replace")
        if status == 429 or status >= 500:
            raise errors.TemporaryError(
                f"{self._what}: {host} answered {status}: {snippet}", retry_after=retry_after
            )
        if status >= 400:
            raise errors.PermanentError(f"{self._what}: {host} answered {status}: {snippet}")
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        return Answer(status=status, body=body, data=parsed)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the dispatcher's own backoff will do
