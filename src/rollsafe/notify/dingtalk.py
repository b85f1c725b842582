"""DingTalk custom robot: markdown messages, action cards for runs waiting for a person.

``POST https://oapi.dingtalk.com/robot/send?access_token=TOKEN``. With the robot's signing
secret (``SEC...``, security setting 加签) every request adds two query parameters:
``timestamp`` (milliseconds) and ``sign`` = urlencode(base64(HMAC-SHA256(key=secret,
message="{timestamp}\\n{secret}"))); DingTalk refuses a timestamp more than an hour off.

Bodies: ``{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {...}}``, or, while a
run waits for a person and links are available, ``{"msgtype": "actionCard", "actionCard":
{"title", "text", "btnOrientation": "1", "btns": [{"title", "actionURL"}, ...]}}`` whose
buttons open the signed approve/reject links. DingTalk answers ``{"errcode": 0}``;
130101 (sending too fast) is retried, any other code is permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from typing import Any

from rollsafe.config import models
from rollsafe.domain import clocks
from rollsafe.notify import messages, webhook_posting, wecom

__all__ = ["DingtalkNotifier", "body_for", "sign", "signed_url"]

_RATE_LIMITED = frozenset({130101})


def sign(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")), not yet urlencoded."""
    text = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), text, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """``url`` with ``timestamp`` and the urlencoded ``sign`` appended to its query."""
    extra = urllib.parse.urlencode({"timestamp": timestamp_ms, "sign": sign(secret, timestamp_ms)})
    return f"{url}{'&' if urllib.parse.urlsplit(url).query else '?'}{extra}"


class DingtalkNotifier:
    def __init__(
        self, config: models.DingtalkNotifier, *, clock: clocks.Clock | None = None
    ) -> None:
        self.name = config.name
        self._config = config
        self._clock: clocks.Clock = clock or clocks.SystemClock()
        self._poster = webhook_posting.Poster(f"dingtalk {config.name}")

    async def send(self, message: messages.Message) -> None:
        what = f"dingtalk {self.name}"
        url = webhook_posting.resolve_url(self._config.url, self._config.url_env, what=what)
        if self._config.secret_env is not None:
            secret = webhook_posting.from_env(self._config.secret_env, what=what)
            url = signed_url(url, secret, int(self._clock.now() * 1000))
        answer = await self._poster.post(url, payload=body_for(message, self._config))
        wecom.check_errcode(answer, what=what, rate_limited=_RATE_LIMITED)

    async def close(self) -> None:
        await self._poster.close()


def body_for(message: messages.Message, config: models.DingtalkNotifier) -> dict[str, Any]:
    """The robot message for ``message``: an action card when a person can act, else markdown."""
    mentions = " ".join(f"@{m}" for m in config.at_mobiles)
    lines = [
        f"#### {message.title}",
        "",
        message.text,
        "",
        f"> {message.severity.label} · {message.event}"
        + (f" · target {message.target}" if message.target else "")
        + (f" · run {message.run_id}" if message.run_id else ""),
    ]
    dashboard = message.links.get(messages.DASHBOARD)
    approve = message.links.get(messages.APPROVE)
    reject = message.links.get(messages.REJECT)
    if message.awaiting_approval and approve and reject:
        buttons = [
            {"title": "Approve rollback", "actionURL": approve},
            {"title": "Reject", "actionURL": reject},
        ]
        if dashboard:
            buttons.append({"title": "Dashboard", "actionURL": dashboard})
        if mentions:
            lines += ["", mentions]
        return {
            "msgtype": "actionCard",
            "actionCard": {
                "title": message.title,
                "text": "\n".join(lines),
                "btnOrientation": "1",
                "btns": buttons,
            },
        }
    if dashboard:
        lines += ["", f"[Dashboard]({dashboard})"]
    if mentions:
        # DingTalk only notifies the members whose @mobile also appears in the text.
        lines += ["", mentions]
    return {
        "msgtype": "markdown",
        "markdown": {"title": message.title, "text": "\n".join(lines)},
        "at": {"atMobiles": list(config.at_mobiles), "isAtAll": config.at_all},
    }
