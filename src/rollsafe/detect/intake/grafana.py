"""Grafana unified alerting's webhook payload -> alerts, and its optional HMAC signature.

Role in the loop (detect): the body a Grafana webhook contact point POSTs. It extends
Alertmanager's form (``alerts[]`` with ``status``, ``labels``, ``annotations``, ``startsAt``,
``endsAt``, ``fingerprint``; plus ``valueString``, ``values``, ``orgId``, ``state``, ``title``,
``message`` ...), so alerts are read the same way. Grafana reports its own inability to
evaluate as alerts named ``DatasourceNoData`` and ``DatasourceError``: those become "cannot
tell" alerts (error observations, a blind detector), never firing ones, and their resolution
is dropped (the next real state ends the blindness).

Signature (contact point > Optional settings > HMAC Signature): the header (default
``X-Grafana-Alerting-Signature``) carries the lowercase hex HMAC-SHA256, keyed with the
secret, of the body, or of ``timestamp + ":" + body`` when a timestamp header is configured.

Pure: bytes in, alerts out; the clock's ``now`` is passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from rollsafe.detect.intake import alertmanager, payloads, signing
from rollsafe.domain import observations

__all__ = ["BLIND_ALERTS", "DEFAULT_HEADER", "parse", "signed_bytes", "verify_signature"]

DEFAULT_HEADER = "X-Grafana-Alerting-Signature"
BLIND_ALERTS = frozenset({"DatasourceNoData", "DatasourceError"})
_EXPECTED = "a Grafana alerting webhook payload with an `alerts` list"


def parse(body: bytes, *, headers: Mapping[str, str], received_at: float) -> list[payloads.Alert]:
    """The alerts of a Grafana notification; Malformed if it is not one."""
    del headers, received_at
    data = payloads.json_object(body, what=_EXPECTED)
    items = data.get("alerts")
    if not isinstance(items, list):
        raise payloads.Malformed(f"`alerts` is missing or not a list (expected {_EXPECTED})")
    payloads.checked_count(items, field_name="alerts")
    found = []
    for index, item in enumerate(items):
        where = f"alerts[{index}]"
        alert = alertmanager.alert_from(item, where)
        value = item.get("valueString") if isinstance(item, dict) else None
        if not alert.summary and isinstance(value, str):
            alert = dataclasses.replace(alert, summary=value)
        if alert.name in BLIND_ALERTS:
            if alert.state is observations.AlertState.RESOLVED:
                continue
            alert = dataclasses.replace(alert, state=None)
        found.append(alert)
    return found


def signed_bytes(body: bytes, timestamp: str | None) -> bytes:
    """What Grafana signs: the body, or ``timestamp:body`` with a timestamp header."""
    return body if timestamp is None else timestamp.encode() + b":" + body


def verify_signature(
    body: bytes,
    *,
    secret: bytes,
    signature: str | None,
    timestamp: str | None,
    now: float,
    tolerance: float,
    timestamp_expected: bool,
) -> None:
    """Raise ``signing.Unauthenticated`` unless the Grafana signature of ``body`` is right.

    With ``timestamp_expected`` the timestamp must be present and within ``tolerance`` of
    ``now`` (replay rejection itself needs memory and is the caller's).
    """
    if not signature:
        raise signing.Unauthenticated("missing Grafana signature header")
    if timestamp_expected:
        if not timestamp:
            raise signing.Unauthenticated("missing Grafana timestamp header")
        signing.check_fresh(timestamp, now=now, tolerance=tolerance)
    expected = signing.hmac_hex(
        secret, signed_bytes(body, timestamp if timestamp_expected else None)
    )
    if not signing.same(expected, signature.strip().lower()):
        raise signing.Unauthenticated("wrong Grafana signature")
