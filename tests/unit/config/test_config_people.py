"""Configuration of people's access and of the chat notifiers: what is refused at load time."""

from __future__ import annotations

import pydantic
import pytest

from rollsafe.config import models


def _config(**sections):
    return models.RollsafeConfig.model_validate(sections)


def test_every_notifier_kind_loads():
    config = _config(
        notifiers=[
            {"kind": "slack", "name": "a", "url_env": "SLACK_URL", "interactive": True,
             "signing_secret_env": "SLACK_SIGNING", "approvers": ["U1"]},
            {"kind": "wecom", "name": "b", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"},
            {"kind": "dingtalk", "name": "c", "url_env": "DT_URL", "secret_env": "DT_SECRET",
             "at_mobiles": ["13800000000"]},
            {"kind": "feishu", "name": "d", "url_env": "FS_URL", "secret_env": "FS_SECRET",
             "events": ["run.*"], "min_severity": "critical"},
            {"kind": "email", "name": "e", "host": "smtp.example.com", "sender": "r@example.com",
             "to": ["oncall@example.com"], "password_env": "SMTP_PASSWORD", "username": "r"},
            {"kind": "webhook", "name": "f", "url": "https://example.com/hook",
             "templates": {"run.failed": {"title": "PAGE {target}"}}},
        ]
    )  # fmt: skip
    assert [n.kind for n in config.notifiers] == [
        "slack", "wecom", "dingtalk", "feishu", "email", "webhook"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("notifier", "message"),
    [
        ({"kind": "wecom", "name": "x"}, "exactly one of `url` or `url_env`"),
        ({"kind": "wecom", "name": "x", "url": "u", "url_env": "E"}, "exactly one"),
        ({"kind": "slack", "name": "x", "url": "u", "interactive": True}, "signing_secret_env"),
        ({"kind": "email", "name": "x", "host": "h", "sender": "s", "to": []}, "at least 1"),
        (
            {"kind": "log", "name": "x", "templates": {"*": {"text": "{nope}"}}},
            "unknown placeholder",
        ),
    ],
)
def test_mistakes_are_refused(notifier, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        _config(notifiers=[notifier])


def test_access_tokens_links_and_metrics():
    config = _config(
        access={
            "tokens": [
                {"name": "vera", "role": "viewer", "token_env": "V"},
                {"name": "ops", "role": "operator", "token_file": "ops.token"},
            ],
            "link_key_env": "LINK_KEY",
            "link_ttl": "30m",
            "public_url": "https://rollsafe.example.com",
        },
        policy={"approval": "require_approval", "on_approval_timeout": "proceed"},
    )
    assert config.access.link_ttl == 1800
    assert config.access.metrics_public is False
    assert config.policy.on_approval_timeout == "proceed"
    assert models.Policy().on_approval_timeout == "escalate"


@pytest.mark.parametrize(
    ("access", "message"),
    [
        ({"tokens": [{"name": "a", "role": "viewer"}]}, "exactly one of `token_env`"),
        ({"tokens": [{"name": "a", "role": "root", "token_env": "A"}]}, "viewer"),
        (
            {"tokens": [{"name": "a", "role": "viewer", "token_env": "A"},
                        {"name": "a", "role": "admin", "token_env": "B"}]},
            "duplicate token name",
        ),
        ({"link_key_env": "K", "link_key_file": "k"}, "at most one"),
    ],
)  # fmt: skip
def test_access_mistakes_are_refused(access, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        _config(access=access)
