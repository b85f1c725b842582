"""Shared parsing helpers: RFC 3339 times as Alertmanager/Grafana/CloudWatch write them."""

from __future__ import annotations

import pytest

from rollsafe.detect.intake import payloads, signing


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2026-01-01T10:00:00Z", 1767261600.0),
        ("2026-01-01T10:00:00.5Z", 1767261600.5),
        ("2026-01-01T10:00:00.123456789Z", 1767261600.123456),  # Go writes nanoseconds
        ("2026-01-01T11:00:00+01:00", 1767261600.0),
        ("2026-01-01T10:00:00.000+0000", 1767261600.0),  # CloudWatch's StateChangeTime
        ("2026-01-01T10:00:00", 1767261600.0),  # no zone: UTC
    ],
)
def test_rfc3339(text, epoch):
    assert payloads.parse_rfc3339(text, field_name="t") == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize("text", ["", "0001-01-01T00:00:00Z"])
def test_unset_times_are_none(text):
    assert payloads.parse_rfc3339(text, field_name="t") is None


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T10:00Z"])
def test_bad_times_are_malformed_with_the_field(text):
    with pytest.raises(payloads.Malformed, match=r"`alerts\.startsAt`"):
        payloads.parse_rfc3339(text, field_name="alerts.startsAt")


def test_local_time_with_offset():
    assert payloads.parse_local_time(
        "2026-01-01 18:00:00", utc_offset_hours=8, field_name="t"
    ) == pytest.approx(1767261600.0)
    assert payloads.parse_local_time("0", utc_offset_hours=8, field_name="t") is None


@pytest.mark.parametrize(
    ("value", "epoch"), [("1767261600", 1767261600.0), (1767261600000, 1767261600.0), ("", None)]
)
def test_epoch_seconds_or_milliseconds(value, epoch):
    assert payloads.epoch_of(value, field_name="t") == epoch


@pytest.mark.parametrize("value", ["soon", "-5", "nan", "inf"])
def test_bad_epochs(value):
    with pytest.raises(payloads.Malformed):
        payloads.epoch_of(value, field_name="t")


def test_labels_must_be_scalar():
    assert payloads.labels_of({"a": 1, "b": True, "c": None}, field_name="l") == {
        "a": "1",
        "b": "true",
        "c": "",
    }
    with pytest.raises(payloads.Malformed, match=r"`l\.a` is not a scalar"):
        payloads.labels_of({"a": {"b": 1}}, field_name="l")
    with pytest.raises(payloads.Malformed, match="not an object of labels"):
        payloads.labels_of(["a"], field_name="l")


def test_identity_is_stable_and_label_order_free():
    one = payloads.identity_of("X", {"a": "1", "b": "2"})
    assert one == payloads.identity_of("X", {"b": "2", "a": "1"})
    assert one != payloads.identity_of("Y", {"a": "1", "b": "2"})


# --------------------------------------------------------------------------- rollsafe's HMAC


SECRET = b"k3y"
BODY = b'{"alerts": []}'


def test_hmac_round_trip_and_prefix_optional():
    signature = signing.sign(SECRET, BODY, timestamp=1000)
    assert signature.startswith("sha256=")
    for given in (signature, signature.removeprefix("sha256="), signature.upper()):
        signing.verify(
            BODY, secret=SECRET, timestamp="1000", signature=given, now=1100.0, tolerance=300
        )


@pytest.mark.parametrize(
    ("timestamp", "signature", "now", "reason"),
    [
        (None, "sha256=00", 1000.0, "missing X-Rollsafe-Timestamp"),
        ("1000", None, 1000.0, "missing X-Rollsafe-Signature"),
        ("1000", "sha256=00", 1000.0, "wrong signature"),
        ("1000", "GOOD", 1301.0, "stale timestamp"),
        ("1000", "GOOD", 699.0, "stale timestamp"),  # from the future, too
        ("soon", "GOOD", 1000.0, "not Unix seconds"),
        ("1000", "sha256=é", 1000.0, "wrong signature"),
    ],
)
def test_hmac_refusals(timestamp, signature, now, reason):
    if signature == "GOOD":
        signature = signing.sign(SECRET, BODY, timestamp=1000)
    with pytest.raises(signing.Unauthenticated, match=reason):
        signing.verify(
            BODY, secret=SECRET, timestamp=timestamp, signature=signature, now=now, tolerance=300
        )


def test_hmac_covers_the_body_and_the_timestamp():
    signature = signing.sign(SECRET, BODY, timestamp=1000)
    with pytest.raises(signing.Unauthenticated):
        signing.verify(
            BODY + b" ",
            secret=SECRET,
            timestamp="1000",
            signature=signature,
            now=1000,
            tolerance=300,
        )
    with pytest.raises(signing.Unauthenticated):
        signing.verify(
            BODY, secret=SECRET, timestamp="1001", signature=signature, now=1000, tolerance=300
        )
