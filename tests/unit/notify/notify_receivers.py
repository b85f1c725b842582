"""A local HTTP receiver standing in for a chat service: records requests, answers as told."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``answer(request) -> (status, body, headers)`` decides each response."""

    answer: Callable[[Received], tuple[int, Any, dict[str, str]]]
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=await request.read(),
        )
        self.requests.append(got)
        self._arrived.set()
        status, body, headers = self.answer(got)
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=status, text=text, headers=headers)

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()


def waiting_message(**overrides: Any):
    """A run-announced message with approve/reject/dashboard links, as the announcer makes it."""
    from rollsafe.domain import verdicts
    from rollsafe.notify import messages

    values: dict[str, Any] = {
        "event": "run.announced",
        "severity": verdicts.Severity.CRITICAL,
        "title": "web-1: rollback waits for approval (http-5xx)",
        "text": "5xx ratio 0.42 > 0.05 over 5m <since upgrade> & rising\nIt proceeds at 12:00.",
        "target": "web-1",
        "run_id": "run-abc123",
        "links": {
            messages.APPROVE: "https://rollsafe.example.com/links/run-abc123/approve?token=A.B",
            messages.REJECT: "https://rollsafe.example.com/links/run-abc123/reject?token=C.D",
            messages.DASHBOARD: "https://rollsafe.example.com/dashboard/#run=run-abc123",
        },
        "awaiting_approval": True,
    }
    values.update(overrides)
    return messages.Message(**values)
