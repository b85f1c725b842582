"""Prometheus Alertmanager's webhook payload (version 4) -> alerts.

Role in the loop (detect): the body Alertmanager POSTs to a ``webhook_configs`` URL. Fields
read: ``version`` ("4"), ``alerts[]`` with ``status`` (firing | resolved), ``labels`` (with
``alertname``), ``annotations`` (``summary`` or ``description`` become the alert's summary),
``startsAt``, ``endsAt`` and ``fingerprint`` (the alert's identity). ``groupKey``, ``receiver``,
``groupLabels``, ``commonLabels`` and ``externalURL`` are not needed: every alert carries its
own labels. A firing alert's time is its ``startsAt``, a resolved one's its ``endsAt``; so
Alertmanager's repeat notifications of the same alert are the same observation again.

Pure: bytes in, alerts out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollsafe.detect.intake import payloads
from rollsafe.domain import observations

__all__ = ["parse"]

VERSION = "4"
_EXPECTED = "an Alertmanager webhook payload (version 4) with an `alerts` list"
_STATES = {
    "firing": observations.AlertState.FIRING,
    "resolved": observations.AlertState.RESOLVED,
}


def parse(body: bytes, *, headers: Mapping[str, str], received_at: float) -> list[payloads.Alert]:
    """The alerts of an Alertmanager notification; Malformed if it is not one."""
    del headers, received_at  # everything needed is in the body
    data = payloads.json_object(body, what=_EXPECTED)
    version = data.get("version")
    if version is not None and str(version) != VERSION:
        raise payloads.Malformed(
            f"webhook payload version {version!r} (expected {VERSION!r}, Alertmanager >= 0.16)"
        )
    items = data.get("alerts")
    if not isinstance(items, list):
        raise payloads.Malformed(f"`alerts` is missing or not a list (expected {_EXPECTED})")
    payloads.checked_count(items, field_name="alerts")
    return [_alert(item, f"alerts[{index}]") for index, item in enumerate(items)]


def alert_from(item: Any, where: str) -> payloads.Alert:
    """One alert object of the Alertmanager form (shared with Grafana, which extends it)."""
    return _alert(item, where)


def _alert(item: Any, where: str) -> payloads.Alert:
    if not isinstance(item, dict):
        raise payloads.Malformed(f"`{where}` is not an object")
    status = payloads.text_of(item.get("status"), field_name=f"{where}.status", required=True)
    state = _STATES.get(status)
    if state is None:
        raise payloads.Malformed(f"`{where}.status` is {status!r} (expected firing or resolved)")
    labels = payloads.labels_of(item.get("labels"), field_name=f"{where}.labels")
    annotations = payloads.labels_of(item.get("annotations"), field_name=f"{where}.annotations")
    starts = payloads.parse_rfc3339(
        payloads.text_of(item.get("startsAt"), field_name=f"{where}.startsAt"),
        field_name=f"{where}.startsAt",
    )
    ends = payloads.parse_rfc3339(
        payloads.text_of(item.get("endsAt"), field_name=f"{where}.endsAt"),
        field_name=f"{where}.endsAt",
    )
    name = labels.get("alertname", "")
    fingerprint = payloads.text_of(item.get("fingerprint"), field_name=f"{where}.fingerprint")
    return payloads.Alert(
        name=name,
        state=state,
        # A resolved alert without endsAt takes the receipt time (None), never startsAt: at
        # startsAt it would tie with its own firing state and could lose to it.
        time=starts if state is observations.AlertState.FIRING else ends,
        labels=labels,
        identity=fingerprint or payloads.identity_of(name, labels),
        summary=annotations.get("summary") or annotations.get("description") or "",
    )
