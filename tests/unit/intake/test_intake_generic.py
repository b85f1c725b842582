"""rollsafe's generic JSON alert form."""

from __future__ import annotations

import json

import pytest

from rollsafe.detect.intake import generic, payloads
from rollsafe.domain import observations


def test_full_form():
    body = json.dumps(
        {
            "alerts": [
                {
                    "name": "DiskFull",
                    "state": "firing",
                    "labels": {"instance": "10.0.0.11:9100", "severity": "critical"},
                    "time": "2026-01-01T10:00:00Z",
                    "id": "disk-root",
                    "summary": "/ is 97% full",
                    "target": "web-1",
                },
                {"name": "DiskFull", "state": "RESOLVED", "time": 1767261700},
            ]
        }
    ).encode()
    first, second = generic.parse(body, headers={}, received_at=0.0)
    assert first == payloads.Alert(
        name="DiskFull",
        state=observations.AlertState.FIRING,
        time=1767261600.0,
        labels={"instance": "10.0.0.11:9100", "severity": "critical", "alertname": "DiskFull"},
        identity="disk-root",
        summary="/ is 97% full",
        target="web-1",
    )
    assert second.state is observations.AlertState.RESOLVED
    assert second.time == 1767261700.0
    assert second.target is None


def test_a_single_alert_object_and_default_time():
    [alert] = generic.parse(b'{"name": "X", "state": "firing"}', headers={}, received_at=5.0)
    assert alert.time is None  # the mapping uses the receipt time


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{}", "no `alerts` list"),
        (b'{"alerts": {}}', "not a list"),
        (b'{"alerts": [{"state": "firing"}]}', "`alerts\\[0\\].name` is missing"),
        (b'{"alerts": [{"name": "", "state": "firing"}]}', "is empty"),
        (b'{"alerts": [{"name": "X", "state": "up"}]}', "expected firing or resolved"),
        (b'{"alerts": [{"name": "X", "state": "firing", "time": "noon"}]}', "time"),
        (b'{"alerts": [{"name": "X", "state": "firing", "labels": 3}]}', "labels"),
    ],
)
def test_malformed(body, reason):
    with pytest.raises(payloads.Malformed, match=reason):
        generic.parse(body, headers={}, received_at=0.0)
