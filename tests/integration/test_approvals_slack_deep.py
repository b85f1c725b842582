"""A validly signed Slack interaction whose payload nests absurdly deep is the sender's error."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import urllib.parse

import pytest
from approvals_setup import SLACK_SECRET, Controller


@pytest.fixture
async def controller(tmp_path):
    c = Controller(tmp_path)
    yield c
    await c.close()


def _signed(body: bytes, timestamp: int) -> dict[str, str]:
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(SLACK_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


@pytest.mark.parametrize("depth", [100, 5_000])
async def test_a_signed_but_deeply_nested_payload_is_a_400(controller, depth):
    run, task = await controller.waiting_run()
    # 100: parses, but deeper than any Slack payload; 5 000: beyond the parser's recursion.
    nested = "[" * depth + "]" * depth
    payload = '{"type": "block_actions", "user": {"id": "U-ALICE"}, "actions": ' + nested + "}"
    body = urllib.parse.urlencode({"payload": payload}).encode()

    answer = await controller.client.post(
        "/slack/actions", content=body, headers=_signed(body, int(controller.clock.now()))
    )

    assert answer.status_code == 400, answer.text
    assert "nests deeper than" in answer.text
    assert controller.store.get_run(run.id).approval.decision is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
