"""Notification channels: the ``Notifier`` protocol, the log and generic webhook channels, and
``build``, the one factory from a notifier's configuration to a channel.

Chat channels live one per module (``slack``, ``wecom``, ``dingtalk``, ``feishu``,
``email``); ``FACTORIES`` maps each configured ``kind`` to its constructor. A channel only
delivers: routing (severity floor, event filter) and templates are the dispatcher's job.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable
from typing import Any, Protocol

from rollsafe.config import models
from rollsafe.domain import clocks, errors
from rollsafe.notify import dingtalk, email, feishu, messages, slack, webhook_posting, wecom

__all__ = ["FACTORIES", "SIGNATURE_HEADER", "LogNotifier", "Notifier", "WebhookNotifier", "build"]

log = logging.getLogger("rollsafe.notify")

SIGNATURE_HEADER = "X-Rollsafe-Signature"


class Notifier(Protocol):
    name: str

    async def send(self, message: messages.Message) -> None:
        """Deliver once; raise TemporaryError (retry) or PermanentError (give up)."""

    async def close(self) -> None: ...


class LogNotifier:
    def __init__(self, config: models.LogNotifier) -> None:
        self.name = config.name

    async def send(self, message: messages.Message) -> None:
        log.warning("[%s] %s: %s", message.severity.label, message.title, message.text)

    async def close(self) -> None:
        return None


class WebhookNotifier:
    """POSTs the message as JSON. With ``secret_env`` set, signs the body with HMAC-SHA256:
    ``X-Rollsafe-Signature: sha256=<hex HMAC of the raw body>``."""

    def __init__(self, config: models.WebhookNotifier) -> None:
        self.name = config.name
        self._url = config.url
        self._secret_env = config.secret_env
        self._poster = webhook_posting.Poster(f"webhook {config.name}")

    def _secret(self) -> bytes | None:
        if self._secret_env is None:
            return None
        value = os.environ.get(self._secret_env)
        if not value:
            raise errors.PermanentError(f"environment variable {self._secret_env} is not set")
        return value.encode()

    async def send(self, message: messages.Message) -> None:
        body = json.dumps(message.to_json(), sort_keys=True).encode()
        headers = {"Content-Type": "application/json"}
        secret = self._secret()
        if secret is not None:
            digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        await self._poster.post(self._url, data=body, headers=headers)

    async def close(self) -> None:
        await self._poster.close()


def _with_clock(
    make: Callable[..., Notifier],
) -> Callable[[Any, clocks.Clock | None], Notifier]:
    def factory(config: Any, clock: clocks.Clock | None) -> Notifier:
        return make(config, clock=clock)

    return factory


def _plain(make: Callable[[Any], Notifier]) -> Callable[[Any, clocks.Clock | None], Notifier]:
    def factory(config: Any, clock: clocks.Clock | None) -> Notifier:
        return make(config)

    return factory


FACTORIES: dict[str, Callable[[Any, clocks.Clock | None], Notifier]] = {
    "log": _plain(LogNotifier),
    "webhook": _plain(WebhookNotifier),
    "slack": _plain(slack.SlackNotifier),
    "wecom": _plain(wecom.WecomNotifier),
    "dingtalk": _with_clock(dingtalk.DingtalkNotifier),
    "feishu": _with_clock(feishu.FeishuNotifier),
    "email": _plain(email.EmailNotifier),
}
"""``kind`` -> constructor. The signing channels take the clock (their signatures carry time)."""


def build(config: models.Notifier, *, clock: clocks.Clock | None = None) -> Notifier:
    """The notifier for ``config`` (the union is discriminated on ``kind``)."""
    try:
        factory = FACTORIES[config.kind]
    except KeyError:
        raise errors.ConfigError(f"no notifier of kind {config.kind!r}") from None
    return factory(config, clock)
