"""Grafana unified alerting webhook payloads and Grafana's HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from rollsafe.detect.intake import grafana, payloads, signing
from rollsafe.domain import observations


def payload(*alerts):
    return json.dumps(
        {
            "receiver": "rollsafe",
            "status": "firing",
            "orgId": 1,
            "alerts": list(alerts),
            "groupLabels": {"alertname": "High latency"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://grafana:3000/",
            "version": "1",
            "groupKey": '{}/{}:{alertname="High latency"}',
            "truncatedAlerts": 0,
            "title": "[FIRING:1] High latency",
            "state": "alerting",
            "message": "...",
        }
    ).encode()


def alert(status="firing", name="High latency", **extra):
    return {
        "status": status,
        "labels": {"alertname": name, "grafana_folder": "web", "instance": "web-1"},
        "annotations": {},
        "startsAt": "2026-01-01T10:00:00Z",
        "endsAt": "2026-01-01T10:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://grafana:3000/alerting/grafana/abc/view",
        "fingerprint": "57c6d9296de2ad39",
        "silenceURL": "http://grafana:3000/alerting/silence/new",
        "dashboardURL": "",
        "panelURL": "",
        "values": {"B": 1.23},
        "valueString": "[ var='B' labels={} value=1.23 ]",
        **extra,
    }


def test_alerts_like_alertmanager_with_value_string_as_summary():
    [firing, resolved] = grafana.parse(
        payload(alert(), alert("resolved")), headers={}, received_at=0.0
    )
    assert firing.state is observations.AlertState.FIRING
    assert firing.time == 1767261600.0
    assert firing.identity == "57c6d9296de2ad39"
    assert firing.summary.startswith("[ var='B'")
    assert resolved.state is observations.AlertState.RESOLVED
    assert resolved.time == 1767262200.0


def test_datasource_errors_are_blindness_not_alerts():
    found = grafana.parse(
        payload(alert(name="DatasourceNoData"), alert("resolved", name="DatasourceError")),
        headers={},
        received_at=0.0,
    )
    assert [(a.name, a.state) for a in found] == [("DatasourceNoData", None)]


def test_malformed():
    with pytest.raises(payloads.Malformed, match="`alerts` is missing"):
        grafana.parse(b'{"state": "alerting"}', headers={}, received_at=0.0)


SECRET = b"grafana-secret"
BODY = payload(alert())


def digest(message: bytes) -> str:
    return hmac.new(SECRET, message, hashlib.sha256).hexdigest()


def test_signature_over_the_body():
    grafana.verify_signature(
        BODY,
        secret=SECRET,
        signature=digest(BODY),
        timestamp=None,
        now=0.0,
        tolerance=300,
        timestamp_expected=False,
    )


def test_signature_with_a_timestamp_header():
    grafana.verify_signature(
        BODY,
        secret=SECRET,
        signature=digest(b"1000:" + BODY),
        timestamp="1000",
        now=1200.0,
        tolerance=300,
        timestamp_expected=True,
    )


@pytest.mark.parametrize(
    ("signature", "timestamp", "now", "expected", "reason"),
    [
        (None, None, 0.0, False, "missing Grafana signature"),
        ("00", None, 0.0, False, "wrong Grafana signature"),
        ("BODY", None, 0.0, True, "missing Grafana timestamp"),
        ("TS", "1000", 1400.0, True, "stale"),
        ("BODY", "1000", 1000.0, True, "wrong Grafana signature"),  # timestamp must be signed
    ],
)
def test_signature_refusals(signature, timestamp, now, expected, reason):
    if signature == "BODY":
        signature = digest(BODY)
    elif signature == "TS":
        signature = digest(b"1000:" + BODY)
    with pytest.raises(signing.Unauthenticated, match=reason):
        grafana.verify_signature(
            BODY,
            secret=SECRET,
            signature=signature,
            timestamp=timestamp,
            now=now,
            tolerance=300,
            timestamp_expected=expected,
        )
