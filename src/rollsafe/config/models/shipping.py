"""Audit shipping (``audit_shipping[]``): the log platforms the audit events are also
sent to, one sink model per ``kind``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.base import _ID_PATTERN, Model

SyslogFacility = Literal[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "audit", "alert", "clock",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
]  # fmt: skip
_LOKI_LABEL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class AuditSinkBase(Model):
    """What every audit-shipping sink has: a name (its cursor in the store) and its pacing."""

    name: str = Field(pattern=_ID_PATTERN, description="Names the sink's cursor in the store")
    batch_size: int = Field(default=500, ge=1, le=10_000, description="Events per request")
    timeout: Duration = Field(default=10.0, description="One send; longer counts as a failure")
    max_backoff: Duration = Field(
        default=300.0, description="Cap of the exponential wait between failed sends"
    )

    @model_validator(mode="after")
    def _positive_times(self) -> AuditSinkBase:
        if self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")
        if self.max_backoff <= 0:
            raise ValueError("max_backoff must be greater than 0")
        return self


class SyslogSink(AuditSinkBase):
    """RFC 5424 messages over UDP, TCP (octet counting, RFC 6587) or TLS (RFC 5425)."""

    kind: Literal["syslog"]
    host: str = Field(description="Syslog server")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Default: 514 (udp, tcp) or 6514 (tls)"
    )
    transport: Literal["udp", "tcp", "tls"] = Field(
        default="tcp", description="udp, tcp (octet counting) or tls"
    )
    app_name: str = Field(
        default="rollsafe", pattern=r"^[!-~]{1,48}$", description="APP-NAME of the messages"
    )
    facility: SyslogFacility = Field(
        default="local0", description="Syslog facility of the messages"
    )
    hostname: str | None = Field(
        default=None, pattern=r"^[!-~]{1,255}$", description="Default: this machine's name"
    )
    max_message_bytes: int = Field(
        default=8192,
        ge=2048,
        le=65_000,
        description="Longer events are sent without their details (rsyslog's default is 8k)",
    )
    ca_file: str | None = Field(default=None, description="tls: CA bundle for the server")
    cert_file: str | None = Field(default=None, description="tls: client certificate")
    key_file: str | None = Field(default=None, description="tls: client key")
    verify: bool = Field(default=True, description="tls: verify the server's certificate")


class ElasticsearchSink(AuditSinkBase):
    """The bulk API; each event's ``_id`` is ``<chain>-<seq>``, so a resend overwrites."""

    kind: Literal["elasticsearch"]
    url: str = Field(description="Base URL, e.g. https://es.example:9200")
    index: str = Field(
        default="rollsafe-audit",
        description="Index (or data stream); {date} becomes the event's UTC date, 2024.05.01",
    )
    op_type: Literal["index", "create"] = Field(
        default="index", description="create for data streams (a 409 means already shipped)"
    )
    api_key_env: str | None = Field(
        default=None, description="Env var with the encoded API key (Authorization: ApiKey)"
    )
    username: str | None = Field(default=None, description="Basic auth user, with password_env")
    password_env: str | None = Field(default=None, description="Env var with the password")
    ca_file: str | None = Field(
        default=None, description="CA bundle for a private certificate authority"
    )
    verify: bool = Field(default=True, description="Verify the server's TLS certificate")

    @model_validator(mode="after")
    def _one_auth(self) -> ElasticsearchSink:
        _check_basic_auth(self.username, self.password_env)
        if self.api_key_env is not None and self.username is not None:
            raise ValueError("give `api_key_env` or `username`+`password_env`, not both")
        return self


class LokiSink(AuditSinkBase):
    """The push API (``/loki/api/v1/push``): one stream with ``labels``, a line per event."""

    kind: Literal["loki"]
    url: str = Field(description="Base URL, e.g. http://loki:3100")
    labels: dict[str, str] = Field(
        default_factory=lambda: {"job": "rollsafe", "stream": "audit"},
        description="Stream labels; keep them few and fixed (actions go in the line)",
    )
    tenant: str | None = Field(default=None, description="Sent as X-Scope-OrgID")
    username: str | None = Field(default=None, description="Basic auth user, with password_env")
    password_env: str | None = Field(default=None, description="Env var with the password")
    token_env: str | None = Field(default=None, description="Env var with a bearer token")
    ca_file: str | None = Field(
        default=None, description="CA bundle for a private certificate authority"
    )
    verify: bool = Field(default=True, description="Verify the server's TLS certificate")

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels:
            raise ValueError("give at least one label (Loki needs a stream selector)")
        for name in labels:
            if not re.fullmatch(_LOKI_LABEL_PATTERN, name) or name.startswith("__"):
                raise ValueError(
                    f"{name!r} is not a Loki label name (expected letters, digits and _, "
                    "not starting with a digit or __)"
                )
        return labels

    @model_validator(mode="after")
    def _one_auth(self) -> LokiSink:
        _check_basic_auth(self.username, self.password_env)
        if self.token_env is not None and self.username is not None:
            raise ValueError("give `token_env` or `username`+`password_env`, not both")
        return self


class SlsSink(AuditSinkBase):
    """Alibaba Cloud Simple Log Service, PutLogs (protobuf LogGroup, signed with the key)."""

    kind: Literal["sls"]
    endpoint: str = Field(
        description="Region endpoint, e.g. cn-hangzhou.log.aliyuncs.com (https unless given)"
    )
    project: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", description="SLS project name"
    )
    logstore: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", description="SLS logstore name"
    )
    access_key_id_env: str = Field(
        default="ALIBABA_CLOUD_ACCESS_KEY_ID", description="Env var with the AccessKey ID"
    )
    access_key_secret_env: str = Field(
        default="ALIBABA_CLOUD_ACCESS_KEY_SECRET", description="Env var with the AccessKey secret"
    )
    security_token_env: str | None = Field(
        default=None, description="Env var with an STS token (temporary credentials)"
    )
    topic: str = Field(default="rollsafe-audit", description="The LogGroup's __topic__")
    source: str | None = Field(default=None, description="__source__; default: this machine")
    compress: Literal["deflate", "none"] = Field(
        default="deflate", description="Body compression of PutLogs"
    )

    @model_validator(mode="after")
    def _log_group_fits(self) -> SlsSink:
        if self.batch_size > 4096:
            raise ValueError("batch_size must be at most 4096 (a LogGroup's limit)")
        return self


AuditSink = Annotated[
    SyslogSink | ElasticsearchSink | LokiSink | SlsSink, Field(discriminator="kind")
]


def _check_basic_auth(username: str | None, password_env: str | None) -> None:
    if (username is None) != (password_env is None):
        raise ValueError("give both `username` and `password_env`, or neither")
