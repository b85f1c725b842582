"""Dispatching routes by severity, retries temporary failures, and never blocks publishing."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json

from aiohttp import web

from rollsafe.config import models
from rollsafe.domain import errors, verdicts
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


class Stuck:
    """A notifier that never answers (a chat service hanging on the connection)."""

    name = "stuck"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def send(self, message):
        self.started.set()
        await asyncio.Event().wait()

    async def close(self):
        return None


async def test_a_hanging_notifier_delays_no_other_notifier():
    stuck = Stuck()
    fine = RecordingNotifier("fine")
    dispatcher = dispatching.Dispatcher(
        [(stuck, verdicts.Severity.WARNING), (fine, verdicts.Severity.WARNING)]
    )
    for _ in range(3):
        dispatcher.publish(_message(verdicts.Severity.CRITICAL))
    await _drain(dispatcher, lambda: stuck.started.is_set() and len(fine.sent) == 3)


async def test_routes_filter_by_event_and_reword_with_their_templates():
    runs_only = RecordingNotifier("runs")
    everything = RecordingNotifier("all")
    dispatcher = dispatching.Dispatcher(
        [
            dispatching.Route(
                notifier=runs_only,
                events=("run.*", "governor.tripped"),
                templates={"run.failed": models.MessageTemplate(title="PAGE: {target} {event}")},
            ),
            dispatching.Route(notifier=everything),
        ]
    )
    for event in ("decision.warning", "run.failed", "governor.tripped", "detector.blind"):
        dispatcher.publish(
            messages.Message(
                event=event, severity=verdicts.Severity.CRITICAL, title="t", text="x", target="w1"
            )
        )
    await _drain(dispatcher, lambda: len(everything.sent) == 4 and len(runs_only.sent) == 2)
    assert [m.event for m in runs_only.sent] == ["run.failed", "governor.tripped"]
    assert runs_only.sent[0].title == "PAGE: w1 run.failed"
    assert [m.title for m in everything.sent] == ["t"] * 4


async def test_retry_after_is_honoured_and_outcomes_are_reported():
    class Throttled(RecordingNotifier):
        async def send(self, message):
            self.attempts += 1
            if self.attempts == 1:
                raise errors.TemporaryError("429", retry_after=0.01)
            self.sent.append(message)

    seen: list[tuple[str, str]] = []
    throttled = Throttled("chat")
    dispatcher = dispatching.Dispatcher(
        [(throttled, verdicts.Severity.WARNING)],
        first_backoff=3600,  # would hang the test if Retry-After were ignored
        on_outcome=lambda name, outcome: seen.append((name, outcome)),
    )
    dispatcher.publish(_message(verdicts.Severity.WARNING))
    await _drain(dispatcher, lambda: len(throttled.sent) == 1)
    assert seen == [("chat", "retried"), ("chat", "delivered")]


def test_every_configured_kind_builds_its_channel():
    configs = [
        models.LogNotifier(kind="log", name="a"),
        models.WebhookNotifier(kind="webhook", name="b", url="http://127.0.0.1:1/x"),
        models.SlackNotifier(kind="slack", name="c", url="http://127.0.0.1:1/x"),
        models.WecomNotifier(kind="wecom", name="d", url_env="WECOM_URL"),
        models.DingtalkNotifier(kind="dingtalk", name="e", url="http://127.0.0.1:1/x"),
        models.FeishuNotifier(kind="feishu", name="f", url="http://127.0.0.1:1/x"),
        models.EmailNotifier(kind="email", name="g", host="127.0.0.1", sender="a@b", to=["c@d"]),
    ]
    dispatcher = dispatching.Dispatcher.from_config(configs)
    built = [type(route.notifier).__name__ for route in dispatcher.routes]
    assert built == [
        "LogNotifier",
        "WebhookNotifier",
        "SlackNotifier",
        "WecomNotifier",
        "DingtalkNotifier",
        "FeishuNotifier",
        "EmailNotifier",
    ]
