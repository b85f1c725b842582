"""schemathesis over every operation of the OpenAPI spec, with and without credentials.

With credentials (an admin's bearer token, which is also the token of the bearer intake
endpoint, and a valid Slack signature) requests get past authentication and reach the parsers
and handlers; without them they stop at the door. Either way: never a 5xx, and a response whose
status the spec documents conforms to its schema. The app runs in process over ASGI with a
real SQLite store in ``tmp_path``. Bounded and derandomized, to be quick and stable in CI.
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks
from schemathesis.specs.openapi import checks as openapi_checks

from rollsafe.config import models
from rollsafe.interfaces.api import app as api_app
from rollsafe.storage import sql

TOKEN = "fuzz-admin-token"
SLACK_SECRET = "fuzz-slack-secret"
ENDPOINTS = ["am", "grafana", "aliyun", "tencent", "gen", "sns", "bearer", "nope"]
CHECKS = [st_checks.not_a_server_error, openapi_checks.response_schema_conformance]
BOUNDED = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _config() -> models.RollsafeConfig:
    none = {"kind": "none"}
    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1"}],
            "server": {"max_body_bytes": 65536},
            "access": {
                "tokens": [{"name": "ops", "role": "admin", "token_env": "T"}],
                "link_key_env": "LINK",
            },
            "notifiers": [
                {
                    "name": "chat",
                    "kind": "slack",
                    "url": "http://127.0.0.1:9/hook",
                    "interactive": True,
                    "signing_secret_env": "SLACK",
                }
            ],
            "intake": [
                {"name": "am", "kind": "alertmanager", "auth": none, "target_label": "instance"},
                {"name": "grafana", "kind": "grafana", "auth": none, "target_label": "instance"},
                {"name": "aliyun", "kind": "aliyun", "auth": none, "target_label": "instanceId"},
                {
                    "name": "tencent",
                    "kind": "tencent",
                    "auth": none,
                    "target_label": "unInstanceId",
                },
                {"name": "gen", "kind": "generic", "auth": none, "target_label": "host"},
                {
                    "name": "sns",
                    "kind": "sns",
                    "topic_arn": "arn:aws:sns:us-east-1:123456789012:t",
                    "target_label": "InstanceId",
                },
                {
                    "name": "bearer",
                    "kind": "generic",
                    "auth": {"kind": "bearer", "token_env": "T"},
                    "target_label": "host",
                },
            ],
        }
    )


class _Current:
    """The ASGI app schemathesis talks to: each test's own app, with its own store."""

    app = None

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


CURRENT = _Current()


def _app(state_dir):
    store = sql.open_store(state_dir)

    async def certificate(url: str) -> bytes:
        return b"not a certificate"  # SNS signatures then fail: 401, never a fetch error

    environ = {"T": TOKEN, "SLACK": SLACK_SECRET, "LINK": "fuzz-link-key-0123456789abcdef"}
    return store, api_app.create_app(_config(), store=store, environ=environ, fetch=certificate)


@pytest.fixture(autouse=True)
def _fresh_app(tmp_path):
    store, CURRENT.app = _app(tmp_path / "state")
    yield
    CURRENT.app = None
    store.close()


def _spec_app():
    # The spec is read once, at collection, from an app like the tests' (its store unused).
    directory = Path(tempfile.mkdtemp(prefix="rollsafe-spec-"))
    _, CURRENT.app = _app(directory)
    return CURRENT


schema = schemathesis.openapi.from_asgi("/openapi.json", _spec_app())


def _credentials(case) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if case.path == "/slack/actions":
        # The route declares no body: schemathesis sends none, so sign the empty body.
        stamp = str(int(time.time()))
        digest = hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:".encode(), hashlib.sha256)
        headers["X-Slack-Request-Timestamp"] = stamp
        headers["X-Slack-Signature"] = f"v0={digest.hexdigest()}"
    return headers


def _targets(case, endpoints: list[str]) -> list[str]:
    """Where to send this case: for the intake, every kind of endpoint, not only 404s."""
    return endpoints if case.path == "/intake/{name}" else [""]


@schema.parametrize()
@BOUNDED
def test_every_operation_with_credentials(case):
    for endpoint in _targets(case, ENDPOINTS):
        if endpoint:
            case.path_parameters["name"] = endpoint
        headers = _credentials(case)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)


@schema.parametrize()
@BOUNDED
def test_every_operation_without_credentials(case):
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    for endpoint in _targets(case, ["am", "bearer"]):
        if endpoint:
            case.path_parameters["name"] = endpoint
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        if case.path.startswith("/api/v1") or endpoint == "bearer":
            # Stopped at the door (or earlier, by the body's size or form): never served.
            assert response.status_code in (400, 401, 404, 405, 413, 415, 422), response.status_code
