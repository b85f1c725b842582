"""Alertmanager webhook payloads (version 4), written from Alertmanager's documentation."""

from __future__ import annotations

import json
import re

import pytest

from rollsafe.detect.intake import alertmanager, payloads
from rollsafe.domain import observations

FIRING = observations.AlertState.FIRING
RESOLVED = observations.AlertState.RESOLVED


def payload(*alerts, status="firing", **extra):
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "rollsafe",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "job": "api"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager-0:9093",
        "alerts": list(alerts),
        **extra,
    }
    return json.dumps(body).encode()


def alert(
    status="firing",
    *,
    instance="10.0.0.11:9100",
    starts="2026-01-01T10:00:00.123Z",
    ends="0001-01-01T00:00:00Z",
    fingerprint="1a2b3c4d5e6f7a8b",
    **labels,
):
    return {
        "status": status,
        "labels": {
            "alertname": "HighErrorRate",
            "instance": instance,
            "job": "api",
            "severity": "critical",
            **labels,
        },
        "annotations": {"summary": "5xx above 5%", "description": "long text"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus-0:9090/graph?g0.expr=...",
        "fingerprint": fingerprint,
    }


def test_firing_and_resolved_alerts():
    body = payload(
        alert(),
        alert("resolved", instance="10.0.0.12:9100", fingerprint="ff", ends="2026-01-01T10:05:00Z"),
    )
    firing, resolved = alertmanager.parse(body, headers={}, received_at=0.0)
    assert firing == payloads.Alert(
        name="HighErrorRate",
        state=FIRING,
        time=pytest.approx(1767261600.123),
        labels={
            "alertname": "HighErrorRate",
            "instance": "10.0.0.11:9100",
            "job": "api",
            "severity": "critical",
        },
        identity="1a2b3c4d5e6f7a8b",
        summary="5xx above 5%",
    )
    assert resolved.state is RESOLVED
    assert resolved.time == 1767261900.0  # endsAt: the alert's own time of resolution
    assert resolved.identity == "ff"


def test_resolved_without_ends_at_takes_the_receipt_time_later():
    [resolved] = alertmanager.parse(
        payload(alert("resolved", ends="0001-01-01T00:00:00Z")), headers={}, received_at=5.0
    )
    assert resolved.time is None  # mapping uses the receipt time, never startsAt


def test_without_fingerprint_the_identity_comes_from_the_labels():
    item = alert()
    del item["fingerprint"]
    [one] = alertmanager.parse(payload(item), headers={}, received_at=0.0)
    [two] = alertmanager.parse(payload(item), headers={}, received_at=0.0)
    assert one.identity
    assert one.identity == two.identity


def test_summary_falls_back_to_description_and_empty_alerts_are_fine():
    item = alert()
    item["annotations"] = {"description": "only this"}
    [found] = alertmanager.parse(payload(item), headers={}, received_at=0.0)
    assert found.summary == "only this"
    assert alertmanager.parse(payload(), headers={}, received_at=0.0) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b"{}", "`alerts` is missing"),
        (payload(version="3"), "version '3'"),
        (payload({"status": "pending", "labels": {}}), "expected firing or resolved"),
        (payload({"labels": {}}), "`alerts[0].status` is missing"),
        (payload(alert(starts="tomorrow")), "`alerts[0].startsAt`"),
        (payload(dict(alert(), labels={"a": [1]})), "`alerts[0].labels.a`"),
        (payload("x"), "`alerts[0]` is not an object"),
    ],
)
def test_malformed(body, reason):
    with pytest.raises(payloads.Malformed, match=re.escape(reason)):
        alertmanager.parse(body, headers={}, received_at=0.0)
