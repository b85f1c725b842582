"""Webhook intake (``intake[]``): endpoints that receive alerts from monitoring, how they
authenticate senders and how an alert is mapped to a target and a severity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.base import _ID_PATTERN, Model
from rollsafe.config.models.rules import AlertSeverityName


def _one_secret(env: str | None, file: Path | None, what: str) -> None:
    if (env is None) == (file is None):
        raise ValueError(f"give exactly one of `{what}_env` or `{what}_file`")


class BearerAuth(Model):
    """``Authorization: Bearer <token>``, compared in constant time."""

    kind: Literal["bearer"]
    token_env: str | None = Field(default=None, description="Env var holding the token")
    token_file: Path | None = Field(
        default=None, description="File holding the token (relative to the config file)"
    )
    allow_query: bool = Field(
        default=False,
        description="Also accept `?token=` in the URL, for senders that cannot set headers "
        "(Alibaba Cloud, Tencent Cloud callbacks)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> BearerAuth:
        _one_secret(self.token_env, self.token_file, "token")
        return self


class HmacAuth(Model):
    """``X-Rollsafe-Signature``: HMAC-SHA256 of ``timestamp + "." + body`` (see integrations)."""

    kind: Literal["hmac"]
    secret_env: str | None = Field(default=None, description="Env var holding the key")
    secret_file: Path | None = Field(
        default=None, description="File holding the key (relative to the config file)"
    )
    tolerance: Duration = Field(default=300.0, description="Accepted clock difference")

    @model_validator(mode="after")
    def _one_source(self) -> HmacAuth:
        _one_secret(self.secret_env, self.secret_file, "secret")
        if self.tolerance <= 0:
            raise ValueError("tolerance must be greater than 0")
        return self


class GrafanaHmacAuth(Model):
    """Grafana's webhook HMAC signature (contact point > Optional settings > HMAC Signature)."""

    kind: Literal["grafana_hmac"]
    secret_env: str | None = Field(default=None, description="Env var holding the secret")
    secret_file: Path | None = Field(
        default=None, description="File holding the secret (relative to the config file)"
    )
    header: str = Field(
        default="X-Grafana-Alerting-Signature", description="Header carrying the signature"
    )
    timestamp_header: str | None = Field(
        default=None,
        description="Header carrying the timestamp, as set in Grafana; enables the time check "
        "and replay rejection",
    )
    tolerance: Duration = Field(default=300.0, description="Accepted clock difference")

    @model_validator(mode="after")
    def _one_source(self) -> GrafanaHmacAuth:
        _one_secret(self.secret_env, self.secret_file, "secret")
        if self.tolerance <= 0:
            raise ValueError("tolerance must be greater than 0")
        return self


class NoAuth(Model):
    """No authentication: only for a loopback address or a trusted network."""

    kind: Literal["none"]


IntakeAuth = Annotated[
    BearerAuth | HmacAuth | GrafanaHmacAuth | NoAuth, Field(discriminator="kind")
]


class AlertMatch(Model):
    """Alerts carrying all these labels (exact values) are about ``target``."""

    labels: dict[str, str] = Field(
        min_length=1, description="Labels the alert must carry, with these values"
    )
    target: str = Field(description="A target id")


def _default_severity_map() -> dict[str, AlertSeverityName]:
    return {"critical": "critical", "warning": "warning", "info": "info"}


class SeverityMapping(Model):
    """How an alert's own severity label becomes info, warning or critical."""

    label: str = Field(default="severity", description="The alert label holding its severity")
    map: dict[str, AlertSeverityName] = Field(
        default_factory=_default_severity_map,
        description="Label value (case-insensitive) -> severity",
    )
    default: AlertSeverityName = Field(
        default="warning", description="For alerts without the label or with another value"
    )


_RESOLVE_PATTERN = r"^(id|address|label:.+)$"


class IntakeBase(Model):
    name: str = Field(pattern=_ID_PATTERN, description="The endpoint: POST /intake/<name>")
    source: str | None = Field(
        default=None,
        pattern=_ID_PATTERN,
        description="Source of the observations, as rules name it (default: `name`)",
    )
    auth: IntakeAuth = Field(description="How senders prove who they are (by `kind`)")
    target_label: str | None = Field(
        default=None, description="Alert label naming the target, e.g. `instance`"
    )
    strip_port: bool = Field(
        default=False, description="Drop a trailing :port from the label value"
    )
    resolve_by: list[Annotated[str, Field(pattern=_RESOLVE_PATTERN)]] = Field(
        default_factory=lambda: ["id", "address"],
        description="What the label value is compared with: `id`, `address`, or "
        "`label:<name>` (a target label), in this order; the first that names exactly one "
        "target wins",
    )
    match: list[AlertMatch] = Field(
        default_factory=list, description="Label matchers -> target id (every match counts)"
    )
    severity: SeverityMapping = Field(
        default_factory=SeverityMapping,
        description="How the sender's alert severities map to rollsafe's",
    )
    dedupe_window: Duration = Field(
        default=3600.0,
        description="A body identical to one received this recently is a resend: not stored",
    )

    @property
    def source_name(self) -> str:
        """The source of this endpoint's observations."""
        return self.source or self.name

    @model_validator(mode="after")
    def _maps_somewhere(self) -> IntakeBase:
        if self.target_label is None and not self.match:
            raise ValueError("give `target_label`, `match`, or both: alerts need a target")
        return self


class AlertmanagerIntake(IntakeBase):
    """Prometheus Alertmanager ``webhook_configs`` (payload version 4)."""

    kind: Literal["alertmanager"]


class GrafanaIntake(IntakeBase):
    """Grafana unified alerting webhook contact point."""

    kind: Literal["grafana"]


class SnsIntake(IntakeBase):
    """AWS SNS HTTP(S) subscription carrying CloudWatch alarm notifications.

    Messages are authenticated by their SNS signature (the certificate must come from
    ``sns.<region>.amazonaws.com``) and must come from ``topic_arn``; ``auth`` is optional.
    """

    kind: Literal["sns"]
    auth: IntakeAuth = Field(
        default_factory=lambda: NoAuth(kind="none"),
        description="Optional extra check; the SNS signature is always verified",
    )
    topic_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$",
        description="The only topic accepted",
    )
    confirm_subscriptions: bool = Field(
        default=True, description="Confirm a verified SubscriptionConfirmation by itself"
    )


class AliyunIntake(IntakeBase):
    """Alibaba Cloud CloudMonitor threshold alert callback (form-encoded)."""

    kind: Literal["aliyun"]


class TencentIntake(IntakeBase):
    """Tencent Cloud Observability Platform (Cloud Monitor) alarm callback (JSON)."""

    kind: Literal["tencent"]
    utc_offset: float = Field(
        default=8.0, ge=-12, le=14, description="Hours east of UTC of the callback's local times"
    )


class GenericIntake(IntakeBase):
    """rollsafe's own JSON form, for anything else (docs/integrations.md)."""

    kind: Literal["generic"]


IntakeEndpoint = Annotated[
    AlertmanagerIntake | GrafanaIntake | SnsIntake | AliyunIntake | TencentIntake | GenericIntake,
    Field(discriminator="kind"),
]
