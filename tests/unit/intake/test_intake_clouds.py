"""Alibaba Cloud CloudMonitor (form-encoded) and Tencent Cloud Monitor (JSON) callbacks."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from rollsafe.detect.intake import aliyun, payloads, tencent
from rollsafe.domain import observations

FORM = {"content-type": "application/x-www-form-urlencoded"}


def aliyun_body(**overrides):
    fields = {
        "alertName": "cpu_total_high",
        "alertState": "ALERT",
        "curValue": "97.5",
        "dimensions": "{userId=12345, instanceId=i-bp1abc}",
        "expression": "$Average>90",
        "instanceName": "web-1-ecs",
        "metricName": "cpu_total",
        "metricProject": "acs_ecs_dashboard",
        "namespace": "acs_ecs_dashboard",
        "preTriggerLevel": "",
        "ruleId": "applyTemplatee147e59c-b6ea-4ea1",
        "signature": "eEq1zHuCUp0XSmLD8p8VtTKF****",
        "timestamp": "1767261600000",
        "triggerLevel": "CRITICAL",
        "userId": "12345",
        "lastTime": "2 minutes",
        "regionId": "cn-hangzhou",
        **overrides,
    }
    return urllib.parse.urlencode(fields).encode()


def test_aliyun_firing_alert():
    [alert] = aliyun.parse(aliyun_body(), headers=FORM, received_at=0.0)
    assert alert.name == "cpu_total_high"
    assert alert.state is observations.AlertState.FIRING
    assert alert.time == 1767261600.0  # milliseconds in, seconds out
    assert alert.labels["instanceId"] == "i-bp1abc"
    assert alert.labels["severity"] == "critical"
    assert alert.labels["region"] == "cn-hangzhou"
    assert "97.5" in alert.summary


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("OK", observations.AlertState.RESOLVED),
        ("ALARM", observations.AlertState.FIRING),
        ("INSUFFICIENT_DATA", None),
    ],
)
def test_aliyun_states(state, expected):
    [alert] = aliyun.parse(aliyun_body(alertState=state), headers=FORM, received_at=0.0)
    assert alert.state is expected


def test_aliyun_identity_is_rule_and_dimensions():
    [one] = aliyun.parse(aliyun_body(), headers=FORM, received_at=0.0)
    [resolved] = aliyun.parse(aliyun_body(alertState="OK"), headers=FORM, received_at=0.0)
    [other] = aliyun.parse(
        aliyun_body(dimensions="{userId=12345, instanceId=i-other}"), headers=FORM, received_at=0.0
    )
    assert one.identity == resolved.identity != other.identity


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("{userId=12345, instanceId=i-1}", {"userId": "12345", "instanceId": "i-1"}),
        ('[{"userId":"12345","instanceId":"i-1"}]', {"userId": "12345", "instanceId": "i-1"}),
        ('{"instanceId": "i-1"}', {"instanceId": "i-1"}),
        ("{}", {}),
        ("", {}),
    ],
)
def test_aliyun_dimension_forms(text, labels):
    assert aliyun.parse_dimensions(text) == labels


def test_aliyun_json_variant():
    body = json.dumps(
        {"alertName": "x", "alertState": "OK", "timestamp": "1767261600", "dimensions": "{}"}
    ).encode()
    [alert] = aliyun.parse(body, headers={"content-type": "application/json"}, received_at=0.0)
    assert alert.state is observations.AlertState.RESOLVED
    assert alert.time == 1767261600.0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (aliyun_body(alertName=""), "`alertName` is missing"),
        (aliyun_body(alertState="MAYBE"), "`alertState` is 'MAYBE'"),
        (aliyun_body(timestamp="noon"), "`timestamp`"),
        (aliyun_body(dimensions="{a b c}"), "`dimensions`"),
        (b"\xff\xfe", "not form-encoded UTF-8"),
        (b"a=1&&b", "not form-encoded"),
    ],
)
def test_aliyun_malformed(body, reason):
    with pytest.raises(payloads.Malformed, match=reason):
        aliyun.parse(body, headers=FORM, received_at=0.0)


def tencent_body(**overrides):
    body = {
        "sessionId": "xxxxxxxx",
        "alarmStatus": "1",
        "alarmType": "metric",
        "alarmObjInfo": {
            "region": "gz",
            "namespace": "qce/cvm",
            "dimensions": {"unInstanceId": "ins-o9p3rg3m", "objId": "xxxxxxxxxxxx"},
        },
        "alarmPolicyInfo": {
            "policyId": "policy-n4exeh88",
            "policyType": "cvm_device",
            "policyName": "cpu-high",
            "policyTypeCName": "CVM - basic monitor",
            "conditions": {
                "metricName": "cpu_usage",
                "metricShowName": "CPU utilization",
                "calcType": ">",
                "calcValue": "90",
                "currentValue": "100",
                "unit": "%",
                "period": "60",
                "periodNum": "1",
                "alarmNotifyType": "continuousAlarm",
                "alarmNotifyPeriod": 1,
            },
        },
        "firstOccurTime": "2026-01-01 18:00:00",
        "durationTime": 500,
        "recoverTime": "0",
    }
    body.update(overrides)
    return json.dumps(body).encode()


def test_tencent_firing_metric_alarm():
    [alert] = tencent.parse(tencent_body(), headers={}, received_at=0.0)
    assert alert.name == "cpu-high"
    assert alert.state is observations.AlertState.FIRING
    assert alert.time == 1767261600.0  # 18:00 at UTC+8
    assert alert.labels["unInstanceId"] == "ins-o9p3rg3m"
    assert alert.labels["metric"] == "cpu_usage"
    assert alert.summary == "cpu_usage 100% (> 90%)"


def test_tencent_resolved_times():
    [alert] = tencent.parse(
        tencent_body(alarmStatus=0, recoverTime="2026-01-01 18:10:00"), headers={}, received_at=0.0
    )
    assert alert.state is observations.AlertState.RESOLVED
    assert alert.time == 1767262200.0
    [alert] = tencent.parse(tencent_body(alarmStatus="0"), headers={}, received_at=0.0)
    assert alert.time == 1767261600.0 + 500  # firstOccurTime + durationTime


def test_tencent_offset_is_configurable():
    [alert] = tencent.parse(tencent_body(), headers={}, received_at=0.0, utc_offset_hours=0)
    assert alert.time == 1767261600.0 + 8 * 3600


def test_tencent_event_alarm():
    body = tencent_body(
        alarmType="event",
        alarmPolicyInfo={
            "policyId": "policy-1",
            "policyName": "reboots",
            "conditions": {"productName": "cvm", "eventName": "guest_reboot"},
        },
    )
    [alert] = tencent.parse(body, headers={}, received_at=0.0)
    assert alert.labels["event"] == "guest_reboot"
    assert alert.summary == "guest_reboot"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (tencent_body(alarmStatus="2"), "`alarmStatus`"),
        (tencent_body(alarmObjInfo=[]), "`alarmObjInfo`"),
        (tencent_body(firstOccurTime="yesterday"), "`firstOccurTime`"),
        (tencent_body(alarmPolicyInfo={"conditions": {}}), "names no policy"),
    ],
)
def test_tencent_malformed(body, reason):
    with pytest.raises(payloads.Malformed, match=reason):
        tencent.parse(body, headers={}, received_at=0.0)
