"""Properties of every intake parser under arbitrary input, and round trips of what they parse.

For any JSON value (deep, huge numbers, NaN/Infinity literals, odd keys) and any bytes, every
parser returns alerts or raises ``Malformed`` (the route's 400), never anything else, and the
alerts it returns map to observations without error. A well-formed payload built from random
fields parses back to exactly those fields.
"""

from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollsafe.config import models
from rollsafe.detect.intake import mapping, payloads, sources
from rollsafe.domain import observations

KINDS = sorted(sources.PARSERS)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None)

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()  # NaN and infinities, written as NaN/Infinity literals by json.dumps
    | st.text(max_size=30)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)
_deep = st.integers(min_value=60, max_value=20_000).flatmap(
    lambda n: st.sampled_from([b"[" * n, b"[" * n + b"]" * n, b'{"alerts":' * n])
)
_bodies = (
    _values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=300)
    | _deep
    | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass"))
)


def _endpoint(kind: str) -> models.IntakeBase:
    data = {"name": "e", "kind": kind, "auth": {"kind": "none"}, "target_label": "instance"}
    if kind == "sns":
        data["topic_arn"] = "arn:aws:sns:us-east-1:123456789012:t"
    return models.RollsafeConfig.model_validate({"intake": [data]}).intake[0]


ENDPOINTS = {kind: _endpoint(kind) for kind in KINDS}
TARGETS = models.RollsafeConfig.model_validate({"targets": [{"id": "web-1"}]}).targets
MAPPERS = {kind: mapping.Mapper(ENDPOINTS[kind], TARGETS) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(body=_bodies, form=st.booleans())
def test_any_body_is_alerts_or_malformed(kind, body, form):
    headers = {"content-type": "application/x-www-form-urlencoded" if form else "application/json"}
    try:
        found = sources.parse(ENDPOINTS[kind], body, headers=headers, received_at=1000.0)
    except payloads.Malformed as exc:
        reason = exc.reason
    else:
        reason = "parsed"
        assert all(isinstance(alert, payloads.Alert) for alert in found)
        MAPPERS[kind].map(found, received_at=1000.0)  # and what parsed, maps
    assert reason


@FUZZ
@given(value=_values)
def test_loads_is_a_value_or_malformed(value):
    body = json.dumps(value).encode()
    try:
        parsed = payloads.loads(body, what="x")
    except payloads.Malformed as exc:
        assert exc.reason  # noqa: PT017 - a reason is the whole of the promise here
        return
    assert json.dumps(parsed) == body.decode()  # no NaN/Infinity slipped through


def test_depth_limit_is_exact():
    ok = b"[" * payloads.MAX_DEPTH + b"]" * payloads.MAX_DEPTH
    assert payloads.loads(ok, what="x") is not None
    with pytest.raises(payloads.Malformed, match="deeper"):
        payloads.loads(b"[" + ok + b"]", what="x")
    with pytest.raises(payloads.Malformed, match="deeper"):
        payloads.loads(b"[" * 100_000, what="x")


_label_names = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)
_label_values = st.text(min_size=1, max_size=20)
_labels = st.dictionaries(_label_names, _label_values, max_size=5)
_times = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1),  # noqa: DTZ001 - naive bounds, as hypothesis wants
    max_value=datetime.datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(datetime.UTC),
).map(lambda d: d.replace(microsecond=0))
_am_alerts = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": _labels,
        "annotations": st.fixed_dictionaries({"summary": st.text(max_size=20)}),
        "startsAt": _times,
        "endsAt": _times,
        "fingerprint": st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
    }
)


@pytest.mark.parametrize("kind", ["alertmanager", "grafana"])
@FUZZ
@given(alerts=st.lists(_am_alerts, max_size=5))
def test_alertmanager_form_round_trips(kind, alerts):
    body = {
        "version": "4" if kind == "alertmanager" else "1",
        "status": "firing",
        "alerts": [
            {**a, "startsAt": a["startsAt"].isoformat(), "endsAt": a["endsAt"].isoformat()}
            for a in alerts
        ],
    }
    if kind == "alertmanager":
        body["version"] = "4"
    else:
        body.pop("version")
    found = sources.parse(
        ENDPOINTS[kind], json.dumps(body).encode(), headers={}, received_at=1000.0
    )
    assert len(found) == len(alerts)
    for alert, sent in zip(found, alerts, strict=True):
        firing = sent["status"] == "firing"
        assert alert.state is (
            observations.AlertState.FIRING if firing else observations.AlertState.RESOLVED
        )
        assert dict(alert.labels) == sent["labels"]
        assert alert.name == sent["labels"].get("alertname", "")
        assert alert.identity == sent["fingerprint"]
        expected = sent["startsAt"] if firing else sent["endsAt"]
        assert alert.time == expected.timestamp()


_generic_alerts = st.fixed_dictionaries(
    {
        "name": _label_values,
        "state": st.sampled_from(["firing", "resolved", "FIRING"]),
        "labels": _labels,
        "time": st.integers(min_value=0, max_value=4_000_000_000),
        "target": st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
        "summary": st.text(max_size=20),
    }
)


@FUZZ
@given(alerts=st.lists(_generic_alerts, min_size=1, max_size=5))
def test_generic_form_round_trips(alerts):
    found = sources.parse(
        ENDPOINTS["generic"], json.dumps({"alerts": alerts}).encode(), headers={}, received_at=1.0
    )
    for alert, sent in zip(found, alerts, strict=True):
        assert alert.name == sent["name"]
        assert alert.state is observations.AlertState(sent["state"].lower())
        assert dict(alert.labels) == {"alertname": sent["name"], **sent["labels"]}
        assert alert.time == sent["time"]
        assert alert.target == sent["target"]
        assert alert.summary == sent["summary"]
