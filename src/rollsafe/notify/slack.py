"""Slack: incoming-webhook messages in Block Kit, and the verification of button clicks.

Sending: ``POST`` to the incoming webhook URL with ``{"text": fallback, "blocks": [...]}``: a
header, the text as a ``mrkdwn`` section, a context line (severity, target, run), and while a
run waits for a person an ``actions`` block. With ``interactive: true`` the buttons are
interactive (``action_id`` ``rollsafe_approve`` / ``rollsafe_reject``, ``value`` = run id) and
Slack posts clicks to rollsafe's ``/slack/actions``; otherwise they are URL buttons opening
the signed one-time links (``rollsafe.notify.links``).

Receiving: Slack signs each interaction request (``v0``): ``X-Slack-Signature`` is ``v0=`` +
hex HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{raw body}`` with the app's signing
secret; requests more than 5 minutes from now are refused (replay). ``verify_request`` does
that, ``parse_action`` reads the ``block_actions`` payload (form field ``payload``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors, verdicts
from rollsafe.notify import messages, webhook_posting

__all__ = [
    "APPROVE_ACTION",
    "REJECT_ACTION",
    "TOLERANCE_S",
    "Click",
    "SlackNotifier",
    "SlackRequestRefused",
    "blocks_for",
    "parse_action",
    "sign_request",
    "verify_request",
]

APPROVE_ACTION = "rollsafe_approve"
REJECT_ACTION = "rollsafe_reject"
TOLERANCE_S = 300.0
_HEADER_LIMIT = 150  # Block Kit: plain_text of a header
_SECTION_LIMIT = 3000  # Block Kit: text of a section
_ICON = {
    verdicts.Severity.OK: ":white_check_mark:",
    verdicts.Severity.WARNING: ":warning:",
    verdicts.Severity.CRITICAL: ":rotating_light:",
}


class SlackNotifier:
    """Posts Block Kit messages to one incoming webhook."""

    def __init__(self, config: models.SlackNotifier) -> None:
        self.name = config.name
        self._config = config
        self._poster = webhook_posting.Poster(f"slack {config.name}")

    async def send(self, message: messages.Message) -> None:
        url = webhook_posting.resolve_url(
            self._config.url, self._config.url_env, what=f"slack {self.name}"
        )
        payload = {
            "text": _clip(f"{message.title}: {message.text}", _SECTION_LIMIT),
            "blocks": blocks_for(message, interactive=self._config.interactive),
        }
        answer = await self._poster.post(url, payload=payload)
        # Incoming webhooks answer 200 "ok"; errors come as 4xx with a short code as the body.
        if answer.body.strip() not in (b"ok", b""):
            raise errors.PermanentError(
                f"slack {self.name}: unexpected answer {answer.body[:100]!r}"
            )

    async def close(self) -> None:
        await self._poster.close()


def blocks_for(message: messages.Message, *, interactive: bool) -> list[dict[str, Any]]:
    """The Block Kit blocks of ``message``."""
    icon = _ICON.get(message.severity, "")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"{icon} {message.title}".strip(), _HEADER_LIMIT),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(_escape(message.text), _SECTION_LIMIT)},
        },
    ]
    context = [f"*{message.severity.label}*", f"`{message.event}`"]
    if message.target:
        context.append(f"target `{_escape(message.target)}`")
    if message.run_id:
        context.append(f"run `{_escape(message.run_id)}`")
    dashboard = message.links.get(messages.DASHBOARD)
    if dashboard:
        context.append(f"<{dashboard}|open in the dashboard>")
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
    )
    buttons = _buttons(message, interactive=interactive)
    if buttons:
        blocks.append(
            {"type": "actions", "block_id": f"rollsafe:{message.run_id}", "elements": buttons}
        )
    return blocks


def _buttons(message: messages.Message, *, interactive: bool) -> list[dict[str, Any]]:
    if not message.awaiting_approval or not message.run_id:
        return []
    run_id = message.run_id
    approve: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Approve rollback"},
        "style": "primary",
    }
    reject: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Reject"},
        "style": "danger",
    }
    if interactive:
        approve |= {
            "action_id": APPROVE_ACTION,
            "value": run_id,
            "confirm": _confirm(f"Roll back {message.target} now?", "Roll back"),
        }
        reject |= {
            "action_id": REJECT_ACTION,
            "value": run_id,
            "confirm": _confirm(f"Reject the rollback of {message.target}?", "Reject"),
        }
        return [approve, reject]
    approve_url = message.links.get(messages.APPROVE)
    reject_url = message.links.get(messages.REJECT)
    if not approve_url or not reject_url:
        return []
    # URL buttons still send an interaction to the app (if any); the action ids say it's a link.
    approve |= {"action_id": "rollsafe_link_approve", "url": approve_url}
    reject |= {"action_id": "rollsafe_link_reject", "url": reject_url}
    return [approve, reject]


def _confirm(question: str, yes: str) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": "rollsafe"},
        "text": {"type": "mrkdwn", "text": _escape(question)},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- interactions


MAX_PAYLOAD_DEPTH = 32
"""Nesting of arrays/objects an interaction payload may have; Slack's own stay under 10."""
_TOO_DEEP = f"the interaction payload nests deeper than {MAX_PAYLOAD_DEPTH} levels"


class SlackRequestRefused(errors.PermanentError):
    """An interaction request that is not provably from Slack, or not one rollsafe handles."""


@dataclass(frozen=True, slots=True)
class Click:
    """A button click: who (``user_id``, ``user_name``), which action, on which run."""

    action: str  # "approve" | "reject"
    run_id: str
    user_id: str
    user_name: str
    team_id: str | None
    response_url: str | None


def sign_request(secret: str, *, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` Slack sends for ``body`` at ``timestamp`` (v0)."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def verify_request(
    secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance: float = TOLERANCE_S,
) -> None:
    """Raise SlackRequestRefused unless the request carries Slack's valid, fresh signature."""
    if not timestamp or not signature:
        raise SlackRequestRefused("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SlackRequestRefused("X-Slack-Request-Timestamp is not a number") from None
    if abs(now - sent_at) > tolerance:
        raise SlackRequestRefused("the request is too old (or from the future): possible replay")
    if not signature.isascii():
        raise SlackRequestRefused("the signature does not match")
    expected = sign_request(secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        raise SlackRequestRefused("the signature does not match")


def parse_action(body: bytes) -> Click:
    """The click in a ``block_actions`` interaction (form-encoded ``payload`` JSON)."""
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    raw = form.get("payload", [None])[0]
    if raw is None:
        raise SlackRequestRefused("no payload in the interaction request")
    try:
        payload: Any = json.loads(raw)
    except RecursionError:
        # The parser recursed too deep: a signed request can still carry this, and it is the
        # sender's mistake (400), never the server's (500).
        raise SlackRequestRefused(_TOO_DEEP) from None
    except ValueError:
        raise SlackRequestRefused("the interaction payload is not valid JSON") from None
    if _too_deep(payload):
        # Parsed, but repr() or str() of it in a message could still recurse too far.
        raise SlackRequestRefused(_TOO_DEEP)
    if not isinstance(payload, dict) or "type" not in payload or "user" not in payload:
        raise SlackRequestRefused("the interaction payload is not a Slack interaction")
    kind = payload["type"]
    user = payload["user"]
    actions = payload.get("actions") or []
    if kind != "block_actions" or not isinstance(actions, list) or not actions:
        raise SlackRequestRefused(f"unhandled interaction type {_short(kind)}")
    first = actions[0] if isinstance(actions[0], dict) else {}
    action_id = first.get("action_id")
    action = {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}.get(str(action_id))
    run_id = first.get("value")
    if action is None or not isinstance(run_id, str) or not run_id:
        raise SlackRequestRefused(f"unhandled action {_short(action_id)}")
    user_id = str(user.get("id", "")) if isinstance(user, dict) else ""
    user_name = (
        str(user.get("username") or user.get("name") or user_id) if isinstance(user, dict) else ""
    )
    if not user_id:
        raise SlackRequestRefused("the interaction names no user")
    team = payload.get("team")
    return Click(
        action=action,
        run_id=run_id,
        user_id=user_id,
        user_name=user_name,
        team_id=str(team.get("id")) if isinstance(team, dict) and team.get("id") else None,
        response_url=payload.get("response_url")
        if isinstance(payload.get("response_url"), str)
        else None,
    )


def _too_deep(value: Any) -> bool:
    """True when arrays/objects nest deeper than ``MAX_PAYLOAD_DEPTH`` (no recursion here)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_PAYLOAD_DEPTH:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
