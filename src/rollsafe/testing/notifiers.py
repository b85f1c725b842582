"""A notifier that records what it was asked to send, and can be told to fail."""

from __future__ import annotations

from rollsafe.domain import errors
from rollsafe.notify import messages


class RecordingNotifier:
    """Implements ``rollsafe.notify.channels.Notifier``; ``sent`` holds delivered messages."""

    def __init__(self, name: str = "recording", *, failures: int = 0) -> None:
        self.name = name
        self.sent: list[messages.Message] = []
        self.attempts = 0
        self._failures = failures
        self.closed = False

    async def send(self, message: messages.Message) -> None:
        self.attempts += 1
        if self._failures > 0:
            self._failures -= 1
            raise errors.TemporaryError("scripted failure")
        self.sent.append(message)

    async def close(self) -> None:
        self.closed = True
