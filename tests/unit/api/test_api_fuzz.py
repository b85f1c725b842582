"""OpenAPI-driven fuzzing of the API (schemathesis): whatever is sent, never a 5xx.

Bounded (50 examples per intake endpoint, 20 per other operation) to stay within seconds.
Runs only when schemathesis is installed (it is in the ``test`` extra).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from rollsafe.config import models
from rollsafe.interfaces.api import app as api_app
from rollsafe.storage import sql

_STATE = None


def _app():
    import tempfile
    from pathlib import Path

    global _STATE
    directory = Path(tempfile.mkdtemp(prefix="rollsafe-fuzz-"))
    _STATE = sql.open_store(directory)
    config = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": "web-1"}],
            "intake": [
                {"name": name, "kind": kind, "auth": {"kind": "none"}, "target_label": "instance"}
                for name, kind in [
                    ("alertmanager", "alertmanager"),
                    ("grafana", "grafana"),
                    ("aliyun", "aliyun"),
                    ("tencent", "tencent"),
                    ("generic", "generic"),
                ]
            ]
            + [
                {
                    "name": "sns",
                    "kind": "sns",
                    "topic_arn": "arn:aws:sns:us-east-1:123456789012:t",
                    "target_label": "InstanceId",
                },
                {
                    "name": "signed",
                    "kind": "generic",
                    "auth": {"kind": "hmac", "secret_env": "K"},
                    "target_label": "host",
                },
            ],
        }
    )

    async def no_network(url):
        raise OSError("no network in tests")

    return api_app.create_app(config, store=_STATE, environ={"K": "k"}, fetch=no_network)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())
ENDPOINTS = ["alertmanager", "grafana", "aliyun", "tencent", "generic", "sns", "signed", "nope"]
_FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@schema.include(path="/intake/{name}").parametrize()
@_FUZZ
def test_no_server_errors_at_the_intake(case, endpoint):
    case.path_parameters["name"] = endpoint  # aim at every kind of endpoint, not only 404s
    response = case.call()
    assert response.status_code < 500, (response.status_code, response.text)


@schema.exclude(path="/intake/{name}").parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_elsewhere(case):
    # The other routes (health, and the people's API when installed) with fewer examples:
    # without tokens configured most answer 401, which is the point here: never a 5xx.
    response = case.call()
    assert response.status_code < 500, (response.status_code, response.text)
