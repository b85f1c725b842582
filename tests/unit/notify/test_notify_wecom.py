"""WeCom group robot: markdown messages, errcode answers, the 4096-byte content limit."""

from __future__ import annotations

import pytest
from notify_receivers import Receiver, waiting_message

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.notify import wecom


def _robot(received):
    """What the WeCom robot checks: the key, the markdown shape, the content size."""
    if received.query.get("key") != "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa":
        return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, {}
    body = received.json
    if body.get("msgtype") != "markdown" or set(body) != {"msgtype", "markdown"}:
        return 200, {"errcode": 40008, "errmsg": "invalid message type"}, {}
    content = body["markdown"].get("content")
    if not isinstance(content, str) or len(content.encode()) > 4096:
        return 200, {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}, {}
    return 200, {"errcode": 0, "errmsg": "ok"}, {}


@pytest.fixture
async def receiver():
    r = await Receiver(answer=_robot).start()
    yield r
    await r.stop()


def _notifier(url: str) -> wecom.WecomNotifier:
    return wecom.WecomNotifier(models.WecomNotifier(kind="wecom", name="sre", url=url))


async def test_markdown_with_the_links_to_decide(receiver):
    url = receiver.url + "/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    notifier = _notifier(url)
    try:
        await notifier.send(waiting_message())
    finally:
        await notifier.close()
    [got] = receiver.requests
    assert got.path == "/cgi-bin/webhook/send"
    content = got.json["markdown"]["content"]
    assert content.startswith("**web-1: rollback waits for approval (http-5xx)**\n")
    assert '<font color="warning">critical</font>' in content
    assert (
        "[Approve rollback](https://rollsafe.example.com/links/run-abc123/approve?token=A.B)"
        in (content)
    )
    assert "[Reject](https://rollsafe.example.com/links/run-abc123/reject?token=C.D)" in content


async def test_a_long_text_is_cut_to_the_limit_but_keeps_the_links(receiver):
    url = receiver.url + "/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    notifier = _notifier(url)
    try:
        await notifier.send(waiting_message(text="回滚 " * 3000))
    finally:
        await notifier.close()
    content = receiver.requests[0].json["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert "approve?token=A.B" in content


async def test_errcodes_are_errors(receiver):
    notifier = _notifier(receiver.url + "/cgi-bin/webhook/send?key=wrong")
    try:
        with pytest.raises(errors.PermanentError, match="93000"):
            await notifier.send(waiting_message())
    finally:
        await notifier.close()


async def test_rate_limiting_is_temporary():
    receiver = await Receiver(
        answer=lambda _: (200, {"errcode": 45009, "errmsg": "api freq out of limit"}, {})
    ).start()
    notifier = _notifier(receiver.url + "/send?key=k")
    try:
        with pytest.raises(errors.TemporaryError, match="45009"):
            await notifier.send(waiting_message())
    finally:
        await notifier.close()
        await receiver.stop()
