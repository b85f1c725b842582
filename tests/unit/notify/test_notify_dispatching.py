"""Dispatching routes by severity, retries temporary failures, and never blocks publishing."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json

from aiohttp import web

from rollsafe.config import models
from rollsafe.domain import verdicts
from rollsafe.notify import channels, dispatching, messages
from rollsafe.testing import RecordingNotifier


def _message(severity: verdicts.Severity) -> messages.Message:
    return messages.Message(
        event=f"decision.{severity.label}", severity=severity, title="web-1", text="5xx 0.4"
    )


async def _drain(dispatcher: dispatching.Dispatcher, until, *, timeout: float = 10.0) -> None:
    task = asyncio.create_task(dispatcher.run())
    try:
        async with asyncio.timeout(timeout):
            while not until():
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_routes_by_minimum_severity():
    everything = RecordingNotifier("all")
    critical_only = RecordingNotifier("pager")
    dispatcher = dispatching.Dispatcher(
        [(everything, verdicts.Severity.WARNING), (critical_only, verdicts.Severity.CRITICAL)]
    )
    dispatcher.publish(_message(verdicts.Severity.WARNING))
    dispatcher.publish(_message(verdicts.Severity.CRITICAL))
    await _drain(dispatcher, lambda: len(everything.sent) == 2 and len(critical_only.sent) == 1)
    assert [m.severity for m in critical_only.sent] == [verdicts.Severity.CRITICAL]
    assert everything.closed
    assert critical_only.closed


async def test_temporary_failures_are_retried_with_backoff():
    flaky = RecordingNotifier("flaky", failures=2)
    dispatcher = dispatching.Dispatcher([(flaky, verdicts.Severity.WARNING)], first_backoff=0.01)
    dispatcher.publish(_message(verdicts.Severity.CRITICAL))
    await _drain(dispatcher, lambda: len(flaky.sent) == 1)
    assert flaky.attempts == 3
    assert dispatcher.delivered == 1


async def test_a_notifier_that_never_works_gives_up_and_others_still_deliver():
    broken = RecordingNotifier("broken", failures=100)
    fine = RecordingNotifier("fine")
    dispatcher = dispatching.Dispatcher(
        [(broken, verdicts.Severity.WARNING), (fine, verdicts.Severity.WARNING)],
        attempts=2,
        first_backoff=0.01,
    )
    for _ in range(3):
        dispatcher.publish(_message(verdicts.Severity.WARNING))
    await _drain(dispatcher, lambda: len(fine.sent) == 3 and broken.attempts == 6)
    assert broken.sent == []


def test_publish_never_blocks_when_the_queue_is_full():
    dispatcher = dispatching.Dispatcher(
        [(RecordingNotifier(), verdicts.Severity.WARNING)], queue_size=2
    )
    for _ in range(5):
        dispatcher.publish(_message(verdicts.Severity.WARNING))
    assert dispatcher.dropped == 3


async def test_webhook_posts_json_signed_with_hmac(monkeypatch):
    received: list[tuple[bytes, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers.get(channels.SIGNATURE_HEADER, "")))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HOOK_KEY", "s3cret")
    notifier = channels.build(
        models.WebhookNotifier(
            kind="webhook", name="hook", url=f"http://127.0.0.1:{port}/hook", secret_env="HOOK_KEY"
        )
    )
    try:
        await notifier.send(_message(verdicts.Severity.CRITICAL))
    finally:
        await notifier.close()
        await runner.cleanup()
    body, signature = received[0]
    assert json.loads(body)["severity"] == "critical"
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
