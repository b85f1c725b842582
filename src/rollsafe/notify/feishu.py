"""Feishu / Lark custom bot: interactive cards, signed when the bot has a secret.

``POST https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN`` (Lark:
``open.larksuite.com``). With signature verification on, the JSON body carries
``timestamp`` (seconds, as a string) and ``sign`` = base64(HMAC-SHA256 keyed with
``"{timestamp}\\n{secret}"`` over an empty message); Feishu refuses a timestamp more than an
hour off.

The message is ``{"msg_type": "interactive", "card": {...}}``: a coloured header (red for
critical, orange for warning), the text as ``lark_md``, and while a run waits for a person,
URL buttons opening the signed approve/reject links. Feishu answers
``{"code": 0, "msg": "success"}`` (older deployments: ``{"StatusCode": 0}``); 11232
(frequency limit) is retried, any other non-zero code is permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from rollsafe.config import models
from rollsafe.domain import clocks, errors, verdicts
from rollsafe.notify import messages, webhook_posting

__all__ = ["FeishuNotifier", "card_for", "sign"]

_RATE_LIMITED = frozenset({11232})
_TEMPLATE = {
    verdicts.Severity.OK: "green",
    verdicts.Severity.WARNING: "orange",
    verdicts.Severity.CRITICAL: "red",
}


def sign(secret: str, timestamp: int) -> str:
    """base64(HMAC-SHA256(key="{timestamp}\\n{secret}", message=b""))."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


class FeishuNotifier:
    def __init__(self, config: models.FeishuNotifier, *, clock: clocks.Clock | None = None) -> None:
        self.name = config.name
        self._config = config
        self._clock: clocks.Clock = clock or clocks.SystemClock()
        self._poster = webhook_posting.Poster(f"feishu {config.name}")

    async def send(self, message: messages.Message) -> None:
        what = f"feishu {self.name}"
        url = webhook_posting.resolve_url(self._config.url, self._config.url_env, what=what)
        payload: dict[str, Any] = {}
        if self._config.secret_env is not None:
            secret = webhook_posting.from_env(self._config.secret_env, what=what)
            timestamp = int(self._clock.now())
            payload |= {"timestamp": str(timestamp), "sign": sign(secret, timestamp)}
        payload |= {"msg_type": "interactive", "card": card_for(message)}
        answer = await self._poster.post(url, payload=payload)
        _check(answer, what=what)

    async def close(self) -> None:
        await self._poster.close()


def card_for(message: messages.Message) -> dict[str, Any]:
    """The message card of ``message``."""
    footer = f"{message.severity.label} · {message.event}"
    if message.target:
        footer += f" · target {message.target}"
    if message.run_id:
        footer += f" · run {message.run_id}"
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "lark_md", "content": message.text}},
        {"tag": "note", "elements": [{"tag": "plain_text", "content": footer}]},
    ]
    buttons: list[dict[str, Any]] = []
    approve = message.links.get(messages.APPROVE)
    reject = message.links.get(messages.REJECT)
    if message.awaiting_approval and approve and reject:
        buttons += [
            _button("Approve rollback", approve, "primary"),
            _button("Reject", reject, "danger"),
        ]
    dashboard = message.links.get(messages.DASHBOARD)
    if dashboard:
        buttons.append(_button("Dashboard", dashboard, "default"))
    if buttons:
        elements.append({"tag": "action", "actions": buttons})
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "title": {"tag": "plain_text", "content": message.title},
            "template": _TEMPLATE.get(message.severity, "blue"),
        },
        "elements": elements,
    }


def _button(text: str, url: str, kind: str) -> dict[str, Any]:
    return {
        "tag": "button",
        "text": {"tag": "plain_text", "content": text},
        "type": kind,
        "url": url,
    }


def _check(answer: webhook_posting.Answer, *, what: str) -> None:
    data = answer.data
    if not isinstance(data, dict):
        raise errors.PermanentError(f"{what}: unexpected answer {answer.body[:100]!r}")
    code = data.get("code", data.get("StatusCode"))
    if code == 0:
        return
    text = f"{what}: code {code}: {data.get('msg', data.get('StatusMessage', ''))}"
    if code in _RATE_LIMITED:
        raise errors.TemporaryError(text, retry_after=60.0)
    raise errors.PermanentError(text)
