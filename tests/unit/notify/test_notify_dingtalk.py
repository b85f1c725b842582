"""DingTalk custom robot: the timestamp + HMAC-SHA256 signature, markdown and action cards."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import pytest
from notify_receivers import Receiver, waiting_message

from rollsafe import testing
from rollsafe.config import models
from rollsafe.domain import errors, verdicts
from rollsafe.notify import dingtalk, messages

SECRET = "SEC1f7e0c8d8c5b4f2e9a6b3c0d7e4f1a8b5c2d9e6f3a0b7c4d1e8f5a2b9c6d3e0f7"
TOKEN = "a1b2c3d4e5f6"


def _robot_for(clock: testing.FakeClock):
    """Checks requests the way DingTalk documents its signed robots (加签)."""

    def answer(received):
        if received.query.get("access_token") != TOKEN:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}, {}
        timestamp = received.query.get("timestamp", "")
        sign = received.query.get("sign", "")
        if not timestamp.isdigit() or abs(int(timestamp) - clock.now() * 1000) > 3600_000:
            return 200, {"errcode": 310000, "errmsg": "invalid timestamp"}, {}
        string_to_sign = f"{timestamp}\n{SECRET}".encode()
        expected = base64.b64encode(
            hmac.new(SECRET.encode(), string_to_sign, hashlib.sha256).digest()
        ).decode()
        if sign != expected:
            return 200, {"errcode": 310000, "errmsg": "sign not match"}, {}
        body = received.json
        kind = body.get("msgtype")
        if kind == "markdown" and {"title", "text"} <= set(body["markdown"]):
            return 200, {"errcode": 0, "errmsg": "ok"}, {}
        card = body.get("actionCard", {})
        if kind == "actionCard" and {"title", "text", "btns"} <= set(card):
            return 200, {"errcode": 0, "errmsg": "ok"}, {}
        return 200, {"errcode": 40035, "errmsg": "bad message"}, {}

    return answer


@pytest.fixture
def clock():
    return testing.FakeClock(1_700_000_000.123)


@pytest.fixture
async def receiver(clock):
    r = await Receiver(answer=_robot_for(clock)).start()
    yield r
    await r.stop()


def _notifier(url, clock, **extra):
    config = models.DingtalkNotifier(
        kind="dingtalk", name="sre", url=url, secret_env="DINGTALK_SECRET", **extra
    )
    return dingtalk.DingtalkNotifier(config, clock=clock)


async def test_a_signed_action_card_for_a_waiting_run(receiver, clock, monkeypatch):
    monkeypatch.setenv("DINGTALK_SECRET", SECRET)
    notifier = _notifier(f"{receiver.url}/robot/send?access_token={TOKEN}", clock)
    try:
        await notifier.send(waiting_message())
    finally:
        await notifier.close()
    [got] = receiver.requests
    assert got.query["timestamp"] == "1700000000123"
    # The sign is urlencoded in the query string (base64 has + / =).
    raw_query = urllib.parse.urlsplit("?" + urllib.parse.urlencode(got.query)).query
    assert "sign=" in raw_query
    body = got.json
    assert body["msgtype"] == "actionCard"
    card = body["actionCard"]
    assert card["title"] == "web-1: rollback waits for approval (http-5xx)"
    assert card["text"].startswith("#### web-1: rollback waits for approval")
    assert [b["title"] for b in card["btns"]] == ["Approve rollback", "Reject", "Dashboard"]
    assert card["btns"][0]["actionURL"].endswith("/approve?token=A.B")


async def test_markdown_mentions_the_configured_members(receiver, clock, monkeypatch):
    monkeypatch.setenv("DINGTALK_SECRET", SECRET)
    notifier = _notifier(
        f"{receiver.url}/robot/send?access_token={TOKEN}", clock, at_mobiles=["13800000000"]
    )
    message = messages.Message(
        event="run.failed",
        severity=verdicts.Severity.CRITICAL,
        title="web-1: rollback FAILED",
        text="verification failed: http: status 500",
        target="web-1",
        run_id="run-1",
    )
    try:
        await notifier.send(message)
    finally:
        await notifier.close()
    body = receiver.requests[0].json
    assert body["msgtype"] == "markdown"
    assert body["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}
    assert "@13800000000" in body["markdown"]["text"]


async def test_a_wrong_secret_is_refused_for_good(receiver, clock, monkeypatch):
    monkeypatch.setenv("DINGTALK_SECRET", "SECnot-the-right-one")
    notifier = _notifier(f"{receiver.url}/robot/send?access_token={TOKEN}", clock)
    try:
        with pytest.raises(errors.PermanentError, match="310000"):
            await notifier.send(waiting_message())
    finally:
        await notifier.close()


async def test_a_missing_secret_is_a_permanent_error(receiver, clock, monkeypatch):
    monkeypatch.delenv("DINGTALK_SECRET", raising=False)
    notifier = _notifier(f"{receiver.url}/robot/send?access_token={TOKEN}", clock)
    try:
        with pytest.raises(errors.PermanentError, match="DINGTALK_SECRET is not set"):
            await notifier.send(waiting_message())
    finally:
        await notifier.close()
    assert receiver.requests == []


async def test_sending_too_fast_is_temporary(clock):
    receiver = await Receiver(
        answer=lambda _: (200, {"errcode": 130101, "errmsg": "send too fast"}, {})
    ).start()
    config = models.DingtalkNotifier(kind="dingtalk", name="sre", url=receiver.url + "/send")
    notifier = dingtalk.DingtalkNotifier(config, clock=clock)
    try:
        with pytest.raises(errors.TemporaryError, match="130101"):
            await notifier.send(waiting_message())
    finally:
        await notifier.close()
        await receiver.stop()
    # Without a secret, nothing is added to the URL.
    assert "sign" not in receiver.requests[0].query
