"""Secrets never reach the audit log: keys that look secret are masked, at any depth."""

from __future__ import annotations

import pytest

from rollsafe.audit import redacting


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "secret",
        "client_secret",
        "token",
        "X-Auth-Token",
        "Authorization",
        "api_key",
        "apiKey",
        "APIKey",
        "AWS_SECRET_ACCESS_KEY",
        "access_key",
        "accesskey",
        "private_key",
        "key",
        "passphrase",
        "credentials",
        "Cookie",
    ],
)
def test_secret_keys_are_masked(key: str) -> None:
    assert redacting.redact({key: "hunter2"}) == {key: redacting.MASK}


@pytest.mark.parametrize(
    "key",
    ["step_key", "idempotency_key", "public_key", "target", "keyboard", "key_id", "author"],
)
def test_ordinary_keys_are_kept(key: str) -> None:
    assert redacting.redact({key: "value"}) == {key: "value"}


def test_masks_nested_values_and_whole_secret_subtrees() -> None:
    details = {
        "headers": {"Authorization": "Bearer abc", "Accept": "json"},
        "steps": [{"name": "restore", "token": "t0k"}, "plain"],
        "credentials": {"user": "u", "password": "p"},
        "count": 3,
    }
    assert redacting.redact(details) == {
        "headers": {"Authorization": redacting.MASK, "Accept": "json"},
        "steps": [{"name": "restore", "token": redacting.MASK}, "plain"],
        "credentials": redacting.MASK,
        "count": 3,
    }


def test_empty_secrets_are_left_as_they_are() -> None:
    assert redacting.redact({"token": None, "password": ""}) == {"token": None, "password": ""}


def test_passwords_in_urls_and_bearer_credentials_in_text_are_masked() -> None:
    details = {
        "url": "postgresql://rollsafe:hunter2@db.internal:5432/rollsafe",
        "command": "curl -H 'Authorization: Bearer eyJhbGciOi.x-y_z' http://svc",
        "plain": "http://example.com/health",
    }
    assert redacting.redact(details) == {
        "url": "postgresql://rollsafe:***@db.internal:5432/rollsafe",
        "command": "curl -H 'Authorization: Bearer ***' http://svc",
        "plain": "http://example.com/health",
    }


def test_the_input_is_not_modified() -> None:
    details = {"nested": {"password": "p"}}
    redacting.redact(details)
    assert details == {"nested": {"password": "p"}}
