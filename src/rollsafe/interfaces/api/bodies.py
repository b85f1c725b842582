"""Reading request bodies at the door: size limit while reading, media type, no compression.

Role in the loop (interfaces): a webhook body is bounded before anything looks at it. The
limit is enforced on ``Content-Length`` when given and, whatever the header says, while the
body streams in: reading stops at the first byte over the limit (413).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from starlette import requests as starlette_requests

from rollsafe.interfaces.api import limits

__all__ = [
    "BodyCutShort",
    "BodyTooLarge",
    "UnsupportedMedia",
    "check_media",
    "media_type",
    "read_limited",
]


class BodyTooLarge(Exception):
    """The body is larger than the server accepts (413)."""


class BodyCutShort(Exception):
    """The sender went away before the whole body arrived (400)."""


class UnsupportedMedia(Exception):
    """The body's media type or encoding is not what the endpoint accepts (415)."""


def media_type(headers: Mapping[str, str]) -> str:
    """The media type of ``Content-Type`` without parameters, lower case ('' when absent)."""
    return headers.get("content-type", "").split(";", maxsplit=1)[0].strip().lower()


def check_media(headers: Mapping[str, str], accepted: tuple[str, ...]) -> None:
    """Raise UnsupportedMedia unless the body is of an accepted type and not compressed."""
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMedia(f"Content-Encoding {encoding!r} is not accepted (send it plain)")
    given = media_type(headers)
    if given not in accepted:
        shown = given or "none"
        raise UnsupportedMedia(f"Content-Type {shown!r} (expected {' or '.join(accepted)})")


async def read_limited(
    headers: Mapping[str, str], chunks: AsyncIterator[bytes], *, limit: int
) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to exceed ``limit`` bytes."""
    declared = headers.get("content-length", "").strip()
    # ASCII digits only: str.isdigit also takes "²", which int() refuses (a 500, not a 413).
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is {int(declared)} bytes (at most {limit})")
    parts = []
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"the body is larger than {limit} bytes")
            parts.append(chunk)
    except limits.BodyOverCeiling:
        # The app-wide ceiling (``limits``) saw the same chunk first: the same 413 here.
        raise BodyTooLarge(f"the body is larger than {limit} bytes") from None
    except starlette_requests.ClientDisconnect:
        raise BodyCutShort("the sender disconnected before the whole body arrived") from None
    return b"".join(parts)
