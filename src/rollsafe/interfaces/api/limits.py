"""A ceiling on every request body, whatever route it is for.

Role in the loop (interfaces): the intake, Slack and link routes read their bodies with their
own limits (``bodies.read_limited``), but FastAPI reads a route's JSON body (``/api/v1``)
whole, and before the token is checked: without this, anyone could make the controller hold
gigabytes in memory. ``BodyCeiling`` refuses a declared ``Content-Length`` over the ceiling
at once (413, nothing read), and stops a streamed body at the first byte over it (413 raised
to the route as an ``HTTPException``, which FastAPI answers).
"""

from __future__ import annotations

from starlette import exceptions as starlette_exceptions
from starlette import responses
from starlette import types as asgi

__all__ = ["BodyCeiling", "BodyOverCeiling"]


class BodyOverCeiling(starlette_exceptions.HTTPException):
    """A streamed body went over the ceiling: 413."""

    def __init__(self, limit: int) -> None:
        # Closed after the answer (the rest of the body is not read): said before it happens.
        super().__init__(
            413, f"the body is larger than {limit} bytes", headers={"Connection": "close"}
        )


class BodyCeiling:
    """ASGI middleware: no request body over ``limit`` bytes reaches a route whole."""

    def __init__(self, app: asgi.ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            refused = responses.JSONResponse(
                {"error": f"the body is {declared} bytes (at most {self.limit})"},
                status_code=413,
                headers={"Connection": "close"},  # the unread body must not be parsed as a request
            )
            await refused(scope, receive, send)
            return
        seen = 0

        async def counted() -> asgi.Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyOverCeiling(self.limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: asgi.Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # ASCII digits only: str.isdigit also takes "²", which int() refuses.
            return int(text) if text.isascii() and text.isdigit() else None
    return None
