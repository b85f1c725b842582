"""Alibaba Cloud CloudMonitor threshold alert callback -> alerts.

Role in the loop (detect): CloudMonitor POSTs an alert rule's state changes to the rule's
callback URL as ``application/x-www-form-urlencoded`` fields: ``alertName``, ``alertState``
(``ALERT`` firing, ``OK`` resolved, ``INSUFFICIENT_DATA`` cannot tell), ``timestamp`` (Unix
time; seconds or milliseconds, both are seen), ``dimensions`` (the object alerted on, written
``{userId=12345, instanceId=i-12345}``, or as JSON in older callbacks), ``metricName``,
``metricProject``, ``namespace``, ``curValue``, ``expression``, ``instanceName``, ``ruleId``,
``triggerLevel`` (``CRITICAL``, ``WARN``, ``INFO``), ``preTriggerLevel``, ``regionId``,
``userId``, ``lastTime``, ``signature``. Every dimension becomes a label (so ``instanceId`` can
name the target); ``triggerLevel`` becomes the ``severity`` label (critical, warning, info).

CloudMonitor callbacks cannot carry an Authorization header: authenticate them with a token in
the callback URL (``auth: {kind: bearer, allow_query: true}``). A JSON body with the same
fields is accepted too (the form older documentation shows).

Pure: bytes in, alerts out.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from rollsafe.detect.intake import payloads
from rollsafe.domain import observations

__all__ = ["parse", "parse_dimensions"]

_STATES = {
    "ALERT": observations.AlertState.FIRING,
    "ALARM": observations.AlertState.FIRING,  # the spelling of some older callbacks
    "OK": observations.AlertState.RESOLVED,
    "INSUFFICIENT_DATA": None,
}
_LEVELS = {"CRITICAL": "critical", "WARN": "warning", "WARNING": "warning", "INFO": "info"}
_LABEL_FIELDS = {
    "metricName": "metric",
    "metricProject": "project",
    "namespace": "namespace",
    "regionId": "region",
    "instanceName": "instanceName",
    "ruleId": "ruleId",
    "userId": "userId",
}
_PAIR = re.compile(r"\s*([^=,{}\s][^=,{}]*?)\s*=\s*([^,{}]*?)\s*(?:,|$)")
_EXPECTED = "CloudMonitor callback fields (alertName, alertState, dimensions, ...)"


def parse(body: bytes, *, headers: Mapping[str, str], received_at: float) -> list[payloads.Alert]:
    """The alert of one CloudMonitor callback; Malformed if it is not one."""
    del received_at
    fields = _fields(body, content_type=headers.get("content-type", ""))
    name = fields.get("alertName", "")
    if not name:
        raise payloads.Malformed(f"`alertName` is missing (expected {_EXPECTED})")
    raw_state = fields.get("alertState", "")
    if raw_state not in _STATES:
        raise payloads.Malformed(
            f"`alertState` is {raw_state!r} (expected ALERT, OK or INSUFFICIENT_DATA)"
        )
    labels = {"alertname": name}
    for key, label in _LABEL_FIELDS.items():
        if fields.get(key):
            labels[label] = fields[key]
    level = _LEVELS.get(fields.get("triggerLevel", "").upper())
    if level is not None:
        labels["severity"] = level
    dimensions = parse_dimensions(fields.get("dimensions", ""))
    labels.update(dimensions)
    summary = " ".join(
        part
        for part in (
            fields.get("metricName", ""),
            f"= {fields['curValue']}" if fields.get("curValue") else "",
            f"({fields['expression']})" if fields.get("expression") else "",
        )
        if part
    )
    rule = fields.get("ruleId") or name
    return [
        payloads.Alert(
            name=name,
            state=_STATES[raw_state],
            time=payloads.epoch_of(fields.get("timestamp"), field_name="timestamp"),
            labels=labels,
            identity=payloads.identity_of(rule, dimensions),
            summary=summary,
        )
    ]


def parse_dimensions(text: str) -> dict[str, str]:
    """``{userId=1, instanceId=i-1}``, ``{"instanceId": "i-1"}`` or ``[{...}]`` -> labels."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith(("[", '{"')) or text == "{}":
        try:
            data: Any = payloads.loads(text, what="dimensions")
        except payloads.Malformed:  # not JSON (or absurdly deep): read as {k=v, ...} below
            data = None
        if isinstance(data, list):
            merged: dict[str, Any] = {}
            for item in data:
                if isinstance(item, dict):
                    merged.update(item)
            data = merged
        if isinstance(data, dict):
            return payloads.labels_of(data, field_name="dimensions")
    inner = text.removeprefix("{").removesuffix("}")
    if not inner.strip():
        return {}
    labels = {}
    position = 0
    while position < len(inner):
        match = _PAIR.match(inner, position)
        if match is None or match.end() == position:
            raise payloads.Malformed(
                f"`dimensions` {inner[:60]!r} is not key=value pairs (expected e.g. "
                "{userId=12345, instanceId=i-12345})"
            )
        labels[match[1]] = match[2]
        position = match.end()
    return labels


def _fields(body: bytes, *, content_type: str) -> dict[str, str]:
    if content_type.split(";", maxsplit=1)[0].strip().lower() == "application/json":
        data = payloads.json_object(body, what=_EXPECTED)
        return {
            str(key): payloads.text_of(value, field_name=str(key))
            if not isinstance(value, dict | list)
            else json.dumps(value)
            for key, value in data.items()
        }
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError) as exc:
        raise payloads.Malformed(f"not form-encoded UTF-8 (expected {_EXPECTED})") from exc
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields
