"""``parse_action`` refuses deep or non-object payloads as a refusal (400), not a crash."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from rollsafe.notify import slack


def _body(payload: str) -> bytes:
    return urllib.parse.urlencode({"payload": payload}).encode()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _click(actions: str) -> str:
    return '{"type": "block_actions", "user": {"id": "U1"}, "actions": ' + actions + "}"


@pytest.mark.parametrize("depth", [slack.MAX_PAYLOAD_DEPTH, 500, 200_000])
def test_deep_nesting_is_refused(depth):
    with pytest.raises(slack.SlackRequestRefused, match="nests deeper than"):
        slack.parse_action(_body(_click(_nested(depth))))


def test_deep_nesting_inside_an_object_is_refused_too():
    deep = '{"a": ' * 50_000 + "1" + "}" * 50_000
    with pytest.raises(slack.SlackRequestRefused, match="nests deeper than"):
        slack.parse_action(_body(_click(f"[{deep}]")))


def test_nesting_as_deep_as_a_real_payload_is_accepted():
    blocks = {"blocks": [{"elements": [{"elements": [{"elements": [{"text": "x"}]}]}]}]}
    payload = {
        "type": "block_actions",
        "user": {"id": "U1", "username": "alice"},
        "message": blocks,
        "actions": [{"action_id": slack.APPROVE_ACTION, "value": "run-1"}],
    }
    click = slack.parse_action(_body(json.dumps(payload)))
    assert (click.action, click.run_id, click.user_name) == ("approve", "run-1", "alice")


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "3", "null", '{"type": "block_actions"}'])
def test_a_payload_that_is_not_an_interaction_is_refused(payload):
    with pytest.raises(slack.SlackRequestRefused, match="not a Slack interaction"):
        slack.parse_action(_body(payload))


def test_a_long_unhandled_type_is_shortened_in_the_refusal():
    payload = json.dumps({"type": "x" * 10_000, "user": {"id": "U1"}, "actions": [{}]})
    with pytest.raises(slack.SlackRequestRefused) as caught:
        slack.parse_action(_body(payload))
    assert len(str(caught.value)) < 200
