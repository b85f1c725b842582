"""AWS SNS over HTTP(S), carrying CloudWatch alarm notifications -> alerts; SNS signatures.

Role in the loop (detect): SNS POSTs a JSON envelope (``Content-Type: text/plain``) of
``Type`` (``Notification``, ``SubscriptionConfirmation``, ``UnsubscribeConfirmation``),
``MessageId``, ``TopicArn``, ``Subject`` (optional), ``Message``, ``Timestamp``,
``SignatureVersion``, ``Signature``, ``SigningCertURL`` and, for confirmations, ``Token`` and
``SubscribeURL``. A ``Notification`` from CloudWatch carries the alarm as JSON in ``Message``:
``AlarmName``, ``AlarmArn``, ``NewStateValue`` (ALARM | OK | INSUFFICIENT_DATA),
``NewStateReason``, ``StateChangeTime``, ``Region``, ``AWSAccountId`` and ``Trigger``
(``Namespace``, ``MetricName``, ``Dimensions`` [{"name", "value"}]). ALARM is firing, OK is
resolved, INSUFFICIENT_DATA is "cannot tell" (a blind detector, never a firing alert).

Authenticity (:func:`verify`) follows AWS's documented procedure: the certificate must come
from ``https://sns.<region>.amazonaws.com[.cn]/...pem``; the signature is base64 RSA PKCS#1
v1.5 over the canonical string (each field as ``Name\\nvalue\\n``, in the documented order,
``Subject`` only when present), SHA-1 for ``SignatureVersion`` 1 and SHA-256 for 2; the
certificate must be valid now and the ``TopicArn`` the one expected. Fetching the certificate
and confirming a subscription are I/O and belong to the caller (``interfaces/api``), which
passes the certificate's PEM bytes in.

Pure: bytes in, alerts out; ``now`` is passed in.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from rollsafe.detect.intake import payloads, signing
from rollsafe.domain import observations

__all__ = [
    "CONFIRMATION",
    "NOTIFICATION",
    "UNSUBSCRIBE",
    "Envelope",
    "WrongTopic",
    "alerts",
    "canonical",
    "check_sns_url",
    "check_topic",
    "parse",
    "parse_envelope",
    "verify",
]

NOTIFICATION = "Notification"
CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE = "UnsubscribeConfirmation"
_TYPES = (NOTIFICATION, CONFIRMATION, UNSUBSCRIBE)
_HOST = re.compile(r"^sns\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$")
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_STATES = {
    "ALARM": observations.AlertState.FIRING,
    "OK": observations.AlertState.RESOLVED,
    "INSUFFICIENT_DATA": None,
}
_EXPECTED = "an SNS message (JSON with Type, MessageId, TopicArn, Message, Signature ...)"


class WrongTopic(signing.Unauthenticated):
    """An authentic-looking message from a topic this endpoint does not accept (403)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """The SNS message fields (names as SNS spells them, in ``fields``)."""

    fields: Mapping[str, str]

    @property
    def type(self) -> str:
        return self.fields["Type"]

    @property
    def topic_arn(self) -> str:
        return self.fields["TopicArn"]

    @property
    def message(self) -> str:
        return self.fields["Message"]

    @property
    def message_id(self) -> str:
        return self.fields["MessageId"]

    @property
    def signing_cert_url(self) -> str:
        return self.fields["SigningCertURL"]

    @property
    def subscribe_url(self) -> str | None:
        return self.fields.get("SubscribeURL")


def parse_envelope(body: bytes, *, headers: Mapping[str, str] | None = None) -> Envelope:
    """The envelope of an SNS POST; Malformed when a documented field is missing."""
    data = payloads.json_object(body, what=_EXPECTED)
    fields: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, str):
            fields[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            fields[key] = str(value)
    kind = fields.get("Type")
    if kind not in _TYPES:
        raise payloads.Malformed(
            f"`Type` is {kind!r} (expected one of {', '.join(_TYPES)}; {_EXPECTED})"
        )
    needed = ["MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature"]
    needed.append("SigningCertURL")
    if kind != NOTIFICATION:
        needed += ["Token", "SubscribeURL"]
    missing = [name for name in needed if name not in fields]
    if missing:
        raise payloads.Malformed(f"SNS {kind} without {', '.join(missing)}")
    if headers is not None:
        declared = headers.get("x-amz-sns-message-type")
        if declared is not None and declared != kind:
            raise payloads.Malformed(
                f"x-amz-sns-message-type says {declared!r} but the body is a {kind}"
            )
    return Envelope(fields=fields)


def check_sns_url(url: str, *, what: str, pem: bool = False) -> str:
    """The region of an ``https://sns.<region>.amazonaws.com[.cn]`` URL; Unauthenticated if the
    URL is anything else (another host, another scheme, credentials or a port in it)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise signing.Unauthenticated(f"{what} is not a URL") from None
    host = parts.hostname or ""
    match = _HOST.match(host)
    if (
        parts.scheme != "https"
        or match is None
        or parts.username is not None
        or port not in (None, 443)
        or parts.netloc.lower() not in (host, f"{host}:443")
    ):
        raise signing.Unauthenticated(
            f"{what} is not on an SNS host (expected https://sns.<region>.amazonaws.com/...)"
        )
    if pem and not parts.path.endswith(".pem"):
        raise signing.Unauthenticated(f"{what} does not name a .pem certificate")
    return match["region"]


def check_topic(envelope: Envelope, *, topic_arn: str) -> None:
    """Raise WrongTopic unless the message comes from ``topic_arn``."""
    if envelope.topic_arn != topic_arn:
        raise WrongTopic(f"topic {envelope.topic_arn!r} is not the one this endpoint accepts")


def canonical(envelope: Envelope) -> bytes:
    """The string SNS signs: ``Name\\nvalue\\n`` per field, in the documented order."""
    names = _NOTIFICATION_FIELDS if envelope.type == NOTIFICATION else _CONFIRMATION_FIELDS
    out = []
    for name in names:
        value = envelope.fields.get(name)
        if value is None:
            if name == "Subject":
                continue  # only signed when the message has one
            raise payloads.Malformed(f"SNS {envelope.type} without {name}")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode("utf-8")


def verify(envelope: Envelope, certificate_pem: bytes, *, topic_arn: str, now: float) -> None:
    """Raise Unauthenticated (or WrongTopic) unless ``envelope`` is signed by SNS for
    ``topic_arn``, with ``certificate_pem`` fetched from its ``SigningCertURL``."""
    check_topic(envelope, topic_arn=topic_arn)
    check_sns_url(envelope.signing_cert_url, what="SigningCertURL", pem=True)
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    version = envelope.fields.get("SignatureVersion")
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # noqa: S303 - SNS SignatureVersion 1 is SHA1withRSA
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise signing.Unauthenticated(f"SignatureVersion {version!r} (expected 1 or 2)")
    try:
        signature = base64.b64decode(envelope.fields["Signature"], validate=True)
    except (binascii.Error, ValueError):
        raise signing.Unauthenticated("the Signature is not base64") from None
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        raise signing.Unauthenticated("the signing certificate is not a PEM certificate") from None
    moment = datetime.fromtimestamp(now, tz=UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise signing.Unauthenticated("the signing certificate is not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise signing.Unauthenticated("the signing certificate does not hold an RSA key")
    try:
        key.verify(signature, canonical(envelope), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise signing.Unauthenticated("the SNS signature does not match the message") from None


def alerts(envelope: Envelope) -> list[payloads.Alert]:
    """The CloudWatch alarm a Notification carries (none for confirmations)."""
    if envelope.type != NOTIFICATION:
        return []
    try:
        alarm = payloads.loads(envelope.message, what="a CloudWatch alarm")
    except payloads.Malformed:  # too deep or not JSON at all: the same answer below
        alarm = None
    if not isinstance(alarm, dict) or "AlarmName" not in alarm or "NewStateValue" not in alarm:
        raise payloads.Malformed(
            "the SNS Message is not a CloudWatch alarm (expected JSON with AlarmName and "
            "NewStateValue)"
        )
    name = payloads.text_of(alarm.get("AlarmName"), field_name="Message.AlarmName", required=True)
    value = payloads.text_of(alarm.get("NewStateValue"), field_name="Message.NewStateValue")
    if value not in _STATES:
        raise payloads.Malformed(
            f"`Message.NewStateValue` is {value!r} (expected ALARM, OK or INSUFFICIENT_DATA)"
        )
    labels = {"alertname": name}
    for key, label in (("Region", "region"), ("AWSAccountId", "account")):
        text = payloads.text_of(alarm.get(key), field_name=f"Message.{key}")
        if text:
            labels[label] = text
    trigger = alarm.get("Trigger")
    if isinstance(trigger, dict):
        for key, label in (("Namespace", "namespace"), ("MetricName", "metric")):
            text = payloads.text_of(trigger.get(key), field_name=f"Message.Trigger.{key}")
            if text:
                labels[label] = text
        dimensions = trigger.get("Dimensions")
        if isinstance(dimensions, list):
            for dimension in dimensions:
                if isinstance(dimension, dict):
                    # CloudWatch writes these two keys in lower case.
                    dim_name = dimension.get("name", dimension.get("Name"))
                    dim_value = dimension.get("value", dimension.get("Value"))
                    if isinstance(dim_name, str) and isinstance(dim_value, str | int | float):
                        labels[dim_name] = str(dim_value)
    changed = payloads.text_of(alarm.get("StateChangeTime"), field_name="Message.StateChangeTime")
    arn = payloads.text_of(alarm.get("AlarmArn"), field_name="Message.AlarmArn")
    return [
        payloads.Alert(
            name=name,
            state=_STATES[value],
            time=payloads.parse_rfc3339(changed, field_name="Message.StateChangeTime"),
            labels=labels,
            identity=arn or payloads.identity_of(name, labels),
            summary=payloads.text_of(alarm.get("NewStateReason"), field_name="NewStateReason"),
        )
    ]


def parse(body: bytes, *, headers: Mapping[str, str], received_at: float) -> list[payloads.Alert]:
    """The alerts of an SNS POST (not verified here: see :func:`verify`)."""
    del received_at
    return alerts(parse_envelope(body, headers=headers))
