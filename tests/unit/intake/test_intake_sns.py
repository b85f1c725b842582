"""AWS SNS: envelopes, CloudWatch alarms, and signature verification (v1 and v2).

Signed with a locally generated certificate (``rollsafe.testing.sns.FakeSns``), exactly as
AWS documents: the canonical string of the message fields, RSA PKCS#1 v1.5, SHA-1 or SHA-256.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time

import pytest

from rollsafe.detect.intake import payloads, signing, sns
from rollsafe.domain import observations
from rollsafe.testing import sns as fake_sns

NOW = time.time()


@pytest.fixture(scope="module")
def topic():
    return fake_sns.FakeSns()


def envelope_of(body: bytes) -> sns.Envelope:
    return sns.parse_envelope(body)


@pytest.mark.parametrize("version", [1, 2])
def test_a_signed_notification_verifies(topic, version):
    body = topic.notification(topic.alarm("HighCPU", "ALARM"), version=version)
    sns.verify(envelope_of(body), topic.pem, topic_arn=topic.topic_arn, now=NOW)


@pytest.mark.parametrize("version", [1, 2])
def test_a_signed_confirmation_verifies(topic, version):
    body = topic.confirmation(version=version)
    envelope = envelope_of(body)
    assert envelope.type == sns.CONFIRMATION
    sns.verify(envelope, topic.pem, topic_arn=topic.topic_arn, now=NOW)
    assert sns.alerts(envelope) == []


def test_subject_is_signed_only_when_present(topic):
    body = topic.notification(topic.alarm("HighCPU", "ALARM"), subject=None)
    envelope = envelope_of(body)
    assert b"Subject" not in sns.canonical(envelope)
    sns.verify(envelope, topic.pem, topic_arn=topic.topic_arn, now=NOW)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Message", json.dumps({"AlarmName": "other", "NewStateValue": "OK"})),
        ("MessageId", "another-id"),
        ("Timestamp", "2020-01-01T00:00:00.000Z"),
        ("Subject", "tampered"),
        ("Type", "SubscriptionConfirmation"),
    ],
)
def test_a_tampered_message_is_refused(topic, field, value):
    fields = json.loads(topic.notification(topic.alarm("HighCPU", "ALARM")))
    fields[field] = value
    if field == "Type":
        fields.update(Token="t", SubscribeURL="https://sns.us-east-1.amazonaws.com/?x")
    with pytest.raises(signing.Unauthenticated, match="does not match"):
        sns.verify(
            envelope_of(json.dumps(fields).encode()),
            topic.pem,
            topic_arn=topic.topic_arn,
            now=NOW,
        )


def test_another_certificate_does_not_verify(topic):
    other = fake_sns.FakeSns()
    body = other.notification(other.alarm("HighCPU", "ALARM"), topic_arn=topic.topic_arn)
    with pytest.raises(signing.Unauthenticated, match="does not match"):
        sns.verify(envelope_of(body), topic.pem, topic_arn=topic.topic_arn, now=NOW)


def test_wrong_topic(topic):
    body = topic.notification(topic.alarm("HighCPU", "ALARM"))
    with pytest.raises(sns.WrongTopic):
        sns.verify(
            envelope_of(body),
            topic.pem,
            topic_arn="arn:aws:sns:us-east-1:123456789012:other",
            now=NOW,
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",  # not https
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://s3.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.txt",  # not a .pem
        "not a url at all",
    ],
)
def test_certificate_url_must_be_on_an_sns_host(topic, url):
    fields = json.loads(topic.notification(topic.alarm("HighCPU", "ALARM")))
    fields["SigningCertURL"] = url
    with pytest.raises(signing.Unauthenticated, match="SigningCertURL"):
        sns.verify(
            envelope_of(json.dumps(fields).encode()),
            topic.pem,
            topic_arn=topic.topic_arn,
            now=NOW,
        )


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem", "eu-west-1"),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem", "cn-north-1"),
        ("https://sns.us-gov-west-1.amazonaws.com:443/x.pem", "us-gov-west-1"),
    ],
)
def test_sns_hosts(url, region):
    assert sns.check_sns_url(url, what="SigningCertURL", pem=True) == region


def test_expired_certificate_is_refused():
    old = fake_sns.FakeSns(
        valid_from=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
        valid_for=datetime.timedelta(days=30),
    )
    body = old.notification(old.alarm("HighCPU", "ALARM"))
    with pytest.raises(signing.Unauthenticated, match="not valid now"):
        sns.verify(envelope_of(body), old.pem, topic_arn=old.topic_arn, now=NOW)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda f: f.update(SignatureVersion="3"), "SignatureVersion '3'"),
        (lambda f: f.update(Signature="%%%"), "not base64"),
    ],
)
def test_bad_signature_fields(topic, mutate, reason):
    fields = json.loads(topic.notification(topic.alarm("HighCPU", "ALARM")))
    mutate(fields)
    with pytest.raises(signing.Unauthenticated, match=reason):
        sns.verify(
            envelope_of(json.dumps(fields).encode()),
            topic.pem,
            topic_arn=topic.topic_arn,
            now=NOW,
        )


def test_not_a_certificate(topic):
    body = topic.notification(topic.alarm("HighCPU", "ALARM"))
    with pytest.raises(signing.Unauthenticated, match="not a PEM certificate"):
        sns.verify(envelope_of(body), b"junk", topic_arn=topic.topic_arn, now=NOW)


# --------------------------------------------------------------------------- CloudWatch alarms


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("ALARM", observations.AlertState.FIRING),
        ("OK", observations.AlertState.RESOLVED),
        ("INSUFFICIENT_DATA", None),
    ],
)
def test_cloudwatch_alarm_states(topic, state, expected):
    body = topic.notification(topic.alarm("HighCPU", state, dimensions={"InstanceId": "i-0abc"}))
    [alert] = sns.parse(body, headers={}, received_at=0.0)
    assert alert.state is expected
    assert alert.name == "HighCPU"
    assert alert.time == 1767261600.0
    assert alert.labels["InstanceId"] == "i-0abc"
    assert alert.labels["namespace"] == "AWS/EC2"
    assert alert.identity == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:HighCPU"
    assert alert.summary == "Threshold Crossed"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"Type": "Nonsense"}', "`Type` is 'Nonsense'"),
        (b'{"Type": "Notification"}', "without MessageId"),
        (b"[]", "not an object"),
    ],
)
def test_malformed_envelopes(body, reason):
    with pytest.raises(payloads.Malformed, match=reason):
        sns.parse_envelope(body)


def test_a_message_that_is_not_an_alarm(topic):
    with pytest.raises(payloads.Malformed, match="not a CloudWatch alarm"):
        sns.parse(topic.notification("hello"), headers={}, received_at=0.0)
    with pytest.raises(payloads.Malformed, match="NewStateValue"):
        sns.parse(
            topic.notification({"AlarmName": "x", "NewStateValue": "MAYBE"}),
            headers={},
            received_at=0.0,
        )


def test_message_type_header_must_agree(topic):
    body = topic.notification(topic.alarm("HighCPU", "ALARM"))
    with pytest.raises(payloads.Malformed, match="x-amz-sns-message-type"):
        sns.parse_envelope(body, headers={"x-amz-sns-message-type": "SubscriptionConfirmation"})


def test_the_fake_fetcher(topic):
    assert asyncio.run(topic.fetch(topic.cert_url)) == topic.pem
