"""Messages: what a notifier sends, built from decisions and run transitions.

A message is channel-neutral: a title, a markdown-ish text, who it is about, and the links a
person can act on (``links``: ``approve``, ``reject``, ``dashboard``). Each channel renders it
in its own format (Block Kit, WeCom markdown, a DingTalk action card, a Feishu card, email).
``fields`` are the values message templates may use (see ``rollsafe.notify.templates``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rollsafe.domain import verdicts

__all__ = ["APPROVE", "DASHBOARD", "REJECT", "Message"]

APPROVE = "approve"
REJECT = "reject"
DASHBOARD = "dashboard"


@dataclass(frozen=True, slots=True)
class Message:
    """One notification. ``event`` names what happened (``decision.warning``, ``run.failed``).

    ``awaiting_approval`` is true while a person can still approve or reject ``run_id``:
    channels that can show buttons show them then.
    """

    event: str
    severity: verdicts.Severity
    title: str
    text: str
    target: str | None = None
    run_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    awaiting_approval: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "severity": self.severity.label,
            "title": self.title,
            "text": self.text,
            "target": self.target,
            "run_id": self.run_id,
            "details": dict(self.details),
            "links": dict(self.links),
            "awaiting_approval": self.awaiting_approval,
        }
