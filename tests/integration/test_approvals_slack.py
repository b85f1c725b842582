"""Slack interactive buttons against the real app: Slack's v0 signature, approvers, decisions."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import urllib.parse

import pytest
from approvals_setup import SLACK_SECRET, Controller, make_config

from rollsafe.domain import runs


@pytest.fixture
async def controller(tmp_path):
    c = Controller(tmp_path)
    yield c
    await c.close()


def _click(run_id: str, *, action: str = "rollsafe_approve", user=("U-ALICE", "alice")) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user[0], "username": user[1], "name": user[1], "team_id": "T1"},
        "team": {"id": "T1", "domain": "example"},
        "actions": [{"action_id": action, "value": run_id, "type": "button"}],
        "response_url": "https://hooks.slack.com/actions/T1/1/x",
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def _signed(body: bytes, timestamp: int, secret: str = SLACK_SECRET) -> dict[str, str]:
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def _post(controller, body, headers):
    return await controller.client.post("/slack/actions", content=body, headers=headers)


async def test_an_approvers_click_approves_and_the_audit_names_them(controller):
    run, task = await controller.waiting_run()
    body = _click(run.id)
    answer = await _post(controller, body, _signed(body, int(controller.clock.now())))
    assert answer.status_code == 200, answer.text
    assert answer.json()["decided_by"] == "slack:alice"
    assert (await asyncio.wait_for(task, 10)).state is runs.RunState.SUCCEEDED
    [approved] = [
        e.entry for e in controller.store.list_audit_events() if e.entry.action == "run.approved"
    ]
    assert approved.actor == "slack:alice"
    assert approved.details["slack_user_id"] == "U-ALICE"
    assert approved.details["via"] == "slack"


async def test_a_reject_click_by_name_rejects(controller):
    run, task = await controller.waiting_run()
    body = _click(run.id, action="rollsafe_reject", user=("U-BOB", "bob"))
    answer = await _post(controller, body, _signed(body, int(controller.clock.now())))
    assert answer.status_code == 200, answer.text
    assert (await asyncio.wait_for(task, 10)).state is runs.RunState.REJECTED


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        ("secret", 401),
        ("stale", 401),
        ("future", 401),
        ("body", 401),
        ("unsigned", 401),
        ("not_an_approver", 403),
    ],
)
async def test_what_is_not_provably_an_approvers_click_changes_nothing(controller, tamper, status):
    run, task = await controller.waiting_run()
    now = int(controller.clock.now())
    user = ("U-EVE", "eve") if tamper == "not_an_approver" else ("U-ALICE", "alice")
    body = _click(run.id, user=user)
    headers = _signed(
        body,
        now - 301 if tamper == "stale" else now + 301 if tamper == "future" else now,
        secret="guessed" if tamper == "secret" else SLACK_SECRET,
    )
    if tamper == "body":
        body = _click(run.id, action="rollsafe_reject")
    if tamper == "unsigned":
        del headers["X-Slack-Signature"]
    answer = await _post(controller, body, headers)
    assert answer.status_code == status, answer.text
    assert controller.store.get_run(run.id).approval.decision is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_click_on_a_finished_run_is_a_conflict(controller):
    run, task = await controller.waiting_run()
    controller.executor.reject(run.id, actor="cli:bob", reason="no")
    await asyncio.wait_for(task, 10)
    body = _click(run.id)
    answer = await _post(controller, body, _signed(body, int(controller.clock.now())))
    assert answer.status_code == 409


async def test_without_an_interactive_slack_notifier_the_endpoint_is_absent(tmp_path):
    config = make_config()
    plain = config.model_copy(update={"notifiers": []})
    c = Controller(tmp_path, plain)
    try:
        body = _click("run-1")
        answer = await _post(c, body, _signed(body, int(c.clock.now())))
        assert answer.status_code == 404
    finally:
        await c.close()
