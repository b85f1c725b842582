"""Whatever a sender posts, a parser answers with alerts or Malformed: never another error.

That is what lets the API promise "4xx with a reason, never 5xx" for any body.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollsafe.config import models
from rollsafe.detect.intake import payloads, sources

KINDS = sorted(sources.PARSERS)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
# Bodies that look like each source's form, with wrong types and values where they matter.
_keys = st.sampled_from(
    [
        "alerts",
        "status",
        "labels",
        "startsAt",
        "endsAt",
        "fingerprint",
        "version",
        "Type",
        "Message",
        "alertName",
        "alertState",
        "dimensions",
        "timestamp",
        "alarmStatus",
        "alarmObjInfo",
        "alarmPolicyInfo",
        "firstOccurTime",
        "name",
        "state",
        "time",
        "target",
    ]
)
_shaped = st.dictionaries(_keys, _json, max_size=8).map(lambda d: json.dumps(d).encode())
_alerts = st.lists(st.dictionaries(_keys, _json, max_size=8), max_size=3).map(
    lambda items: json.dumps({"alerts": items}).encode()
)
_bodies = st.binary(max_size=200) | _shaped | _alerts | _json.map(lambda v: json.dumps(v).encode())


def _endpoint(kind: str) -> models.IntakeBase:
    data = {"name": "e", "kind": kind, "auth": {"kind": "none"}, "target_label": "instance"}
    if kind == "sns":
        data["topic_arn"] = "arn:aws:sns:us-east-1:123456789012:t"
    return models.RollsafeConfig.model_validate({"intake": [data]}).intake[0]


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=150, deadline=None)
@given(body=_bodies, form=st.booleans())
def test_parsers_only_raise_malformed(kind, body, form):
    headers = {"content-type": "application/x-www-form-urlencoded" if form else "application/json"}
    try:
        found = sources.parse(_endpoint(kind), body, headers=headers, received_at=1000.0)
    except payloads.Malformed as exc:
        reason = exc.reason
    else:
        reason = "parsed"
        assert all(isinstance(a, payloads.Alert) for a in found)
    assert reason
