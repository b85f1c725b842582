"""A local stand-in for AWS SNS: a generated signing certificate, signed messages, a fetcher.

For tests of an ``sns`` intake endpoint without AWS: :class:`FakeSns` makes an RSA key and a
self-signed certificate, signs messages exactly as SNS documents (SignatureVersion 1 or 2), and
its :meth:`FakeSns.fetch` is the injectable fetcher (``create_app(fetch=...)``) that serves the
certificate and records subscription confirmations::

    topic = FakeSns()
    app = create_app(config, store=store, fetch=topic.fetch)   # topic.topic_arn in the config
    body = topic.notification(topic.alarm("HighCPU", "ALARM", dimensions={"InstanceId": "i-1"}))
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from typing import Any

from rollsafe.detect.intake import sns
from rollsafe.domain import errors

__all__ = ["FakeSns"]


class FakeSns:
    """One SNS topic with its own signing certificate (see the module notes)."""

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        account: str = "123456789012",
        topic: str = "rollsafe-alarms",
        valid_from: datetime.datetime | None = None,
        valid_for: datetime.timedelta = datetime.timedelta(days=3650),
    ) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.region = region
        self.topic_arn = f"arn:aws:sns:{region}:{account}:{topic}"
        self.cert_url = f"https://sns.{region}.amazonaws.com/SimpleNotificationService-test.pem"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        start = valid_from or datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(days=1)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sns.{region}.amazonaws.com")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + valid_for)
            .sign(self._key, hashes.SHA256())
        )
        self.pem = certificate.public_bytes(serialization.Encoding.PEM)
        self.fetched: list[str] = []
        self.confirmed: list[str] = []

    # ------------------------------------------------------------------ messages

    def sign(self, fields: dict[str, str], *, version: int = 2) -> dict[str, str]:
        """``fields`` with SignatureVersion, SigningCertURL and a valid Signature added."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signed = dict(fields)
        signed["SignatureVersion"] = str(version)
        signed.setdefault("SigningCertURL", self.cert_url)
        algorithm: hashes.HashAlgorithm = hashes.SHA1() if version == 1 else hashes.SHA256()  # noqa: S303
        text = sns.canonical(sns.Envelope(fields=signed))
        signed["Signature"] = base64.b64encode(
            self._key.sign(text, padding.PKCS1v15(), algorithm)
        ).decode()
        return signed

    def notification(
        self,
        message: dict[str, Any] | str,
        *,
        subject: str | None = "ALARM",
        version: int = 2,
        message_id: str | None = None,
        topic_arn: str | None = None,
    ) -> bytes:
        """A signed Notification body carrying ``message`` (a dict is sent as JSON)."""
        fields = {
            "Type": sns.NOTIFICATION,
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": topic_arn or self.topic_arn,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": _now_text(),
            "UnsubscribeURL": f"https://sns.{self.region}.amazonaws.com/?Action=Unsubscribe",
        }
        if subject is not None:
            fields["Subject"] = subject
        return json.dumps(self.sign(fields, version=version)).encode()

    def confirmation(self, *, version: int = 2, subscribe_url: str | None = None) -> bytes:
        """A signed SubscriptionConfirmation body."""
        token = uuid.uuid4().hex
        url = subscribe_url or (
            f"https://sns.{self.region}.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={self.topic_arn}&Token={token}"
        )
        fields = {
            "Type": sns.CONFIRMATION,
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": self.topic_arn,
            "Message": f"You have chosen to subscribe to the topic {self.topic_arn}.",
            "SubscribeURL": url,
            "Timestamp": _now_text(),
        }
        return json.dumps(self.sign(fields, version=version)).encode()

    def alarm(
        self,
        name: str,
        state: str,
        *,
        dimensions: dict[str, str] | None = None,
        changed: str = "2026-01-01T10:00:00.000+0000",
        reason: str = "Threshold Crossed",
    ) -> dict[str, Any]:
        """A CloudWatch alarm state change as CloudWatch publishes it to SNS."""
        account = self.topic_arn.split(":")[4]
        return {
            "AlarmName": name,
            "AlarmDescription": None,
            "AWSAccountId": account,
            "NewStateValue": state,
            "NewStateReason": reason,
            "StateChangeTime": changed,
            "Region": self.region,
            "AlarmArn": f"arn:aws:cloudwatch:{self.region}:{account}:alarm:{name}",
            "OldStateValue": "OK" if state == "ALARM" else "ALARM",
            "Trigger": {
                "MetricName": "CPUUtilization",
                "Namespace": "AWS/EC2",
                "StatisticType": "Statistic",
                "Statistic": "AVERAGE",
                "Unit": None,
                "Dimensions": [
                    {"value": value, "name": key} for key, value in (dimensions or {}).items()
                ],
                "Period": 60,
                "EvaluationPeriods": 1,
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 90.0,
            },
        }

    # ------------------------------------------------------------------ the fetcher

    async def fetch(self, url: str) -> bytes:
        """Serves the certificate and records confirmations; anything else fails."""
        self.fetched.append(url)
        if url == self.cert_url:
            return self.pem
        if "Action=ConfirmSubscription" in url:
            self.confirmed.append(url)
            return b"<ConfirmSubscriptionResponse/>"
        raise errors.TemporaryError(f"FakeSns does not serve {url}")


def _now_text() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
