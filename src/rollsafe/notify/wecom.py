"""WeCom (WeChat Work) group robot: markdown messages to a group's webhook.

``POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`` with
``{"msgtype": "markdown", "markdown": {"content": ...}}``. The content is at most 4096 bytes
of UTF-8; WeCom markdown knows headings, bold, links, quotes and
``<font color="info|comment|warning">``. The robot has no buttons: a waiting run gets its
signed approve/reject links as markdown links. WeCom answers HTTP 200 with
``{"errcode": 0, "errmsg": "ok"}``; a non-zero ``errcode`` is an error (45009: rate limited,
retried; anything else, such as an invalid key, is permanent).
"""

from __future__ import annotations

from rollsafe.config import models
from rollsafe.domain import errors, verdicts
from rollsafe.notify import messages, webhook_posting

__all__ = ["CONTENT_LIMIT", "WecomNotifier", "markdown_for"]

CONTENT_LIMIT = 4096  # bytes of UTF-8
_RATE_LIMITED = frozenset({45009})
_COLOR = {
    verdicts.Severity.OK: "info",
    verdicts.Severity.WARNING: "warning",
    verdicts.Severity.CRITICAL: "warning",
}


class WecomNotifier:
    def __init__(self, config: models.WecomNotifier) -> None:
        self.name = config.name
        self._config = config
        self._poster = webhook_posting.Poster(f"wecom {config.name}")

    async def send(self, message: messages.Message) -> None:
        url = webhook_posting.resolve_url(
            self._config.url, self._config.url_env, what=f"wecom {self.name}"
        )
        payload = {"msgtype": "markdown", "markdown": {"content": markdown_for(message)}}
        answer = await self._poster.post(url, payload=payload)
        check_errcode(answer, what=f"wecom {self.name}", rate_limited=_RATE_LIMITED)

    async def close(self) -> None:
        await self._poster.close()


def markdown_for(message: messages.Message) -> str:
    """The WeCom markdown of ``message``, cut to the robot's 4096-byte limit."""
    color = _COLOR.get(message.severity, "comment")
    lines = [
        f"**{message.title}**",
        message.text,
        f'> <font color="{color}">{message.severity.label}</font> · {message.event}'
        + (f" · target {message.target}" if message.target else "")
        + (f" · run {message.run_id}" if message.run_id else ""),
    ]
    actions = []
    if message.awaiting_approval:
        if message.links.get(messages.APPROVE):
            actions.append(f"[Approve rollback]({message.links[messages.APPROVE]})")
        if message.links.get(messages.REJECT):
            actions.append(f"[Reject]({message.links[messages.REJECT]})")
    if message.links.get(messages.DASHBOARD):
        actions.append(f"[Dashboard]({message.links[messages.DASHBOARD]})")
    if actions:
        lines.append("    ".join(actions))
    tail = "\n".join(lines[2:])
    head = "\n".join(lines[:2])
    # Keep the links whole: cut the text, never the actions.
    room = CONTENT_LIMIT - len(tail.encode("utf-8")) - 1
    return _cut_utf8(head, room) + "\n" + tail


def check_errcode(
    answer: webhook_posting.Answer, *, what: str, rate_limited: frozenset[int]
) -> None:
    """Raise for a ``{"errcode": N}`` answer with N != 0 (WeCom and DingTalk share this)."""
    data = answer.data
    if not isinstance(data, dict) or "errcode" not in data:
        raise errors.PermanentError(f"{what}: unexpected answer {answer.body[:100]!r}")
    code = data.get("errcode")
    if code == 0:
        return
    text = f"{what}: errcode {code}: {data.get('errmsg', '')}"
    if code in rate_limited:
        raise errors.TemporaryError(text, retry_after=60.0)
    raise errors.PermanentError(text)


def _cut_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: max(0, limit - 3)].decode("utf-8", "ignore") + "…"
