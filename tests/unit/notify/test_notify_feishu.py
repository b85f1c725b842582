"""Feishu / Lark custom bot: timestamp + sign in the body, interactive cards."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from notify_receivers import Receiver, waiting_message

from rollsafe import testing
from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.notify import feishu

SECRET = "qDbNSJ4cPwW7n5ZLxNl3Gc"


def _bot_for(clock: testing.FakeClock):
    """Checks requests the way Feishu documents signed custom bots."""

    def answer(received):
        body = received.json
        timestamp = body.get("timestamp")
        if not isinstance(timestamp, str) or abs(int(timestamp) - clock.now()) > 3600:
            return 200, {"code": 19021, "msg": "timestamp is not within one hour"}, {}
        key = f"{timestamp}\n{SECRET}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if body.get("sign") != expected:
            return 200, {"code": 19021, "msg": "sign match fail"}, {}
        if body.get("msg_type") != "interactive" or "card" not in body:
            return 200, {"code": 9499, "msg": "Bad Request"}, {}
        return 200, {"code": 0, "data": {}, "msg": "success"}, {}

    return answer


@pytest.fixture
def clock():
    return testing.FakeClock(1_700_000_000.9)


@pytest.fixture
async def receiver(clock):
    r = await Receiver(answer=_bot_for(clock)).start()
    yield r
    await r.stop()


def _notifier(url, clock):
    config = models.FeishuNotifier(kind="feishu", name="sre", url=url, secret_env="FEISHU_SECRET")
    return feishu.FeishuNotifier(config, clock=clock)


async def test_a_signed_card_with_buttons_for_a_waiting_run(receiver, clock, monkeypatch):
    monkeypatch.setenv("FEISHU_SECRET", SECRET)
    notifier = _notifier(receiver.url + "/open-apis/bot/v2/hook/xxxx", clock)
    try:
        await notifier.send(waiting_message())
    finally:
        await notifier.close()
    [got] = receiver.requests
    assert got.path == "/open-apis/bot/v2/hook/xxxx"
    body = got.json
    assert body["timestamp"] == "1700000000"
    card = body["card"]
    assert card["header"]["template"] == "red"
    assert card["header"]["title"]["content"].startswith("web-1: rollback waits")
    [text, note, action] = card["elements"]
    assert text["text"]["tag"] == "lark_md"
    assert note["tag"] == "note"
    buttons = action["actions"]
    assert [b["text"]["content"] for b in buttons] == ["Approve rollback", "Reject", "Dashboard"]
    assert buttons[0]["url"].endswith("/approve?token=A.B")
    assert buttons[1]["type"] == "danger"


async def test_a_wrong_secret_is_refused_for_good(receiver, clock, monkeypatch):
    monkeypatch.setenv("FEISHU_SECRET", "not-it")
    notifier = _notifier(receiver.url + "/hook", clock)
    try:
        with pytest.raises(errors.PermanentError, match="19021"):
            await notifier.send(waiting_message())
    finally:
        await notifier.close()


async def test_a_clock_an_hour_off_is_refused(receiver, clock, monkeypatch):
    monkeypatch.setenv("FEISHU_SECRET", SECRET)
    late = testing.FakeClock(clock.now() + 3601)
    notifier = _notifier(receiver.url + "/hook", late)
    try:
        with pytest.raises(errors.PermanentError, match="19021"):
            await notifier.send(waiting_message())
    finally:
        await notifier.close()


async def test_frequency_limit_is_temporary_and_old_status_codes_are_read(clock):
    answers = iter(
        [
            (200, {"code": 11232, "msg": "frequency limited"}, {}),
            (200, {"StatusCode": 0, "StatusMessage": "success"}, {}),
        ]
    )
    receiver = await Receiver(answer=lambda _: next(answers)).start()
    config = models.FeishuNotifier(kind="feishu", name="sre", url=receiver.url + "/hook")
    notifier = feishu.FeishuNotifier(config, clock=clock)
    try:
        with pytest.raises(errors.TemporaryError, match="11232"):
            await notifier.send(waiting_message())
        await notifier.send(waiting_message())
    finally:
        await notifier.close()
        await receiver.stop()
    # Without a secret: no timestamp, no sign.
    assert "sign" not in receiver.requests[0].json
