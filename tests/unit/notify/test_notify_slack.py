"""Slack: Block Kit payloads to an incoming webhook, and Slack's v0 request signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse

import pytest
from notify_receivers import Receiver, waiting_message

from rollsafe.config import models
from rollsafe.domain import errors, verdicts
from rollsafe.notify import messages, slack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the shape of a Slack signing secret


def _config(url: str, **extra) -> models.SlackNotifier:
    return models.SlackNotifier(kind="slack", name="ops", url=url, **extra)


def _incoming_webhook(received):
    """What Slack's incoming webhook accepts: JSON with text and well-formed blocks."""
    assert received.headers["Content-Type"].startswith("application/json")
    body = received.json
    if not isinstance(body.get("text"), str) or not isinstance(body.get("blocks"), list):
        return 400, "invalid_payload", {}
    for block in body["blocks"]:
        if block["type"] not in {"header", "section", "context", "actions", "divider"}:
            return 400, "invalid_blocks", {}
        if block["type"] == "header" and len(block["text"]["text"]) > 150:
            return 400, "invalid_blocks", {}
    return 200, "ok", {}


@pytest.fixture
async def receiver():
    r = await Receiver(answer=_incoming_webhook).start()
    yield r
    await r.stop()


async def test_a_waiting_run_is_posted_as_block_kit_with_link_buttons(receiver):
    notifier = slack.SlackNotifier(_config(receiver.url + "/services/T000/B000/XXXX"))
    try:
        await notifier.send(waiting_message())
    finally:
        await notifier.close()

    [got] = receiver.requests
    assert got.path == "/services/T000/B000/XXXX"
    body = got.json
    assert body["text"].startswith("web-1: rollback waits for approval")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "context", "actions"]
    header, section, context, actions = body["blocks"]
    assert header["text"]["type"] == "plain_text"
    assert "web-1: rollback waits for approval" in header["text"]["text"]
    assert section["text"]["type"] == "mrkdwn"
    # Slack's control characters are escaped in mrkdwn.
    assert "&lt;since upgrade&gt; &amp; rising" in section["text"]["text"]
    assert (
        "<https://rollsafe.example.com/dashboard/#run=run-abc123|"
        in (context["elements"][0]["text"])
    )
    approve, reject = actions["elements"]
    assert approve["url"].endswith("/approve?token=A.B")
    assert approve["style"] == "primary"
    assert reject["url"].endswith("/reject?token=C.D")
    assert reject["style"] == "danger"


async def test_interactive_buttons_carry_the_run_id_for_the_actions_endpoint(receiver):
    config = _config(receiver.url + "/hook", interactive=True, signing_secret_env="SLACK_SIGNING")
    notifier = slack.SlackNotifier(config)
    try:
        await notifier.send(waiting_message())
    finally:
        await notifier.close()

    actions = receiver.requests[0].json["blocks"][-1]
    assert actions["type"] == "actions"
    approve, reject = actions["elements"]
    assert (approve["action_id"], approve["value"]) == (slack.APPROVE_ACTION, "run-abc123")
    assert (reject["action_id"], reject["value"]) == (slack.REJECT_ACTION, "run-abc123")
    assert "url" not in approve
    assert approve["confirm"]["confirm"]["text"] == "Roll back"


async def test_a_plain_message_has_no_buttons(receiver):
    notifier = slack.SlackNotifier(_config(receiver.url + "/hook"))
    message = messages.Message(
        event="decision.warning",
        severity=verdicts.Severity.WARNING,
        title="web-1: warning (latency)" + "x" * 300,
        text="p99 1.2s > 0.8s",
        target="web-1",
    )
    try:
        await notifier.send(message)
    finally:
        await notifier.close()
    blocks = receiver.requests[0].json["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert len(blocks[0]["text"]["text"]) <= 150


async def test_the_url_can_come_from_the_environment(receiver, monkeypatch):
    monkeypatch.setenv("SLACK_HOOK", receiver.url + "/from-env")
    notifier = slack.SlackNotifier(
        models.SlackNotifier(kind="slack", name="ops", url_env="SLACK_HOOK")
    )
    try:
        await notifier.send(waiting_message())
    finally:
        await notifier.close()
    assert receiver.requests[0].path == "/from-env"


async def test_answers_are_classified_for_the_dispatcher():
    answers = iter([(404, "no_service", {}), (429, "rate_limited", {"Retry-After": "7"})])
    receiver = await Receiver(answer=lambda _: next(answers)).start()
    notifier = slack.SlackNotifier(_config(receiver.url + "/hook"))
    try:
        with pytest.raises(errors.PermanentError, match="404: no_service"):
            await notifier.send(waiting_message())
        with pytest.raises(errors.TemporaryError) as caught:
            await notifier.send(waiting_message())
        assert caught.value.retry_after == 7.0
        # The webhook URL holds a token: it must not appear in errors.
        assert "/hook" not in str(caught.value)
    finally:
        await notifier.close()
        await receiver.stop()


async def test_an_unreachable_webhook_is_temporary():
    notifier = slack.SlackNotifier(_config("http://127.0.0.1:9/services/SECRET"))
    try:
        with pytest.raises(errors.TemporaryError) as caught:
            await notifier.send(waiting_message())
    finally:
        await notifier.close()
    assert "SECRET" not in str(caught.value)


# --------------------------------------------------------------------------- request signatures


def _slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    # Written from Slack's documentation, independently of the module under test.
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _click_body(action_id: str = slack.APPROVE_ACTION, run_id: str = "run-abc123") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0123", "username": "alice", "name": "alice", "team_id": "T1"},
        "team": {"id": "T1", "domain": "example"},
        "response_url": "https://hooks.slack.com/actions/T1/1/xyz",
        "actions": [{"action_id": action_id, "value": run_id, "type": "button"}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def test_a_genuine_fresh_request_passes():
    body = _click_body()
    now = 1_700_000_000
    signature = _slack_signature(SECRET, str(now), body)
    assert slack.sign_request(SECRET, timestamp=str(now), body=body) == signature
    slack.verify_request(SECRET, timestamp=str(now), signature=signature, body=body, now=now + 299)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"secret": "another-secret"}, "does not match"),
        ({"body": _click_body(slack.REJECT_ACTION)}, "does not match"),
        ({"now": 1_700_000_000 + 301}, "too old"),
        ({"now": 1_700_000_000 - 301}, "too old"),
        ({"timestamp": None}, "missing"),
        ({"signature": None}, "missing"),
        ({"timestamp": "yesterday"}, "not a number"),
        ({"signature": "v0=ünïcode"}, "does not match"),
    ],
)
def test_forged_stale_or_incomplete_requests_are_refused(change, why):
    body = _click_body()
    timestamp = "1700000000"
    signed = _slack_signature(change.get("secret", SECRET), timestamp, body)
    with pytest.raises(slack.SlackRequestRefused, match=why):
        slack.verify_request(
            SECRET,
            timestamp=change.get("timestamp", timestamp),
            signature=change.get("signature", signed),
            body=change.get("body", body),
            now=change.get("now", 1_700_000_000),
        )


def test_a_click_names_the_person_the_action_and_the_run():
    click = slack.parse_action(_click_body(slack.REJECT_ACTION, "run-xyz"))
    assert click.action == "reject"
    assert click.run_id == "run-xyz"
    assert (click.user_id, click.user_name, click.team_id) == ("U0123", "alice", "T1")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"payload=not-json",
        urllib.parse.urlencode({"payload": json.dumps({"type": "view_submission"})}).encode(),
        _click_body("rollsafe_link_approve"),
    ],
)
def test_other_interactions_are_refused(body):
    with pytest.raises(slack.SlackRequestRefused):
        slack.parse_action(body)
