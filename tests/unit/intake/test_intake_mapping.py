"""Alerts -> observations: targets by label matchers, severity mapping, times, blindness."""

from __future__ import annotations

import pytest

from rollsafe.config import models
from rollsafe.detect.intake import mapping, payloads
from rollsafe.domain import alerts, observations

FIRING = observations.AlertState.FIRING
RESOLVED = observations.AlertState.RESOLVED
TARGETS = [
    models.Target(id="web-1", address="10.0.0.11", labels={"instance_id": "i-1"}),
    models.Target(id="web-2", address="10.0.0.12", labels={"instance_id": "i-2"}),
    models.Target(id="db-1", address="10.0.0.21"),
    models.Target(id="local-a", address="127.0.0.1"),
    models.Target(id="local-b", address="127.0.0.1"),
]


def endpoint(**fields):
    data = {"name": "am", "kind": "alertmanager", "auth": {"kind": "none"}, **fields}
    return models.AlertmanagerIntake.model_validate(data)


def alert(labels, *, state=FIRING, time=100.0, name="HighErrorRate", **extra):
    return payloads.Alert(
        name=name,
        state=state,
        time=time,
        labels={"alertname": name, **labels},
        identity="fp-1",
        summary="5xx",
        **extra,
    )


@pytest.mark.parametrize(
    ("fields", "labels", "expected"),
    [
        ({"target_label": "instance", "strip_port": True}, {"instance": "10.0.0.11:9100"}, "web-1"),
        ({"target_label": "instance"}, {"instance": "web-2"}, "web-2"),
        ({"target_label": "host"}, {"host": "db-1"}, "db-1"),
        (
            {"target_label": "InstanceId", "resolve_by": ["label:instance_id"]},
            {"InstanceId": "i-2"},
            "web-2",
        ),
        ({"target_label": "instance", "strip_port": True}, {"instance": "[::1]:9100"}, None),
    ],
)
def test_target_label(fields, labels, expected):
    mapper = mapping.Mapper(endpoint(**fields), TARGETS)
    targets, reason = mapper.targets_of(alert(labels))
    assert targets == ([expected] if expected else [])
    assert bool(reason) == (expected is None)


def test_strip_port_forms():
    assert mapping.strip_port("10.0.0.1:9100") == "10.0.0.1"
    assert mapping.strip_port("[fe80::1]:9100") == "fe80::1"
    assert mapping.strip_port("fe80::1") == "fe80::1"
    assert mapping.strip_port("web-1") == "web-1"
    assert mapping.strip_port("web-1:http") == "web-1:http"


def test_an_address_shared_by_two_targets_is_ambiguous_not_guessed():
    mapper = mapping.Mapper(endpoint(target_label="instance", strip_port=True), TARGETS)
    targets, reason = mapper.targets_of(alert({"instance": "127.0.0.1:8080"}))
    assert targets == []
    assert "ambiguous" in reason
    assert "local-a, local-b" in reason


def test_matchers_all_count_and_combine_with_the_label():
    mapper = mapping.Mapper(
        endpoint(
            target_label="instance",
            match=[
                {"labels": {"service": "api"}, "target": "web-1"},
                {"labels": {"service": "api", "env": "prod"}, "target": "web-2"},
                {"labels": {"service": "db"}, "target": "db-1"},
            ],
        ),
        TARGETS,
    )
    targets, _ = mapper.targets_of(alert({"service": "api", "env": "prod", "instance": "web-1"}))
    assert targets == ["web-1", "web-2"]  # no duplicate for web-1


def test_unmapped_alerts_say_why():
    mapper = mapping.Mapper(endpoint(target_label="instance"), TARGETS)
    result = mapper.map([alert({"job": "x"}), alert({"instance": "nowhere"})], received_at=200.0)
    assert result.observations == []
    assert [u.reason for u in result.unmapped] == [
        "no 'instance' label",
        "instance='nowhere' names no configured target",
    ]


def test_an_explicit_target_must_be_configured():
    mapper = mapping.Mapper(endpoint(target_label="instance"), TARGETS)
    assert mapper.targets_of(alert({}, target="web-1")) == (["web-1"], "")
    assert mapper.targets_of(alert({}, target="ghost"))[0] == []


def test_the_observation():
    mapper = mapping.Mapper(endpoint(target_label="instance", source="prometheus"), TARGETS)
    [obs] = mapper.map(
        [alert({"instance": "web-1", "severity": "Critical"})], received_at=200.0
    ).observations
    assert obs.time == 100.0
    assert obs.target == "web-1"
    assert obs.source == "prometheus"
    assert obs.value == 1.0
    assert obs.alert_state is FIRING
    details = alerts.AlertDetails.from_text(obs.text)
    assert details is not None
    assert details.identity == "fp-1"
    assert details.name == "HighErrorRate"
    assert details.severity == "critical"  # case-insensitive mapping
    assert details.labels["instance"] == "web-1"


def test_resolved_and_times_never_later_than_receipt():
    mapper = mapping.Mapper(endpoint(target_label="instance"), TARGETS)
    resolved, ahead, unknown = mapper.map(
        [
            alert({"instance": "web-1"}, state=RESOLVED, time=150.0),
            alert({"instance": "web-1"}, time=999.0),  # the sender's clock runs ahead
            alert({"instance": "web-1"}, time=None),
        ],
        received_at=200.0,
    ).observations
    assert (resolved.value, resolved.alert_state, resolved.time) == (0.0, RESOLVED, 150.0)
    assert ahead.time == 200.0
    assert unknown.time == 200.0


def test_cannot_tell_becomes_an_error_observation():
    mapper = mapping.Mapper(endpoint(target_label="instance"), TARGETS)
    [obs] = mapper.map(
        [alert({"instance": "web-1"}, state=None, name="DatasourceNoData")], received_at=200.0
    ).observations
    assert obs.error is not None
    assert "DatasourceNoData" in obs.error
    assert obs.alert_state is None
    assert obs.value is None


@pytest.mark.parametrize(
    ("mapping_config", "labels", "expected"),
    [
        ({}, {"severity": "critical"}, "critical"),
        ({}, {"severity": "page"}, "warning"),  # unknown value: the default
        ({}, {}, "warning"),
        (
            {"map": {"P1": "critical", "p3": "info"}, "default": "info"},
            {"severity": "p1"},
            "critical",
        ),
        ({"label": "priority", "map": {"high": "critical"}}, {"priority": "HIGH"}, "critical"),
        ({"default": "critical"}, {}, "critical"),
    ],
)
def test_severity_mapping(mapping_config, labels, expected):
    mapper = mapping.Mapper(endpoint(target_label="instance", severity=mapping_config), TARGETS)
    assert mapper.severity_of(alert(labels)) == expected
