"""Outgoing HTTPS GETs the intake needs: SNS signing certificates and subscription confirmations.

Role in the loop (interfaces): the only requests the API makes itself, always to a URL already
checked to be on an SNS host (``detect/intake/sns.check_sns_url``); redirects are not followed
and responses are size-limited. Tests inject their own ``Fetcher`` (a locally generated
certificate, a recorded confirmation) instead of this one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp

from rollsafe.domain import errors

__all__ = ["FetchError", "Fetcher", "fetch"]

Fetcher = Callable[[str], Awaitable[bytes]]
"""``await fetcher(url)`` -> the response body of a GET; raises FetchError."""

MAX_BYTES = 64 * 1024
TIMEOUT = 10.0


class FetchError(errors.TemporaryError):
    """The GET failed; the sender's retry may succeed."""


async def fetch(url: str) -> bytes:
    """GET ``url`` (no redirects, 10 s, at most 64 KiB); FetchError for anything but a 200."""
    try:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            if response.status != 200:
                raise FetchError(f"GET {url} answered {response.status}")
            body = await response.content.read(MAX_BYTES + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchError(f"GET {url} failed: {exc!r}") from exc
    if len(body) > MAX_BYTES:
        raise FetchError(f"GET {url}: response larger than {MAX_BYTES} bytes")
    return body
