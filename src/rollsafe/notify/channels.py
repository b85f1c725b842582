"""Notification channels: the daemon's log, and a generic JSON webhook with optional HMAC.

Chat channels (Slack, WeCom, DingTalk, Feishu, email) are a later issue; they plug in here
through the same ``Notifier`` Protocol and ``FACTORIES`` map.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from typing import Protocol

import aiohttp

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.notify import messages

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
    """POSTs the message as JSON. With ``secret_env`` set, signs the body with HMAC-SHA256."""

    def __init__(self, config: models.WebhookNotifier) -> None:
        self.name = config.name
        self._url = config.url
        self._secret_env = config.secret_env
        self._session: aiohttp.ClientSession | None = None

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
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._session.post(self._url, data=body, headers=headers) as response:
                if response.status >= 500 or response.status == 429:
                    raise errors.TemporaryError(f"webhook answered {response.status}")
                if response.status >= 400:
                    raise errors.PermanentError(f"webhook answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise errors.TemporaryError(f"webhook unreachable: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def build(config: models.Notifier) -> Notifier:
    """The notifier for ``config`` (the union is discriminated on ``kind``)."""
    if isinstance(config, models.WebhookNotifier):
        return WebhookNotifier(config)
    return LogNotifier(config)
