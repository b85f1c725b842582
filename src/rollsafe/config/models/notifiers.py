"""Notifiers (``notifiers[]``): where people are told about decisions and runs, and the
message templates they may carry.
"""

from __future__ import annotations

import string
from typing import Annotated, Literal

from pydantic import Field, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.base import _ID_PATTERN, Model, SeverityName


class MessageTemplate(Model):
    """Overrides the wording of one kind of message: ``{field}`` placeholders (see notify)."""

    title: str | None = Field(default=None, description="e.g. '{target}: rollback {state}'")
    text: str | None = Field(default=None, description="Body; chat channels render it as markdown")

    @model_validator(mode="after")
    def _known_fields(self) -> MessageTemplate:
        for part in (self.title, self.text):
            if part is not None:
                _check_template(part)
        return self


TEMPLATE_FIELDS = frozenset(
    {
        "event",
        "severity",
        "title",
        "text",
        "target",
        "run_id",
        "rule",
        "state",
        "actor",
        "reason",
        "error",
        "mode",
        "deadline",
        "approve_url",
        "reject_url",
        "dashboard_url",
    }
)
"""Placeholders a message template may use (``rollsafe.notify.templates`` fills them)."""


def _check_template(template: str) -> None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed template {template!r}: {exc}") from None
    for _, name, _, _ in parsed:
        if name is not None and name not in TEMPLATE_FIELDS:
            known = ", ".join(sorted(TEMPLATE_FIELDS))
            raise ValueError(f"unknown placeholder {{{name}}} (known: {known})")


class NotifierBase(Model):
    """What every notifier has: a name, a severity floor, an event filter, templates."""

    name: str = Field(
        pattern=_ID_PATTERN, description="Name of the notifier, in the audit and in errors"
    )
    min_severity: SeverityName = Field(
        default="warning", description="Only decisions of this severity or worse are sent"
    )
    events: list[str] | None = Field(
        default=None,
        description="Only these events (shell patterns such as 'run.*'); default: all",
    )
    templates: dict[str, MessageTemplate] = Field(
        default_factory=dict,
        description="Event name (or '*') -> wording that replaces the built-in one",
    )


class _HasUrl(NotifierBase):
    """Chat webhooks: the URL carries the channel's token, so it may come from the environment."""

    url: str | None = Field(default=None, description="Webhook URL (it holds a token)")
    url_env: str | None = Field(default=None, description="Env var holding the webhook URL")

    @model_validator(mode="after")
    def _one_url(self) -> _HasUrl:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of `url` or `url_env`")
        return self


class WebhookNotifier(NotifierBase):
    kind: Literal["webhook"]
    url: str = Field(description="URL the JSON message is POSTed to")
    secret_env: str | None = Field(default=None, description="Env var holding the HMAC key")


class LogNotifier(NotifierBase):
    """Writes notifications to the daemon's log; useful locally and in tests."""

    kind: Literal["log"]


class SlackNotifier(_HasUrl):
    """Slack incoming webhook with Block Kit; optional interactive approve/reject buttons."""

    kind: Literal["slack"]
    interactive: bool = Field(
        default=False,
        description="Approve/reject buttons handled by rollsafe's /slack/actions endpoint "
        "(needs `signing_secret_env`); otherwise signed links when access.public_url is set",
    )
    signing_secret_env: str | None = Field(
        default=None, description="Env var holding the Slack app's signing secret"
    )
    approvers: list[str] | None = Field(
        default=None, description="Slack user ids or names allowed to click; default: anyone"
    )

    @model_validator(mode="after")
    def _buttons_need_secret(self) -> SlackNotifier:
        if self.interactive and self.signing_secret_env is None:
            raise ValueError("`interactive: true` needs `signing_secret_env`")
        return self


class WecomNotifier(_HasUrl):
    """WeCom (WeChat Work) group robot, markdown messages."""

    kind: Literal["wecom"]


class DingtalkNotifier(_HasUrl):
    """DingTalk custom robot; with ``secret_env`` every request is signed (加签)."""

    kind: Literal["dingtalk"]
    secret_env: str | None = Field(default=None, description="Env var holding the SEC... secret")
    at_mobiles: list[str] = Field(default_factory=list, description="Members to @ on messages")
    at_all: bool = Field(default=False, description="@ everyone in the group on each message")


class FeishuNotifier(_HasUrl):
    """Feishu / Lark custom bot; with ``secret_env`` every request carries its signature."""

    kind: Literal["feishu"]
    secret_env: str | None = Field(default=None, description="Env var holding the bot's secret")


class EmailNotifier(NotifierBase):
    """Plain SMTP (STARTTLS, implicit TLS or none), one message per notification."""

    kind: Literal["email"]
    host: str = Field(description="SMTP server")
    port: int = Field(
        default=587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 implicit TLS)"
    )
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls, ssl (implicit TLS) or none"
    )
    username: str | None = Field(default=None, description="SMTP login, with password_env")
    password_env: str | None = Field(default=None, description="Env var holding the password")
    sender: str = Field(description="From: address")
    to: list[str] = Field(min_length=1, description="Recipients")
    timeout: Duration = Field(default=30.0, description="Connect and send timeout")


Notifier = Annotated[
    WebhookNotifier
    | LogNotifier
    | SlackNotifier
    | WecomNotifier
    | DingtalkNotifier
    | FeishuNotifier
    | EmailNotifier,
    Field(discriminator="kind"),
]
