"""rollsafe's own JSON alert form -> alerts, for any sender without a parser of its own.

Role in the loop (detect)::

    {"alerts": [{"name": "DiskFull",              # required
                 "state": "firing",               # required: firing | resolved
                 "labels": {"instance": "10.0.0.11:9100", "severity": "critical"},
                 "time": "2026-01-01T10:00:00Z",  # RFC 3339 or Unix seconds; default: receipt
                 "id": "disk-full-root",          # stable identity; default: name + labels
                 "summary": "/ is 97% full",
                 "target": "web-1"}]}             # a target id, instead of label mapping

A single alert object (with ``name`` and ``state``) is accepted in place of the list. Give
``time``: without it the receipt time is used, and an identical body re-sent within the
endpoint's ``dedupe_window`` is taken for a retry.

Pure: bytes in, alerts out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollsafe.detect.intake import payloads
from rollsafe.domain import observations

__all__ = ["parse"]

_EXPECTED = 'rollsafe\'s alert form: {"alerts": [{"name": ..., "state": "firing"|"resolved"}]}'
_STATES = {
    "firing": observations.AlertState.FIRING,
    "resolved": observations.AlertState.RESOLVED,
}


def parse(body: bytes, *, headers: Mapping[str, str], received_at: float) -> list[payloads.Alert]:
    """The alerts of a generic payload; Malformed if it is not one."""
    del headers, received_at
    data = payloads.json_object(body, what=_EXPECTED)
    if "alerts" in data:
        items = data["alerts"]
        if not isinstance(items, list):
            raise payloads.Malformed(f"`alerts` is not a list (expected {_EXPECTED})")
        payloads.checked_count(items, field_name="alerts")
        return [_alert(item, f"alerts[{i}]") for i, item in enumerate(items)]
    if "name" in data or "state" in data:
        return [_alert(data, "(body)")]
    raise payloads.Malformed(f"no `alerts` list and no single alert (expected {_EXPECTED})")


def _alert(item: Any, where: str) -> payloads.Alert:
    if not isinstance(item, dict):
        raise payloads.Malformed(f"`{where}` is not an object")
    name = payloads.text_of(item.get("name"), field_name=f"{where}.name", required=True)
    if not name:
        raise payloads.Malformed(f"`{where}.name` is empty")
    raw_state = payloads.text_of(item.get("state"), field_name=f"{where}.state", required=True)
    state = _STATES.get(raw_state.lower())
    if state is None:
        raise payloads.Malformed(f"`{where}.state` is {raw_state!r} (expected firing or resolved)")
    labels = payloads.labels_of(item.get("labels"), field_name=f"{where}.labels")
    labels.setdefault("alertname", name)
    raw_time = item.get("time")
    if isinstance(raw_time, int | float) and not isinstance(raw_time, bool):
        time = payloads.epoch_of(raw_time, field_name=f"{where}.time")
    else:
        text = payloads.text_of(raw_time, field_name=f"{where}.time")
        time = payloads.parse_rfc3339(text, field_name=f"{where}.time")
    target = payloads.text_of(item.get("target"), field_name=f"{where}.target") or None
    identity = payloads.text_of(item.get("id"), field_name=f"{where}.id")
    return payloads.Alert(
        name=name,
        state=state,
        time=time,
        labels=labels,
        identity=identity or payloads.identity_of(name, labels),
        summary=payloads.text_of(item.get("summary"), field_name=f"{where}.summary"),
        target=target,
    )
