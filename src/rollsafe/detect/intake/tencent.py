"""Tencent Cloud Observability Platform (Cloud Monitor) alarm callback -> alerts.

Role in the loop (detect): the JSON a notification template's API callback POSTs:
``sessionId``, ``alarmStatus`` ("1" alarming, "0" resolved; string or number),
``alarmType`` (``metric`` or ``event``), ``alarmObjInfo`` (``region``, ``namespace``,
``dimensions`` such as ``unInstanceId`` and ``objId``), ``alarmPolicyInfo`` (``policyId``,
``policyType``, ``policyName``, ``conditions`` with ``metricName``, ``calcType``,
``calcValue``, ``currentValue``, ``unit``; or, for events, ``eventName``), ``firstOccurTime``
and ``recoverTime`` (``YYYY-MM-DD HH:MM:SS`` local time; "0" when not recovered) and
``durationTime`` (seconds). Every dimension becomes a label (``unInstanceId`` can name the
target). A firing alarm's time is ``firstOccurTime``; a resolved one's ``recoverTime`` (or
``firstOccurTime + durationTime``).

The callback has no authentication mechanism of its own: authenticate it with a token in the
callback URL (``auth: {kind: bearer, allow_query: true}``).

Pure: bytes in, alerts out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rollsafe.detect.intake import payloads
from rollsafe.domain import observations

__all__ = ["parse"]

_EXPECTED = "a Tencent Cloud alarm callback (JSON with alarmStatus, alarmObjInfo, alarmPolicyInfo)"


def parse(
    body: bytes,
    *,
    headers: Mapping[str, str],
    received_at: float,
    utc_offset_hours: float = 8.0,
) -> list[payloads.Alert]:
    """The alarm of one callback; Malformed if it is not one."""
    del headers, received_at
    data = payloads.json_object(body, what=_EXPECTED)
    status = payloads.text_of(data.get("alarmStatus"), field_name="alarmStatus").strip()
    if status not in ("0", "1"):
        raise payloads.Malformed(f'`alarmStatus` is {status!r} (expected "1" or "0")')
    state = observations.AlertState.FIRING if status == "1" else observations.AlertState.RESOLVED
    target_info = _object(data, "alarmObjInfo")
    policy = _object(data, "alarmPolicyInfo")
    conditions = policy.get("conditions")
    if not isinstance(conditions, dict):
        conditions = {}
    labels: dict[str, str] = {}
    for key in ("region", "namespace"):
        text = payloads.text_of(target_info.get(key), field_name=f"alarmObjInfo.{key}")
        if text:
            labels[key] = text
    dimensions = payloads.labels_of(
        target_info.get("dimensions"), field_name="alarmObjInfo.dimensions"
    )
    labels.update(dimensions)
    name = payloads.text_of(policy.get("policyName"), field_name="alarmPolicyInfo.policyName")
    policy_id = payloads.text_of(policy.get("policyId"), field_name="alarmPolicyInfo.policyId")
    metric = payloads.text_of(conditions.get("metricName"), field_name="conditions.metricName")
    event = payloads.text_of(conditions.get("eventName"), field_name="conditions.eventName")
    alarm_type = payloads.text_of(data.get("alarmType"), field_name="alarmType") or "metric"
    labels["alarmType"] = alarm_type
    if metric:
        labels["metric"] = metric
    if event:
        labels["event"] = event
    if policy_id:
        labels["policyId"] = policy_id
    name = name or metric or event or policy_id
    if not name:
        raise payloads.Malformed("`alarmPolicyInfo` names no policy, metric or event")
    labels["alertname"] = name
    first = payloads.parse_local_time(
        payloads.text_of(data.get("firstOccurTime"), field_name="firstOccurTime"),
        utc_offset_hours=utc_offset_hours,
        field_name="firstOccurTime",
    )
    time = first
    if state is observations.AlertState.RESOLVED:
        time = payloads.parse_local_time(
            payloads.text_of(data.get("recoverTime"), field_name="recoverTime"),
            utc_offset_hours=utc_offset_hours,
            field_name="recoverTime",
        )
        duration = _seconds(data.get("durationTime"))
        if time is None and first is not None and duration is not None:
            time = first + duration
    summary = ""
    if metric:
        current = payloads.text_of(conditions.get("currentValue"), field_name="currentValue")
        calc = payloads.text_of(conditions.get("calcType"), field_name="calcType")
        limit = payloads.text_of(conditions.get("calcValue"), field_name="calcValue")
        unit = payloads.text_of(conditions.get("unit"), field_name="unit")
        summary = f"{metric} {current}{unit} ({calc} {limit}{unit})".strip()
    elif event:
        summary = event
    return [
        payloads.Alert(
            name=name,
            state=state,
            time=time,
            labels=labels,
            identity=payloads.identity_of(f"{policy_id}/{metric or event}", dimensions),
            summary=summary,
        )
    ]


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise payloads.Malformed(f"`{key}` is missing or not an object (expected {_EXPECTED})")
    return value


def _seconds(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None
