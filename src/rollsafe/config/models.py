"""The shape of ``rollsafe.yaml``: pydantic models with discriminated unions on ``kind``.

These models are the edge: YAML becomes these, and the core reads them. Loading with
``FILE:LINE: field: reason`` errors lives in ``rollsafe.config.loading``.

Command and URL fields are templates: ``{id}``, ``{address}``, and every label and ``vars``
entry of the target are substituted, e.g. ``http://{address}:{port}/health``.
"""

from __future__ import annotations

import itertools
import re
import string
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from rollsafe.config.durations import Duration

Op = Literal[">", ">=", "<", "<=", "==", "!="]
Field_ = Literal["value", "status", "latency"]
SeverityName = Literal["warning", "critical"]
ApprovalName = Literal["auto", "unless_rejected", "require_approval"]
Command = str | list[str]
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class Model(BaseModel):
    """Base: unknown keys are mistakes, models are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- targets


class Target(Model):
    id: str = Field(pattern=_ID_PATTERN, description="Unique name of the host or service")
    address: str = Field(default="127.0.0.1", description="Host name or IP used in templates")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels selectors match, also template variables"
    )
    driver: str | None = Field(default=None, description="Name of an entry in `drivers`")
    vars: dict[str, str | int | float] = Field(
        default_factory=dict, description="Extra template variables for this target"
    )


class Selector(Model):
    """Which targets an entry applies to: all of ``ids`` (if given) and all ``labels``."""

    ids: list[str] | None = Field(default=None, description="Only these target ids (default: any)")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels the target must carry, with these values"
    )


# --------------------------------------------------------------------------- probes


class ProbeBase(Model):
    name: str = Field(pattern=_ID_PATTERN, description="Name rules refer to")
    targets: Selector = Field(
        default_factory=Selector, description="Which targets this probe watches (default: all)"
    )
    interval: Duration = Field(
        default=15.0, description="Time between two runs of the probe on a target"
    )
    timeout: Duration = Field(default=5.0, description="How long one run on a target may take")
    jitter: Duration = Field(default=0.0, description="Random delay added to each run")

    @model_validator(mode="after")
    def _timeout_fits(self) -> ProbeBase:
        if self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")
        if self.interval <= 0:
            raise ValueError("interval must be greater than 0")
        return self


class HttpProbe(ProbeBase):
    kind: Literal["http"]
    url: str = Field(description="Template, e.g. http://{address}:{port}/health")
    method: Literal["GET", "HEAD", "POST"] = Field(
        default="GET", description="HTTP method of the request"
    )
    expect_status: list[int] = Field(
        default_factory=lambda: [200], description="Status codes that count as healthy"
    )
    body_match: str | None = Field(default=None, description="Regex the body must match")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Request headers (values are templates)"
    )


class TcpProbe(ProbeBase):
    kind: Literal["tcp"]
    host: str = Field(default="{address}", description="Host to connect to (template)")
    port: int | str = Field(description="Port number or template such as {ssh_port}")


_TRANSPORT_HELP = (
    "Read the TARGET through this transport (a name from `transports:`, or one written "
    "inline); default: this machine"
)


class HostProbe(ProbeBase):
    kind: Literal["host"]
    metric: Literal["cpu", "memory", "disk_io", "load"] = Field(
        description="What is measured on the host"
    )
    transport: Transport | None = Field(default=None, description=_TRANSPORT_HELP)


class JournalSource(Model):
    """The systemd journal of the target, followed by cursor (``journalctl``)."""

    unit: str | None = Field(default=None, description="Only this unit (`journalctl -u`)")
    kernel: bool = Field(default=False, description="Only kernel messages (`journalctl -k`)")
    file: str | None = Field(
        default=None, description="Read this journal file (`journalctl --file`), not the system's"
    )


LogPreset = Literal["oom", "kernel_panic", "lockup", "segfault", "systemd_failure", "app_error"]


class LogProbe(ProbeBase):
    kind: Literal["log"]
    path: str | None = Field(
        default=None, description="File to follow, across rotation and truncation"
    )
    journal: JournalSource | None = Field(
        default=None, description="Follow the systemd journal instead of a file (remote only)"
    )
    transport: Transport | None = Field(default=None, description=_TRANSPORT_HELP)
    max_lines: int = Field(
        default=5000, ge=1, description="Journal entries read per observation, at most"
    )
    patterns: list[str] = Field(default_factory=list, description="Regexes counted per run")
    presets: list[LogPreset] = Field(
        default_factory=list, description="Shipped patterns counted as well (oom, kernel_panic ...)"
    )
    from_start: bool = Field(
        default=False,
        description="Count lines already in the file at start (default: only new lines)",
    )
    event_lines: int = Field(
        default=0,
        ge=0,
        description=(
            "Lines matching `patterns` within this many lines of an event's previous line "
            "belong to that event (0: every matching line is an event)"
        ),
    )
    event_key: str | None = Field(
        default=None,
        description=(
            "Regex whose `key` (or first) group names what a line is about (a pid, a request "
            "id): a line with another key begins another event"
        ),
    )
    event_start: list[str] = Field(
        default_factory=list,
        description="Regexes of lines that always begin a new event (the first line of one)",
    )

    @model_validator(mode="after")
    def _something_to_match(self) -> LogProbe:
        if (self.path is None) == (self.journal is None):
            raise ValueError("give exactly one of `path` or `journal`")
        if self.journal is not None and self.transport is None:
            raise ValueError(
                "`journal` is read through a transport: give `transport` (kind: local for "
                "this machine)"
            )
        if not self.patterns and not self.presets:
            raise ValueError("give at least one of `patterns` or `presets`")
        if not self.patterns and (self.event_lines or self.event_key or self.event_start):
            # Presets group their own lines; these settings group the probe's `patterns`.
            raise ValueError(
                "`event_lines`, `event_key` and `event_start` group `patterns`: give some"
            )
        return self


class DataProbe(ProbeBase):
    kind: Literal["data"]
    url: str | None = Field(default=None, description="SQLAlchemy URL, with `query`")
    query: str | None = Field(default=None, description="SQL returning one scalar")
    file: str | None = Field(default=None, description="File whose SHA-256 is observed")

    @model_validator(mode="after")
    def _one_source(self) -> DataProbe:
        if self.file is None and (self.url is None or self.query is None):
            raise ValueError("give either `file`, or both `url` and `query`")
        if self.file is not None and (self.url is not None or self.query is not None):
            raise ValueError("give either `file` or `url`+`query`, not both")
        return self


class CommandProbe(ProbeBase):
    kind: Literal["command"]
    command: Command = Field(
        description="Command run per target (template); its exit code is the status"
    )
    transport: Transport | None = Field(default=None, description=_TRANSPORT_HELP)
    parse: str | None = Field(
        default=None, description="Regex whose first group (or match) in stdout is the value"
    )


PromqlReduce = Literal["max", "min", "sum", "count"]


class PromqlProbe(ProbeBase):
    """Instant query against the Prometheus HTTP API (``/api/v1/query``, evaluated now).

    ``url`` is a ``{name}`` template like every other URL. ``query`` is PromQL, which uses
    braces for label matchers, so it takes ``$name`` or ``${name}`` placeholders instead
    (``$$`` is a literal ``$``) and braces are written as they are:
    ``rate(http_requests_total{instance="$address:$port"}[5m])``.
    """

    kind: Literal["promql"]
    url: str = Field(description="Prometheus base URL (template), e.g. http://127.0.0.1:9090")
    query: str = Field(description="PromQL with $name / ${name} placeholders; $$ for a $")
    reduce: PromqlReduce = Field(
        default="max",
        description="How a vector of several samples becomes one value (count: how many)",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Templates, e.g. X-Org")
    bearer_token_env: str | None = Field(
        default=None, description="Env var holding a bearer token sent as Authorization"
    )


# The five plain statistics, and the extended ones: p99, tm90, IQM, TM(10%:90%), PR(:300)...
_STATISTIC_PATTERN = (
    r"^(Average|Sum|Minimum|Maximum|SampleCount|IQM"
    r"|(p|tm|wm|tc|ts)\d+(\.\d+)?|(TM|WM|TC|TS|PR)\([0-9.%:]+\))$"
)


class CloudwatchProbe(ProbeBase):
    """One CloudWatch metric through GetMetricData; the latest datapoint is the value."""

    kind: Literal["cloudwatch"]
    namespace: str = Field(description="e.g. AWS/EC2, AWS/ApplicationELB, or a custom one")
    metric: str = Field(description="Metric name, e.g. CPUUtilization")
    dimensions: dict[str, str] = Field(
        default_factory=dict, description="Name -> value template, e.g. InstanceId: {instance}"
    )
    statistic: str = Field(
        default="Average",
        pattern=_STATISTIC_PATTERN,
        description="Average, Sum, Minimum, Maximum, SampleCount or a percentile like p99",
    )
    period: Duration = Field(default=60.0, description="1s, 5s, 10s, 30s or a multiple of 60s")
    periods: int = Field(default=5, ge=1, le=1440, description="How many periods back to look")
    region: str | None = Field(
        default=None, description="Template, e.g. {region}; default: the AWS SDK's own lookup"
    )
    endpoint_url: str | None = Field(
        default=None, description="Template; a VPC endpoint or a local stand-in"
    )

    @model_validator(mode="after")
    def _period_allowed(self) -> CloudwatchProbe:
        seconds = self.period
        if seconds != int(seconds) or not (seconds in (1, 5, 10, 30) or seconds % 60 == 0):
            raise ValueError("period must be 1s, 5s, 10s, 30s or a multiple of 60s")
        return self


class AliyunCmsProbe(ProbeBase):
    """One Alibaba Cloud CloudMonitor metric through DescribeMetricLast; newest datapoint."""

    kind: Literal["aliyun_cms"]
    namespace: str = Field(
        default="acs_ecs_dashboard", min_length=1, description="CloudMonitor namespace"
    )
    metric: str = Field(
        min_length=1, description="Metric name, e.g. CPUUtilization, memory_usedutilization"
    )
    dimensions: dict[str, str] = Field(
        default_factory=dict,
        description="Key -> value template, e.g. instanceId: {instance_id}",
    )
    statistic: str = Field(
        default="Average",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Field of the datapoint read: Average, Maximum, Minimum, Value, Sum ...",
    )
    period: Duration = Field(default=60.0, description="Aggregation period, whole seconds")
    periods: int = Field(default=5, ge=1, le=1440, description="How many periods back to look")
    region: str = Field(description="Region id template, e.g. {region} or cn-hangzhou")
    endpoint: str | None = Field(
        default=None,
        description="Host[:port] template; default: the SDK's, metrics.<region>.aliyuncs.com",
    )
    protocol: Literal["https", "http"] = Field(
        default="https", description="http only for a local stand-in"
    )

    @model_validator(mode="after")
    def _whole_period(self) -> AliyunCmsProbe:
        if self.period != int(self.period) or self.period < 1:
            raise ValueError("period must be a whole number of seconds, at least 1s")
        return self


class TencentMonitorProbe(ProbeBase):
    """One Tencent Cloud Monitor metric through GetMonitorData; newest datapoint."""

    kind: Literal["tencent_monitor"]
    namespace: str = Field(default="QCE/CVM", min_length=1, description="Monitor namespace")
    metric: str = Field(min_length=1, description="Metric name, e.g. CPUUsage, MemUsage")
    dimensions: dict[str, str] = Field(
        default_factory=dict, description="Name -> value template, e.g. InstanceId: {instance_id}"
    )
    statistic: Literal["default", "avg", "max", "min"] = Field(
        default="default",
        description="default: the metric's own (Values); avg, max or min (SpecifyStatistics)",
    )
    period: Duration = Field(default=60.0, description="10s, 1m, 5m, 1h or 1d")
    periods: int = Field(default=5, ge=1, le=1440, description="How many periods back to look")
    region: str = Field(description="Region template, e.g. {region} or ap-guangzhou")
    endpoint: str | None = Field(
        default=None,
        description="Host[:port] template; default monitor.tencentcloudapi.com",
    )
    protocol: Literal["https", "http"] = Field(
        default="https", description="http only for a local stand-in"
    )

    @model_validator(mode="after")
    def _period_allowed(self) -> TencentMonitorProbe:
        if self.period not in (10, 60, 300, 3600, 86400):
            raise ValueError("period must be 10s, 1m, 5m, 1h or 1d (GetMonitorData's periods)")
        return self


class LogPlatformProbe(ProbeBase):
    """Common fields of the probes that ask a log platform instead of following a file.

    Each observation counts the matching events whose time lies in ``(now - delay - window,
    now - delay]`` and reports the last of them, the shape of a ``log`` observation. With the
    default window (the interval) successive observations cover time without gaps or overlap.
    """

    window: Duration | None = Field(
        default=None, description="Span counted per observation (default: the interval)"
    )
    delay: Duration = Field(
        default=0.0,
        description="How far behind now the window ends: the platform's ingestion lag",
    )
    message_field: str = Field(
        default="message", min_length=1, description="Field holding the log line"
    )

    @model_validator(mode="after")
    def _window_positive(self) -> LogPlatformProbe:
        if self.window is not None and self.window <= 0:
            raise ValueError("window must be greater than 0")
        if self.delay < 0:
            raise ValueError("delay must not be negative")
        return self


class ElasticsearchProbe(LogPlatformProbe):
    """Elasticsearch or OpenSearch: ``_count`` and ``_search`` with one bool query."""

    kind: Literal["elasticsearch"]
    url: str = Field(description="Base URL (template), e.g. https://es.example:9200")
    index: str = Field(description="Index, alias or pattern (template), e.g. logs-*")
    query: str = Field(
        description="query_string (Lucene) syntax on `message_field`, {name} templates"
    )
    time_field: str = Field(
        default="@timestamp", min_length=1, description="Date field the time window filters on"
    )
    host_field: str | None = Field(
        default=None, description="Keyword field naming the host, e.g. host.name"
    )
    host_value: str = Field(default="{id}", description="Template matched by `host_field`")
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
    def _one_auth(self) -> ElasticsearchProbe:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("give both `username` and `password_env`, or neither")
        if self.api_key_env is not None and self.username is not None:
            raise ValueError("give `api_key_env` or `username`+`password_env`, not both")
        return self


class LokiProbe(LogPlatformProbe):
    """Grafana Loki: LogQL ``count_over_time`` for the count, a backward range query for the line.

    ``selector`` and ``pipeline`` are LogQL, full of braces, so they take ``$name`` /
    ``${name}`` placeholders as the promql query does.
    """

    kind: Literal["loki"]
    url: str = Field(description="Base URL (template), e.g. http://loki:3100")
    selector: str = Field(description='Stream selector, e.g. {job="syslog", host="$id"}')
    pipeline: str = Field(
        default="", description='Line filters and parsers, e.g. |= "oom-kill" ($name templates)'
    )
    tenant: str | None = Field(default=None, description="Sent as X-Scope-OrgID (template)")
    username: str | None = Field(default=None, description="Basic auth user, with password_env")
    password_env: str | None = Field(default=None, description="Env var with the password")
    token_env: str | None = Field(default=None, description="Env var with a bearer token")
    ca_file: str | None = Field(
        default=None, description="CA bundle for a private certificate authority"
    )
    verify: bool = Field(default=True, description="Verify the server's TLS certificate")

    @model_validator(mode="after")
    def _one_auth(self) -> LokiProbe:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("give both `username` and `password_env`, or neither")
        if self.token_env is not None and self.username is not None:
            raise ValueError("give `token_env` or `username`+`password_env`, not both")
        if not self.selector.strip().startswith("{"):
            raise ValueError('selector must be a LogQL stream selector, {label="value", ...}')
        return self


class SlsProbe(LogPlatformProbe):
    """Alibaba Cloud Simple Log Service: GetLogs with ``query | select count(*)``, then the line."""

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
    query: str = Field(description="SLS search statement, {name} templates, e.g. oom-kill")
    topic: str | None = Field(default=None, description="Only logs of this __topic__ (template)")
    message_field: str = Field(
        default="content", min_length=1, description="Field holding the log line"
    )
    access_key_id_env: str = Field(
        default="ALIBABA_CLOUD_ACCESS_KEY_ID", description="Env var holding the AccessKey ID"
    )
    access_key_secret_env: str = Field(
        default="ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        description="Env var holding the AccessKey secret",
    )
    security_token_env: str | None = Field(default=None, description="Env var with an STS token")

    @field_validator("query")
    @classmethod
    def _search_only(cls, query: str) -> str:
        if "|" in query:
            raise ValueError(
                "give the search statement only: the probe adds `| select count(*)` itself"
            )
        return query


class ClsProbe(LogPlatformProbe):
    """Tencent Cloud Log Service: SearchLog (API 2020-10-16) through the official SDK."""

    kind: Literal["cls"]
    region: str = Field(description="e.g. ap-guangzhou")
    topic_id: str = Field(description="Log topic ID (template)")
    query: str = Field(description="CQL or Lucene search statement, {name} templates")
    syntax: Literal["cql", "lucene"] = Field(
        default="cql", description="Syntax of `query` (SearchLog's SyntaxRule 1 or 0)"
    )
    message_field: str = Field(
        default="__CONTENT__", min_length=1, description="Field holding the log line"
    )
    secret_id_env: str = Field(
        default="TENCENTCLOUD_SECRET_ID", description="Env var holding the SecretId"
    )
    secret_key_env: str = Field(
        default="TENCENTCLOUD_SECRET_KEY", description="Env var holding the SecretKey"
    )
    token_env: str | None = Field(default=None, description="Env var with an STS token")
    endpoint: str | None = Field(
        default=None, description="Host[:port] of the API; default cls.tencentcloudapi.com"
    )
    protocol: Literal["https", "http"] = Field(
        default="https", description="http only for a local stand-in"
    )

    @field_validator("query")
    @classmethod
    def _search_only(cls, query: str) -> str:
        if "|" in query:
            raise ValueError(
                "give the search statement only: the probe adds `| select count(*)` itself"
            )
        return query


Probe = Annotated[
    HttpProbe
    | TcpProbe
    | HostProbe
    | LogProbe
    | DataProbe
    | CommandProbe
    | PromqlProbe
    | CloudwatchProbe
    | AliyunCmsProbe
    | TencentMonitorProbe
    | ElasticsearchProbe
    | LokiProbe
    | SlsProbe
    | ClsProbe,
    Field(discriminator="kind"),
]

# --------------------------------------------------------------------------- rules


class RuleBase(Model):
    id: str = Field(
        pattern=_ID_PATTERN,
        description="Name of the rule, used in decisions, audit and composite rules",
    )
    severity: SeverityName = Field(
        default="warning",
        description="What the rule raises when it fires: warning notifies, critical rolls back",
    )
    description: str = Field(default="", description="Free text shown with the decision")
    targets: Selector = Field(
        default_factory=Selector, description="Which targets the rule judges (default: all)"
    )
    approval: ApprovalName | None = Field(
        default=None, description="Overrides policy.approval for runs this rule opens"
    )


class Condition(Model):
    field: Field_ = Field(
        default="value",
        description="What is compared: value, status (an HTTP status or exit code) or latency",
    )
    op: Op = Field(description="Comparison operator")
    value: float = Field(description="Threshold compared with")


class ThresholdRule(RuleBase):
    """Latest value of a probe compared with a threshold, N times in a row or for a while."""

    kind: Literal["threshold"]
    probe: str = Field(description="Name of the probe whose observations are judged")
    field: Field_ = Field(
        default="value",
        description="What is compared: value, status (an HTTP status or exit code) or latency",
    )
    op: Op = Field(description="Comparison operator")
    value: float = Field(description="Threshold compared with")
    consecutive: int = Field(
        default=1, ge=1, description="Observations in a row that must meet the condition"
    )
    for_: Duration | None = Field(
        default=None,
        alias="for",
        description="The condition must also hold this long (on the failing checks)",
    )

    model_config = ConfigDict(populate_by_name=True)


class RatioRule(RuleBase):
    """Share of a window's observations meeting ``when`` above ``above`` (e.g. 5xx ratio)."""

    kind: Literal["ratio"]
    probe: str = Field(description="Name of the probe whose observations are judged")
    when: Condition = Field(description="What makes an observation count as bad")
    window: Duration = Field(default=300.0, description="Span of observations considered")
    above: float = Field(ge=0, le=1, description="Fires when the bad share exceeds this (0 to 1)")
    min_samples: int = Field(
        default=3, ge=1, description="Observations needed in the window before it can fire"
    )


class RateRule(RuleBase):
    """Sum of ``value`` over a window, per ``per`` seconds (e.g. ERROR lines per minute)."""

    kind: Literal["rate"]
    probe: str = Field(description="Name of the probe whose values are summed")
    window: Duration = Field(default=300.0, description="Span of observations considered")
    per: Duration = Field(default=60.0, description="Unit of the rate, e.g. 1m for per minute")
    above: float = Field(ge=0, description="Fires when the rate exceeds this")
    min_samples: int = Field(
        default=1, ge=1, description="Observations needed in the window before it can fire"
    )


class BaselineRule(RuleBase):
    """Now vs before the upgrade: window mean (or rate) against the reference period."""

    kind: Literal["baseline"]
    probe: str = Field(description="Name of the probe compared with its own past")
    field: Field_ = Field(
        default="value",
        description="What is aggregated: value, status (HTTP status or exit code) or latency",
    )
    aggregate: Literal["mean", "rate", "ratio"] = Field(
        default="mean", description="How a window is summed up: mean, rate or ratio (with `when`)"
    )
    when: Condition | None = Field(default=None, description="For aggregate=ratio")
    window: Duration = Field(
        default=300.0, description="Span after the upgrade compared with the reference"
    )
    before: Duration = Field(
        default=3600.0, description="Span before the upgrade mark used as the reference"
    )
    max_increase: float = Field(default=2.0, gt=0, description="Factor over the baseline")
    min_delta: float = Field(default=0.0, ge=0, description="Absolute change also required")
    min_samples: int = Field(
        default=3, ge=1, description="Samples needed in each span before it can fire"
    )

    @model_validator(mode="after")
    def _ratio_needs_when(self) -> BaselineRule:
        if self.aggregate == "ratio" and self.when is None:
            raise ValueError("aggregate `ratio` needs `when`")
        return self


class AllRule(RuleBase):
    """Every listed rule is at warning or worse: cross-validation of independent signals."""

    kind: Literal["all"]
    rules: list[str] = Field(
        min_length=1, description="Rule ids that must all be at warning or worse"
    )


class AnyRule(RuleBase):
    kind: Literal["any"]
    rules: list[str] = Field(
        min_length=1, description="Rule ids of which one at warning or worse is enough"
    )


class AtLeastRule(RuleBase):
    kind: Literal["at_least"]
    count: int = Field(ge=1, description="How many of `rules` must be at warning or worse")
    rules: list[str] = Field(min_length=1, description="Rule ids counted")

    @model_validator(mode="after")
    def _count_fits(self) -> AtLeastRule:
        if self.count > len(self.rules):
            raise ValueError(f"count {self.count} is more than the {len(self.rules)} rules listed")
        return self


AlertSeverityName = Literal["info", "warning", "critical"]


class AlertRule(RuleBase):
    """An alert received on an intake endpoint is firing for the target now.

    Several alerts may fire on one target through one source: the rule fires while at least
    one alert matching ``alertname``, ``labels`` and ``min_severity`` is firing (its latest
    state, by the alert's own time, is firing). Alerts are signals: compose this rule with
    probe rules (``all``) to cross-validate an alert before a rollback.
    """

    kind: Literal["alert"]
    source: str = Field(
        pattern=_ID_PATTERN,
        description="The intake endpoint's source (its `source`, or its `name`)",
    )
    alertname: list[str] | None = Field(
        default=None, description="Only these alert names (default: any)"
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels the alert must carry, with these values"
    )
    min_severity: AlertSeverityName = Field(
        default="info", description="Only alerts mapped to this severity or higher"
    )

    @field_validator("alertname", mode="before")
    @classmethod
    def _one_or_more_names(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class CohortRule(RuleBase):
    """During a rollout: a target being baked against the targets not upgraded yet.

    Each canary (a target whose bake is under way) is compared with the pooled aggregate of
    the rollout's baseline cohort (its targets still waiting for their wave) over the same
    ``window``, at the same time, so a fleet-wide change (traffic, a dependency) does not
    count against the release. The rollout assigns the cohorts; outside a rollout, and for a
    target in neither cohort, the rule does not apply (severity ok, no data).
    """

    kind: Literal["cohort"]
    probe: str = Field(description="Name of the probe compared across the cohorts")
    field: Field_ = Field(
        default="value",
        description="What is aggregated: value, status (HTTP status or exit code) or latency",
    )
    aggregate: Literal["mean", "rate", "ratio"] = Field(
        default="mean", description="How a window is summed up: mean, rate or ratio (with `when`)"
    )
    when: Condition | None = Field(default=None, description="For aggregate=ratio")
    window: Duration = Field(
        default=300.0, description="Span compared, the same for the canary and the cohort"
    )
    max_increase: float = Field(
        default=2.0, gt=0, description="Factor over the baseline cohort's aggregate"
    )
    min_delta: float = Field(default=0.0, ge=0, description="Absolute change also required")
    min_samples: int = Field(
        default=3, ge=1, description="Samples needed from the canary, and from the cohort"
    )

    @model_validator(mode="after")
    def _ratio_needs_when(self) -> CohortRule:
        if self.aggregate == "ratio" and self.when is None:
            raise ValueError("aggregate `ratio` needs `when`")
        return self


class RegressionRule(RuleBase):
    """After an upgrade: is the signal worse than before it (or than the baseline cohort)?

    An anytime-valid sequential test (``rollsafe.judge.sequential``): the chance that a
    healthy upgrade is ever flagged during its ``watch`` is at most ``alpha``, however often
    the judge looks. "Worse" means worse by more than the margin: a value ``y`` before
    becomes ``max(y * min_ratio, y + min_delta)``. Observations are summarised one value per
    ``bucket`` (at least the probe's interval), so fast, correlated probes do not count as
    independent evidence, and the first ``grace`` after the upgrade (warm-up) is not judged.

    * ``aggregate: quantile`` (latency, memory %): bucket medians of ``field`` against the
      ``quantiles`` of the reference period (how often they exceed them);
    * ``aggregate: ratio``: the share of observations meeting ``when`` (e.g. status >= 500);
    * ``aggregate: rate``: the sum of ``field`` per second (error lines or events counted).

    ``against: self`` compares with the target's own ``before`` period ending at its latest
    ``upgrade`` mark; ``against: cohort`` compares a canary, bucket by bucket, with the
    rollout's baseline cohort at the same time (the rule does not apply outside a rollout).
    """

    kind: Literal["regression"]
    probe: str = Field(description="The probe whose observations are judged (its name)")
    field: Field_ = Field(default="value", description="The field read (summed for rate)")
    aggregate: Literal["quantile", "ratio", "rate"] = Field(
        default="quantile",
        description="quantile: bucket medians of `field` (latency); ratio: the share meeting "
        "`when`; rate: the sum of `field` per second (error lines, events)",
    )
    when: Condition | None = Field(default=None, description="For aggregate=ratio")
    against: Literal["self", "cohort"] = Field(
        default="self", description="The target's own pre-upgrade period, or the cohort"
    )
    before: Duration = Field(default=3600.0, description="Reference period before the upgrade")
    grace: Duration = Field(default=120.0, description="Warm-up after the upgrade, not judged")
    watch: Duration = Field(
        default=7200.0, description="How long after the upgrade the test runs (alpha covers it)"
    )
    bucket: Duration = Field(default=30.0, description="One summary value per bucket")
    alpha: float = Field(
        default=0.001, gt=0, lt=0.5, description="Bound on a false alarm over one watch"
    )
    min_ratio: float = Field(default=1.5, ge=1, description="Relative margin: worse by this factor")
    min_delta: float = Field(default=0.0, ge=0, description="Absolute margin, in field units")
    quantiles: list[float] = Field(
        default_factory=lambda: [0.5, 0.9, 0.99],
        min_length=1,
        max_length=8,
        description="Reference quantiles tested (aggregate quantile; all aggregates in cohort)",
    )
    min_baseline: int = Field(
        default=10, ge=2, description="Reference buckets needed (against self), peers (cohort)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> RegressionRule:
        if self.aggregate == "ratio" and self.when is None:
            raise ValueError(
                "aggregate `ratio` needs `when` (e.g. {field: status, op: '>=', value: 500})"
            )
        if self.aggregate != "ratio" and self.when is not None:
            raise ValueError(f"`when` is only read by aggregate `ratio`, not `{self.aggregate}`")
        if self.bucket <= 0:
            raise ValueError("bucket must be longer than 0s")
        if self.grace + self.bucket > self.watch:
            raise ValueError("watch must be longer than grace plus one bucket")
        if self.against == "self" and self.before < 2 * self.bucket:
            raise ValueError("before must hold at least two buckets")
        if any(not 0.5 <= q < 1 for q in self.quantiles):
            raise ValueError("quantiles must be at least 0.5 and below 1, e.g. [0.5, 0.9, 0.99]")
        if len(set(self.quantiles)) != len(self.quantiles):
            raise ValueError("quantiles must not repeat")
        return self


Rule = Annotated[
    ThresholdRule
    | RatioRule
    | RateRule
    | BaselineRule
    | AlertRule
    | CohortRule
    | RegressionRule
    | AllRule
    | AnyRule
    | AtLeastRule,
    Field(discriminator="kind"),
]
COMPOSITE_KINDS = frozenset({"all", "any", "at_least"})

# --------------------------------------------------------------------------- drivers


class LocalDriver(Model):
    """Hosts managed by commands on this machine (the base for SSH hosts later)."""

    kind: Literal["local"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    directory: str | None = Field(
        default=None, description="Directory captured as the built-in restore point"
    )
    upgrade: Command | None = Field(
        default=None, description="Command that upgrades a target (template)"
    )
    checkpoint: Command | None = Field(default=None, description="Extra command at checkpoint")
    rollback: Command | None = Field(default=None, description="Extra command at rollback")
    restart: Command | None = Field(default=None, description="Restarts the service after")
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment of the driver's commands"
    )
    step_timeout: Duration = Field(default=300.0, description="Longest time one command may run")

    @model_validator(mode="after")
    def _can_roll_back(self) -> LocalDriver:
        if self.directory is None and self.rollback is None:
            raise ValueError("give `directory` or `rollback` (or both): nothing to roll back")
        return self


AwsStrategy = Literal["replace-root-volume", "swap-volume"]


class AwsDriver(Model):
    """EC2 instances, rolled back to a snapshot of their root volume (boto3).

    The instance of a target is its ``vars.instance_id``. Credentials come only from the AWS
    SDK's own chain (environment, profile, instance role), never from this file.
    """

    kind: Literal["aws"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    region: str | None = Field(
        default=None, description="e.g. eu-west-1; default: the AWS SDK's own lookup"
    )
    endpoint_url: str | None = Field(
        default=None, description="A VPC endpoint of EC2, or a local stand-in in tests"
    )
    strategy: AwsStrategy = Field(
        default="replace-root-volume",
        description="replace-root-volume (in place, instance keeps running) or swap-volume "
        "(stop, detach, attach a volume made from the snapshot, start)",
    )
    replace_instance: bool = Field(
        default=False,
        description="Last resort when a restore leaves the instance without a root volume: "
        "launch a new instance from an image of the snapshot (its id and address change; "
        "the old one is stopped and kept)",
    )
    status_checks: bool = Field(
        default=True, description="Wait for the instance and system status checks to be ok"
    )
    poll_interval: Duration = Field(default=5.0, description="First wait between two polls")
    max_poll_interval: Duration = Field(default=30.0, description="Polls back off up to this")
    snapshot_wait: Duration = Field(default=3600.0, description="Longest wait for a snapshot")
    restore_wait: Duration = Field(
        default=1800.0, description="Longest wait for a root volume replacement or swap"
    )
    instance_wait: Duration = Field(
        default=900.0, description="Longest wait for the instance to stop, or to run and pass"
    )
    api_timeout: Duration = Field(default=30.0, description="Connect and read timeout of a call")
    api_attempts: int = Field(
        default=4, ge=1, le=10, description="Attempts of one call inside the SDK (throttling)"
    )
    upgrade: Command | None = Field(
        default=None, description="Command run on the controller to upgrade a target"
    )
    upgrade_timeout: Duration = Field(
        default=1800.0, description="Longest time the upgrade command may run"
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment of upgrade")

    @model_validator(mode="after")
    def _waits_make_sense(self) -> AwsDriver:
        for name in ("poll_interval", "snapshot_wait", "restore_wait", "instance_wait"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be greater than 0")
        if self.api_timeout <= 0 or self.upgrade_timeout <= 0:
            raise ValueError("api_timeout and upgrade_timeout must be greater than 0")
        if self.max_poll_interval < self.poll_interval:
            raise ValueError("max_poll_interval must be at least poll_interval")
        return self


class TencentEndpoints(Model):
    """Where each service's calls go instead of ``<service>.tencentcloudapi.com``."""

    cvm: str | None = Field(default=None, description="host[:port] of CVM, e.g. a stand-in")
    cbs: str | None = Field(default=None, description="host[:port] of CBS, e.g. a stand-in")


class TencentDriver(Model):
    """Tencent Cloud CVM instances, rolled back to a CBS snapshot of their system disk.

    The instance of a target is its ``vars.instance_id``. Credentials come only from the
    environment (TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY) or the SDK's default
    provider chain (profile file, CVM role), never from this file.
    """

    kind: Literal["tencent"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    region: str = Field(pattern=r"^[a-z]+(-[a-z0-9]+)+$", description="e.g. ap-guangzhou")
    endpoints: TencentEndpoints = Field(
        default_factory=TencentEndpoints,
        description="Per-service API hosts instead of the public ones",
    )
    protocol: Literal["https", "http"] = Field(
        default="https", description="http only for a local stand-in"
    )
    strategy: Literal["auto-stop", "explicit"] = Field(
        default="auto-stop",
        description="auto-stop (ApplySnapshot stops and starts the instance itself) or "
        "explicit (StopInstances, ApplySnapshot, StartInstances)",
    )
    stop_type: Literal["SOFT", "SOFT_FIRST", "HARD"] = Field(
        default="SOFT_FIRST", description="StopInstances' StopType (explicit strategy)"
    )
    snapshot_expiry: Duration | None = Field(
        default=None, description="Snapshots delete themselves after this (at least 1 day)"
    )
    replace_instance: bool = Field(
        default=False,
        description="Last resort when the snapshot rollback leaves the instance unusable: "
        "launch a new instance from the image it ran at checkpoint time and stop the old one "
        "(the target's instance id changes: update vars.instance_id)",
    )
    poll_interval: Duration = Field(default=2.0, description="First wait between two polls")
    max_poll_interval: Duration = Field(default=15.0, description="Polls back off up to this")
    snapshot_wait: Duration = Field(default=3600.0, description="Longest wait for a snapshot")
    restore_wait: Duration = Field(
        default=240.0, description="Longest wait for ApplySnapshot's rollback to finish"
    )
    instance_wait: Duration = Field(
        default=240.0, description="Longest wait for the instance to stop or to run"
    )
    api_timeout: Duration = Field(default=30.0, description="Timeout of one API call")
    throttle_retry_after: Duration = Field(
        default=1.0, description="Wait before retrying a throttled call (RequestLimitExceeded)"
    )
    upgrade: Command | None = Field(
        default=None, description="Command run on the controller to upgrade a target"
    )
    upgrade_timeout: Duration = Field(
        default=1800.0, description="Longest time the upgrade command may run"
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment of upgrade")

    @model_validator(mode="after")
    def _waits_make_sense(self) -> TencentDriver:
        for name in (
            "poll_interval",
            "snapshot_wait",
            "restore_wait",
            "instance_wait",
            "api_timeout",
            "upgrade_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be greater than 0")
        if self.throttle_retry_after < 0:
            raise ValueError("throttle_retry_after must not be negative")
        if self.max_poll_interval < self.poll_interval:
            raise ValueError("max_poll_interval must be at least poll_interval")
        if self.snapshot_expiry is not None and self.snapshot_expiry < 86400:
            raise ValueError("snapshot_expiry must be at least 1 day (CBS refuses less)")
        return self


class AliyunDriver(Model):
    """Alibaba Cloud ECS instances, rolled back to a snapshot of their system disk.

    The instance of a target is its ``vars.instance_id``. Credentials come only from the
    Alibaba Cloud default credential chain (ALIBABA_CLOUD_ACCESS_KEY_ID /
    ALIBABA_CLOUD_ACCESS_KEY_SECRET, CLI profile, ECS RAM role ...), never from this file.
    """

    kind: Literal["aliyun"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    region_id: str = Field(pattern=r"^[a-z]+(-[a-z0-9]+)+$", description="e.g. cn-hangzhou")
    endpoint: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
        description="host[:port] of the ECS API (a VPC endpoint, or a local stand-in in "
        "tests); default: the region's public endpoint",
    )
    protocol: Literal["https", "http"] = Field(
        default="https", description="http only for a local stand-in"
    )
    stopped_mode: Literal["KeepCharging", "StopCharging"] = Field(
        default="KeepCharging",
        description="StopInstance's StoppedMode: KeepCharging keeps the instance's resources, "
        "so the restart after the rollback cannot fail for lack of stock",
    )
    force_stop: bool = Field(default=False, description="StopInstance's ForceStop (power off)")
    replace_system_disk: bool = Field(
        default=False,
        description="Last resort when the snapshot cannot be used: ReplaceSystemDisk from the "
        "image the instance ran at checkpoint time (everything written since is lost)",
    )
    snapshot_retention_days: int | None = Field(
        default=None, ge=1, le=65536, description="Snapshots delete themselves after this"
    )
    poll_interval: Duration = Field(default=5.0, description="First wait between two polls")
    max_poll_interval: Duration = Field(default=30.0, description="Polls back off up to this")
    snapshot_wait: Duration = Field(default=3600.0, description="Longest wait for a snapshot")
    restore_wait: Duration = Field(
        default=180.0, description="Longest wait for a reset (or replaced) system disk"
    )
    instance_wait: Duration = Field(
        default=240.0, description="Longest wait for the instance to stop or to run"
    )
    api_timeout: Duration = Field(default=30.0, description="Connect and read timeout of a call")
    api_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a throttled call that cannot act twice"
    )
    upgrade: Command | None = Field(
        default=None,
        description="Shell command run ON THE INSTANCE by Cloud Assistant (RunCommand); "
        "a template like every command",
    )
    upgrade_timeout: Duration = Field(default=1800.0, description="RunCommand's Timeout")

    @model_validator(mode="after")
    def _waits_make_sense(self) -> AliyunDriver:
        for name in (
            "poll_interval",
            "snapshot_wait",
            "restore_wait",
            "instance_wait",
            "api_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be greater than 0")
        if self.max_poll_interval < self.poll_interval:
            raise ValueError("max_poll_interval must be at least poll_interval")
        if not 10 <= self.upgrade_timeout <= 86400:
            raise ValueError("upgrade_timeout must be from 10s to 24h (RunCommand's limits)")
        return self


# ----------------------------------------------------------- command transports (host driver)


class LocalTransport(Model):
    """Commands run on this machine (the controller is the host)."""

    kind: Literal["local"]


class SshTransport(Model):
    """Commands run over SSH (asyncssh). The host is the target's ``address``.

    Host keys are always verified against ``known_hosts``: there is no "accept any key" mode.
    Authentication is by ``identity_file`` (a private key file) or, when it is not given, by
    the keys of a running ssh-agent (``SSH_AUTH_SOCK``).
    """

    kind: Literal["ssh"]
    user: str = Field(default="root", description="Login user on the host")
    port: int = Field(default=22, ge=1, le=65535, description="SSH port of the host")
    known_hosts: str = Field(
        description="known_hosts file the host key must be in (no silent trust on first use)"
    )
    identity_file: str | None = Field(
        default=None, description="Private key file; default: keys of the ssh-agent"
    )
    passphrase_env: str | None = Field(
        default=None, description="Environment variable holding the key's passphrase"
    )
    connect_timeout: Duration = Field(default=10.0, description="TCP connect + SSH handshake")
    keepalive_interval: Duration = Field(
        default=15.0, description="SSH keepalive period of idle connections"
    )
    max_sessions: int = Field(default=4, ge=1, description="Commands at once on one host")


class SsmTransport(Model):
    """Commands run by AWS Systems Manager Run Command (``AWS-RunShellScript``).

    The instance is the target's ``vars.instance_id``; credentials come from the AWS SDK chain.
    """

    kind: Literal["aws_ssm"]
    region: str | None = Field(
        default=None, description="AWS region; default: the SDK's own lookup"
    )
    endpoint_url: str | None = Field(default=None, description="VPC endpoint, or a stand-in")
    poll_interval: Duration = Field(default=2.0, description="GetCommandInvocation period")
    output_s3_bucket: str | None = Field(
        default=None, description="Bucket for outputs longer than the API returns (24,000 chars)"
    )


class AliyunAssistantTransport(Model):
    """Commands run by Alibaba Cloud Assistant (``RunCommand`` / ``DescribeInvocationResults``).

    The instance is the target's ``vars.instance_id``. Credentials as for the aliyun driver:
    the SDK's own chain, never this file.
    """

    kind: Literal["aliyun_assistant"]
    region: str = Field(description="Region id, e.g. cn-hangzhou")
    endpoint: str | None = Field(default=None, description="Default: ecs.<region>.aliyuncs.com")
    poll_interval: Duration = Field(
        default=2.0, description="Time between two reads of the command's result"
    )


class TencentTatTransport(Model):
    """Commands run by Tencent Cloud TAT (``RunCommand`` / ``DescribeInvocationTasks``).

    The instance is the target's ``vars.instance_id``. Credentials as for the tencent driver:
    the SDK's own chain, never this file.
    """

    kind: Literal["tencent_tat"]
    region: str = Field(description="Region, e.g. ap-guangzhou")
    endpoint: str | None = Field(default=None, description="Default: tat.tencentcloudapi.com")
    poll_interval: Duration = Field(
        default=2.0, description="Time between two reads of the command's result"
    )


Transport = Annotated[
    LocalTransport | SshTransport | SsmTransport | AliyunAssistantTransport | TencentTatTransport,
    Field(discriminator="kind"),
]

# The probes above name ``Transport`` before it is defined: resolve them now.
HostProbe.model_rebuild()
LogProbe.model_rebuild()
CommandProbe.model_rebuild()

# --------------------------------------------------------------------- recipes (host driver)


class DirectoryRecipe(Model):
    """A copy of one directory (the local driver's restore point, run through a transport)."""

    kind: Literal["directory"]
    path: str = Field(description="Directory captured and restored, on the host")
    snapshots: str | None = Field(
        default=None, description="Where copies are kept; default: <path>.rollsafe-snapshots"
    )


class BtrfsRecipe(Model):
    """A read-only snapshot of a btrfs subvolume; rollback makes a writable copy of it active."""

    kind: Literal["btrfs"]
    subvolume: str = Field(description="Path of the active subvolume, e.g. /srv/app")
    snapshots: str = Field(description="Directory (same file system) holding the snapshots")


class SnapperRecipe(Model):
    """A snapper ``pre`` snapshot; rollback with ``snapper rollback`` or ``undochange``."""

    kind: Literal["snapper"]
    config: str = Field(default="root", description="snapper config name (-c)")
    mode: Literal["rollback", "undochange"] = Field(
        default="undochange",
        description="rollback: new default subvolume + reboot; undochange: revert files now",
    )
    reboot_timeout: Duration = Field(
        default=600.0, description="How long the host may take to come back after a reboot"
    )
    no_dbus: bool = Field(
        default=False,
        description="Run snapper --no-dbus (as root, without the snapperd D-Bus service)",
    )


class LvmRecipe(Model):
    """An LVM snapshot of a logical volume; rollback merges it back (``lvconvert --merge``)."""

    kind: Literal["lvm"]
    volume_group: str = Field(description="Volume group of the logical volume")
    logical_volume: str = Field(description="Logical volume snapshotted and merged back")
    snapshot_size: str = Field(default="1G", description="-L of lvcreate, e.g. 2G or 20%ORIGIN")
    reboot_timeout: Duration = Field(
        default=600.0, description="How long the host may take to come back after a reboot"
    )


class AptRecipe(Model):
    """The installed package set (names and versions); rollback installs exactly that set."""

    kind: Literal["apt"]
    packages: list[str] | None = Field(
        default=None, description="Only these packages; default: every installed package"
    )


class DnfRecipe(Model):
    """The dnf transaction id before the upgrade; rollback is ``dnf history undo`` past it."""

    kind: Literal["dnf"]
    packages: list[str] | None = Field(
        default=None,
        description="Only these packages are recorded and checked; default: all installed",
    )


class OstreeRecipe(Model):
    """Image-based hosts: rollback to the previous deployment and reboot into it."""

    kind: Literal["rpm-ostree", "bootc"]
    reboot_timeout: Duration = Field(
        default=600.0, description="How long the host may take to come back after a reboot"
    )


class Qcow2Recipe(Model):
    """An internal snapshot of a VM disk image (``qemu-img snapshot``) taken while it is stopped."""

    kind: Literal["qcow2"]
    image: str = Field(description="Path of the .qcow2 image on the host")
    stop: Command | None = Field(default=None, description="Stops the VM (e.g. virsh shutdown)")
    start: Command | None = Field(default=None, description="Starts the VM again")


class ScriptRecipe(Model):
    """The users' own scripts for each phase."""

    kind: Literal["script"]
    checkpoint: Command | None = Field(
        default=None, description="Command that takes a restore point"
    )
    rollback: Command = Field(description="Command that restores the restore point")
    verify: Command | None = Field(
        default=None, description="Command whose exit code 0 means the rollback worked"
    )


Recipe = Annotated[
    DirectoryRecipe
    | BtrfsRecipe
    | SnapperRecipe
    | LvmRecipe
    | AptRecipe
    | DnfRecipe
    | OstreeRecipe
    | Qcow2Recipe
    | ScriptRecipe,
    Field(discriminator="kind"),
]


class HostDriver(Model):
    """Hosts rolled back through their OS by a recipe, with commands sent by a transport."""

    kind: Literal["host"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    transport: Transport = Field(
        default_factory=lambda: LocalTransport(kind="local"),
        description="How commands reach the host: local, ssh, aws_ssm, aliyun_assistant, "
        "tencent_tat",
    )
    recipe: Recipe = Field(description="How a restore point is taken, restored and checked")
    upgrade: Command | None = Field(
        default=None, description="Command that upgrades the host, run through the transport"
    )
    restart: Command | None = Field(default=None, description="Restarts the service after")
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment of the driver's commands"
    )
    step_timeout: Duration = Field(default=300.0, description="Longest time one command may run")
    output_limit: int = Field(
        default=16384, ge=256, description="Bytes of each command's output kept in the audit"
    )
    use_sudo: bool = Field(default=False, description="Prefix recipe commands with sudo -n")


class KubernetesDriver(Model):
    """Deployments rolled back to their previous revision, as ``kubectl rollout undo`` does.

    The Deployment of a target is ``vars.deployment`` in ``vars.namespace`` (default
    ``namespace`` here).
    """

    kind: Literal["kubernetes"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    kubeconfig: str | None = Field(
        default=None, description="kubeconfig file; default: in-cluster, then ~/.kube/config"
    )
    context: str | None = Field(
        default=None, description="kubeconfig context; default: the current one"
    )
    namespace: str = Field(
        default="default", description="Namespace of targets without `vars.namespace`"
    )
    rollout_timeout: Duration = Field(
        default=300.0, description="How long a rollback may take to be complete and ready"
    )
    poll_interval: Duration = Field(
        default=2.0, description="Time between two reads of the rollout's progress"
    )
    upgrade_image: str | None = Field(
        default=None, description="container=image set by `upgrade` (drills, demos)"
    )


Driver = Annotated[
    LocalDriver | AwsDriver | TencentDriver | AliyunDriver | HostDriver | KubernetesDriver,
    Field(discriminator="kind"),
]

# --------------------------------------------------------------------------- notifiers


class MessageTemplate(Model):
    """Overrides the wording of one kind of message: ``{field}`` placeholders (see notify)."""

    title: str | None = Field(default=None, description="e.g. '{target}: rollback {state}'")
    text: str | None = Field(default=None, description="Body; chat channels render it as markdown")

    @model_validator(mode="after")
    def _known_fields(self) -> MessageTemplate:
        for part in (self.title, self.text):
            if part is not None:
                _check_template(part)
        return self


TEMPLATE_FIELDS = frozenset(
    {
        "event",
        "severity",
        "title",
        "text",
        "target",
        "run_id",
        "rule",
        "state",
        "actor",
        "reason",
        "error",
        "mode",
        "deadline",
        "approve_url",
        "reject_url",
        "dashboard_url",
    }
)
"""Placeholders a message template may use (``rollsafe.notify.templates`` fills them)."""


def _check_template(template: str) -> None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed template {template!r}: {exc}") from None
    for _, name, _, _ in parsed:
        if name is not None and name not in TEMPLATE_FIELDS:
            known = ", ".join(sorted(TEMPLATE_FIELDS))
            raise ValueError(f"unknown placeholder {{{name}}} (known: {known})")


class NotifierBase(Model):
    """What every notifier has: a name, a severity floor, an event filter, templates."""

    name: str = Field(
        pattern=_ID_PATTERN, description="Name of the notifier, in the audit and in errors"
    )
    min_severity: SeverityName = Field(
        default="warning", description="Only decisions of this severity or worse are sent"
    )
    events: list[str] | None = Field(
        default=None,
        description="Only these events (shell patterns such as 'run.*'); default: all",
    )
    templates: dict[str, MessageTemplate] = Field(
        default_factory=dict,
        description="Event name (or '*') -> wording that replaces the built-in one",
    )


class _HasUrl(NotifierBase):
    """Chat webhooks: the URL carries the channel's token, so it may come from the environment."""

    url: str | None = Field(default=None, description="Webhook URL (it holds a token)")
    url_env: str | None = Field(default=None, description="Env var holding the webhook URL")

    @model_validator(mode="after")
    def _one_url(self) -> _HasUrl:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of `url` or `url_env`")
        return self


class WebhookNotifier(NotifierBase):
    kind: Literal["webhook"]
    url: str = Field(description="URL the JSON message is POSTed to")
    secret_env: str | None = Field(default=None, description="Env var holding the HMAC key")


class LogNotifier(NotifierBase):
    """Writes notifications to the daemon's log; useful locally and in tests."""

    kind: Literal["log"]


class SlackNotifier(_HasUrl):
    """Slack incoming webhook with Block Kit; optional interactive approve/reject buttons."""

    kind: Literal["slack"]
    interactive: bool = Field(
        default=False,
        description="Approve/reject buttons handled by rollsafe's /slack/actions endpoint "
        "(needs `signing_secret_env`); otherwise signed links when access.public_url is set",
    )
    signing_secret_env: str | None = Field(
        default=None, description="Env var holding the Slack app's signing secret"
    )
    approvers: list[str] | None = Field(
        default=None, description="Slack user ids or names allowed to click; default: anyone"
    )

    @model_validator(mode="after")
    def _buttons_need_secret(self) -> SlackNotifier:
        if self.interactive and self.signing_secret_env is None:
            raise ValueError("`interactive: true` needs `signing_secret_env`")
        return self


class WecomNotifier(_HasUrl):
    """WeCom (WeChat Work) group robot, markdown messages."""

    kind: Literal["wecom"]


class DingtalkNotifier(_HasUrl):
    """DingTalk custom robot; with ``secret_env`` every request is signed (加签)."""

    kind: Literal["dingtalk"]
    secret_env: str | None = Field(default=None, description="Env var holding the SEC... secret")
    at_mobiles: list[str] = Field(default_factory=list, description="Members to @ on messages")
    at_all: bool = Field(default=False, description="@ everyone in the group on each message")


class FeishuNotifier(_HasUrl):
    """Feishu / Lark custom bot; with ``secret_env`` every request carries its signature."""

    kind: Literal["feishu"]
    secret_env: str | None = Field(default=None, description="Env var holding the bot's secret")


class EmailNotifier(NotifierBase):
    """Plain SMTP (STARTTLS, implicit TLS or none), one message per notification."""

    kind: Literal["email"]
    host: str = Field(description="SMTP server")
    port: int = Field(
        default=587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 implicit TLS)"
    )
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls, ssl (implicit TLS) or none"
    )
    username: str | None = Field(default=None, description="SMTP login, with password_env")
    password_env: str | None = Field(default=None, description="Env var holding the password")
    sender: str = Field(description="From: address")
    to: list[str] = Field(min_length=1, description="Recipients")
    timeout: Duration = Field(default=30.0, description="Connect and send timeout")


Notifier = Annotated[
    WebhookNotifier
    | LogNotifier
    | SlackNotifier
    | WecomNotifier
    | DingtalkNotifier
    | FeishuNotifier
    | EmailNotifier,
    Field(discriminator="kind"),
]

# --------------------------------------------------------------------------- audit shipping

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


# --------------------------------------------------------------------------- people's access

Role = Literal["viewer", "operator", "admin"]


class ApiToken(Model):
    """One bearer token of the API and dashboard: who holds it and what it may do.

    The token itself never sits in this file: it is read from an environment variable or a file.
    """

    name: str = Field(pattern=_ID_PATTERN, description="Who holds it; audited as api:<name>")
    role: Role = Field(description="viewer reads; operator also approves and rolls back; admin all")
    token_env: str | None = Field(default=None, description="Env var holding the token")
    token_file: Path | None = Field(
        default=None, description="File holding the token (relative to the config file)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> ApiToken:
        if (self.token_env is None) == (self.token_file is None):
            raise ValueError("give exactly one of `token_env` or `token_file`")
        return self


class Access(Model):
    """Who may see and do what through the API, the dashboard and links in chat messages."""

    tokens: list[ApiToken] = Field(default_factory=list, description="API tokens and their roles")
    link_key_env: str | None = Field(
        default=None, description="Env var holding the key that signs approve/reject links"
    )
    link_key_file: Path | None = Field(
        default=None, description="File holding that key (relative to the config file)"
    )
    link_ttl: Duration = Field(default=3600.0, description="How long a link in a message works")
    public_url: str | None = Field(
        default=None,
        description="Base URL people reach rollsafe at, e.g. https://rollsafe.example.com; "
        "links in messages start with it",
    )
    metrics_public: bool = Field(
        default=False, description="Serve /metrics without a token (trusted networks only)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Access:
        if self.link_key_env is not None and self.link_key_file is not None:
            raise ValueError("give at most one of `link_key_env` or `link_key_file`")
        if self.link_ttl <= 0:
            raise ValueError("link_ttl must be greater than 0")
        _no_duplicates([t.name for t in self.tokens], "token name")
        return self


# --------------------------------------------------------------------------- server, intake


class Tls(Model):
    certfile: Path = Field(description="PEM certificate (chain); relative to the config file")
    keyfile: Path = Field(description="PEM private key; relative to the config file")


class Server(Model):
    """The HTTP API inside ``rollsafe run``: webhook intake, ``/healthz``, ``/openapi.json``."""

    enabled: bool = Field(default=True, description="Start the API with `rollsafe run`")
    address: str = Field(default="127.0.0.1", description="Address to listen on")
    port: int = Field(default=8787, ge=0, le=65535, description="0 picks a free port")
    tls: Tls | None = Field(default=None, description="Serve HTTPS with this certificate")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1, description="Larger request bodies are refused (413)"
    )
    read_timeout: Duration = Field(
        default=30.0,
        gt=0,
        description="A request whose headers and body have not all arrived by then is cut off "
        "(slow clients)",
    )
    keep_alive: int = Field(default=5, ge=1, description="Seconds an idle connection stays open")
    max_connections: int = Field(
        default=1000, ge=1, description="Open connections at once; more are answered 503"
    )
    max_header_bytes: int = Field(
        default=16_384, ge=1024, description="Request line and headers, at most"
    )


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


# --------------------------------------------------------------------------- rollouts

_WAVE_PERCENT = re.compile(r"^[0-9]+(\.[0-9]+)?%$")
OnHaltName = Literal["rollback_failed", "rollback_all"]


def _wave_size(value: object) -> object:
    """A count (5) or a percentage (10%), said plainly when it is neither."""
    if isinstance(value, dict):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            f"{value!r} is not a wave size (expected a count like 5 or a share like 10%)"
        )
    if isinstance(value, int) and value < 1:
        raise ValueError(f"a wave of {value} targets is empty (expected a count of at least 1)")
    if isinstance(value, str) and not _WAVE_PERCENT.match(value):
        raise ValueError(
            f"{value!r} is not a wave size (expected a count like 5 or a share like 10%)"
        )
    return value


WaveSize = Annotated[int | str, BeforeValidator(_wave_size)]


class FailureBudget(Model):
    """How many failed targets are tolerated; a limit left out does not apply.

    Spent when the failures exceed ``max_failures``, or exceed ``max_failure_ratio`` of the
    targets it covers (a wave's targets, or every target of the rollout).
    """

    max_failures: int | None = Field(default=None, ge=0, description="Failed targets tolerated")
    max_failure_ratio: float | None = Field(
        default=None, ge=0, le=1, description="Share of the covered targets that may fail (0 to 1)"
    )


class RolloutBudgets(Model):
    per_wave: FailureBudget = Field(
        default_factory=FailureBudget, description="Each wave (a wave entry may set its own)"
    )
    overall: FailureBudget = Field(
        default_factory=lambda: FailureBudget(max_failures=0),
        description="The whole rollout (default: the first failure halts it)",
    )


class Wave(Model):
    """A wave with its own bake time or budget; ``size`` as in the short form."""

    size: WaveSize = Field(description="Targets upgraded once this wave is done: 5, or 10%")
    bake: Duration | None = Field(default=None, description="Default: the plan's `bake`")
    budget: FailureBudget | None = Field(
        default=None, description="Default: the plan's `budget.per_wave`"
    )


class RolloutPlan(Model):
    """A guarded upgrade of the targets ``targets`` selects, wave after wave.

    Wave sizes are cumulative: ``[1, 10%, 50%, 100%]`` upgrades one target, then up to 10%
    of the selected targets, then half of them, then all (a percentage rounds up; a wave
    that adds no target is left out).
    """

    name: str = Field(pattern=_ID_PATTERN, description="What `rollsafe rollout start` names")
    description: str = Field(default="", description="Free text shown with the rollout")
    targets: Selector = Field(
        default_factory=Selector, description="Which targets the rollout upgrades (default: all)"
    )
    upgrade: dict[str, Command] = Field(
        default_factory=dict,
        description="Driver name -> the upgrade command for this rollout "
        "(default: the driver's own `upgrade`)",
    )
    waves: list[Annotated[WaveSize | Wave, BeforeValidator(_wave_size)]] = Field(
        min_length=1, description="e.g. [1, 10%, 50%, 100%]"
    )
    bake: Duration = Field(default=300.0, description="How long each upgraded target is watched")
    bake_rules: list[str] = Field(
        default_factory=list,
        description="Rule ids whose critical decision fails a bake (default: every rule)",
    )
    budget: RolloutBudgets = Field(
        default_factory=RolloutBudgets,
        description="Failures tolerated per wave and overall before the rollout halts",
    )
    on_halt: OnHaltName = Field(
        default="rollback_failed",
        description="When a budget is spent: roll back only the failed targets, or every "
        "target the rollout upgraded",
    )
    max_parallel: int = Field(
        default=10, ge=1, description="Targets of a wave being prepared and upgraded at once"
    )

    @model_validator(mode="after")
    def _waves_grow(self) -> RolloutPlan:
        counts = [w for w in self.wave_sizes() if isinstance(w, int)]
        shares = [float(w.rstrip("%")) for w in self.wave_sizes() if isinstance(w, str)]
        for share in shares:
            if not 0 < share <= 100:
                raise ValueError(
                    f"a wave of {share:g}% is not a share of the fleet (0% < size <= 100%)"
                )
        for numbers, unit in ((counts, ""), (shares, "%")):
            for before, after in itertools.pairwise(numbers):
                if after <= before:
                    raise ValueError(
                        f"wave sizes are cumulative and must grow: {before:g}{unit} is "
                        f"followed by {after:g}{unit}"
                    )
        return self

    def wave_sizes(self) -> list[int | str]:
        """The size of every wave, in order (``Wave`` entries unwrapped)."""
        return [w.size if isinstance(w, Wave) else w for w in self.waves]


# --------------------------------------------------------------------------- presets


class PresetUse(Model):
    """A shipped default policy (``rollsafe.config.presets``) applied to some targets.

    Loading expands it into ordinary rules, with ids ``<id>.<rule>``, appended to ``rules``.
    """

    preset: str = Field(description="Name of a shipped preset: web-service, database-host, ...")
    id: str | None = Field(
        default=None,
        pattern=_ID_PATTERN,
        description="Prefix of the rule ids it adds (default: the preset's name)",
    )
    targets: Selector = Field(
        default_factory=Selector,
        description="Which targets the preset's rules judge (default: all)",
    )
    signals: dict[str, str] = Field(
        default_factory=dict,
        description="Signal of the preset -> name of the probe (or alert source) providing it",
    )
    params: dict[str, int | float | str] = Field(
        default_factory=dict, description="Thresholds to change, by parameter name"
    )
    exclude: list[str] = Field(default_factory=list, description="Rules of the preset to omit")


# --------------------------------------------------------------------------- policy, root


class CircuitBreaker(Model):
    """When a large share of the fleet turns critical at once, suspect a shared cause.

    The monitoring itself, a network partition or a shared dependency makes many hosts look
    failed together; rolling them all back would be the outage. Once tripped, automatic
    rollbacks stop (runs wait for a person), people are paged, and it stays open until an
    operator resets it (``rollsafe breaker reset``).
    """

    enabled: bool = Field(
        default=True, description="Trip the breaker when too much of the fleet turns critical"
    )
    max_critical_share: float = Field(
        default=0.3, gt=0, le=1, description="Share of targets critical within `window`"
    )
    min_targets: int = Field(
        default=3, ge=1, description="Critical targets needed before the share counts at all"
    )
    window: Duration = Field(default=300.0, description="How far back critical targets count")


class Policy(Model):
    dry_run: bool = Field(default=False, description="Decide and audit, never act")
    approval: ApprovalName = Field(
        default="auto",
        description="Whether a rollback waits for a person (see approvals in people.md)",
    )
    approval_timeout: Duration = Field(
        default=900.0,
        description="How long a run waits for a person: then unless_rejected proceeds, "
        "require_approval fails",
    )
    on_approval_timeout: Literal["escalate", "proceed"] = Field(
        default="escalate",
        description="What require_approval does when nobody answered in time: escalate (fail "
        "without acting, quarantine, notify) or proceed",
    )
    no_data: Literal["ok", "warning"] = Field(
        default="warning",
        description="What a blind detector (probe errors, no data) raises. Never a rollback.",
    )
    blind_after: int = Field(
        default=3, ge=1, description="Consecutive probe errors before the detector is blind"
    )
    max_concurrent_runs: int = Field(
        default=2, ge=1, description="Rollback runs executing at once, fleet-wide"
    )
    max_rollbacks_per_target: int = Field(
        default=2, ge=1, description="Rollbacks of one target allowed within `rollback_window`"
    )
    rollback_window: Duration = Field(default=86400.0, description="Window of the rate limit")
    verify_timeout: Duration = Field(
        default=60.0, description="How long probes have to turn healthy after a rollback"
    )
    step_timeout: Duration = Field(
        default=300.0, description="Longest time one rollback step may take"
    )
    observation_retention: Duration = Field(
        default=7 * 86400.0, description="How long observations are kept in the store"
    )
    watch_after_upgrade: Duration = Field(
        default=900.0,
        description="After an upgrade, the target is probed every `watch_interval` for this "
        "long (0: never)",
    )
    watch_interval: Duration = Field(
        default=2.0, gt=0, description="Probe interval of a target under watch after an upgrade"
    )
    confirm_window: Duration = Field(
        default=60.0,
        description="When a rule's condition starts to hold on a target (a first failure), the "
        "target is probed every `watch_interval` this long, to confirm or clear it fast (0: never)",
    )
    circuit_breaker: CircuitBreaker = Field(
        default_factory=CircuitBreaker,
        description="Stops automatic rollbacks when too much of the fleet fails at once",
    )


class Store(Model):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (postgresql://user@host/db for replicas); default: SQLite "
        "in the state directory",
    )
    password_env: str | None = Field(
        default=None, description="Environment variable holding the database password"
    )
    lease_ttl: Duration = Field(
        default=10.0, description="A leader that has not renewed for this long is replaced"
    )
    lease_renew: Duration = Field(default=3.0, description="How often the leader renews")


class RollsafeConfig(Model):
    version: Literal[1] = Field(default=1, description="Version of the file format; only 1 exists")
    state_dir: Path = Field(default=Path("./state"), description="Relative to the config file")
    store: Store = Field(
        default_factory=Store,
        description="Where decisions, runs and audit are kept (SQLite or PostgreSQL)",
    )
    policy: Policy = Field(
        default_factory=Policy,
        description="How and when rollbacks may happen: approval, governors, timeouts",
    )
    targets: list[Target] = Field(
        default_factory=list, description="The hosts or services watched and rolled back"
    )
    probes: list[Probe] = Field(
        default_factory=list, description="Checks that observe the targets (by `kind`)"
    )
    rules: list[Rule] = Field(
        default_factory=list, description="How observations become decisions (by `kind`)"
    )
    presets: list[PresetUse] = Field(
        default_factory=list, description="Shipped default policies; they add rules"
    )
    drivers: list[Driver] = Field(
        default_factory=list,
        description="How targets are checkpointed, upgraded and rolled back (by `kind`)",
    )
    notifiers: list[Notifier] = Field(
        default_factory=list,
        description="Where people are told about decisions and runs (by `kind`)",
    )
    server: Server = Field(
        default_factory=Server, description="The HTTP API (webhook intake, health)"
    )
    intake: list[IntakeEndpoint] = Field(
        default_factory=list, description="Webhook endpoints receiving alerts"
    )
    access: Access = Field(
        default_factory=Access, description="API tokens and roles, approval links, /metrics"
    )
    audit_shipping: list[AuditSink] = Field(
        default_factory=list, description="Log platforms the audit events are also sent to"
    )
    rollouts: list[RolloutPlan] = Field(
        default_factory=list, description="Guarded upgrades in waves (`rollsafe rollout`)"
    )
    transports: dict[str, Transport] = Field(
        default_factory=dict,
        description="Named transports: a probe's or host driver's `transport: NAME` uses the "
        "entry here, and all users of one name share its connections",
    )

    @model_validator(mode="before")
    @classmethod
    def _named_transports(cls, data: object) -> object:
        """Replace ``transport: NAME`` in probes and drivers by the named entry."""
        if not isinstance(data, dict):
            return data
        named = data.get("transports") or {}
        if not isinstance(named, dict):
            return data
        out = dict(data)
        for section in ("probes", "drivers"):
            items = out.get(section)
            if not isinstance(items, list):
                continue
            resolved = []
            for entry in items:
                ref = entry.get("transport") if isinstance(entry, dict) else None
                if isinstance(ref, str):
                    if ref not in named:
                        known = ", ".join(sorted(named)) or "none defined"
                        raise ValueError(
                            f"{section[:-1]} {entry.get('name')!r}: transport {ref!r} is not "
                            f"in `transports` (known: {known})"
                        )
                    resolved.append({**entry, "transport": named[ref]})
                else:
                    resolved.append(entry)
            out[section] = resolved
        return out

    @field_validator("targets")
    @classmethod
    def _unique_targets(cls, targets: list[Target]) -> list[Target]:
        _no_duplicates([t.id for t in targets], "target id")
        return targets

    @field_validator("probes")
    @classmethod
    def _unique_probes(cls, probes: list[Probe]) -> list[Probe]:
        _no_duplicates([p.name for p in probes], "probe name")
        return probes

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: list[Rule]) -> list[Rule]:
        _no_duplicates([r.id for r in rules], "rule id")
        return rules

    @field_validator("drivers")
    @classmethod
    def _unique_drivers(cls, drivers: list[Driver]) -> list[Driver]:
        _no_duplicates([d.name for d in drivers], "driver name")
        return drivers

    @field_validator("intake")
    @classmethod
    def _unique_intake(cls, intake: list[IntakeEndpoint]) -> list[IntakeEndpoint]:
        _no_duplicates([e.name for e in intake], "intake endpoint name")
        return intake

    @field_validator("audit_shipping")
    @classmethod
    def _unique_sinks(cls, sinks: list[AuditSink]) -> list[AuditSink]:
        _no_duplicates([s.name for s in sinks], "audit_shipping name")
        return sinks

    def target(self, target_id: str) -> Target:
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(target_id)

    @field_validator("rollouts")
    @classmethod
    def _unique_rollouts(cls, plans: list[RolloutPlan]) -> list[RolloutPlan]:
        _no_duplicates([p.name for p in plans], "rollout name")
        return plans

    def driver(self, name: str) -> Driver:
        for d in self.drivers:
            if d.name == name:
                return d
        raise KeyError(name)

    def rollout(self, name: str) -> RolloutPlan:
        for plan in self.rollouts:
            if plan.name == name:
                return plan
        raise KeyError(name)


def _no_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} {name!r}")
        seen.add(name)


def selects(selector: Selector, target: Target) -> bool:
    """True when ``target`` is one the selector picks."""
    if selector.ids is not None and target.id not in selector.ids:
        return False
    return all(target.labels.get(k) == v for k, v in selector.labels.items())


def template_vars(target: Target) -> dict[str, str]:
    """Variables available to templates for ``target``: id, address, labels, vars."""
    out: dict[str, str] = {k: str(v) for k, v in target.labels.items()}
    out.update({k: str(v) for k, v in target.vars.items()})
    out["id"] = target.id
    out["address"] = target.address
    return out


def render(template: str, target: Target) -> str:
    """``template`` with the target's variables; KeyError names an unknown variable."""
    return template.format_map(template_vars(target))


def render_dollar(template: str, target: Target) -> str:
    """``template`` with ``$name`` / ``${name}`` placeholders (for text full of braces, such
    as PromQL); KeyError names an unknown variable, ValueError a malformed placeholder."""
    return string.Template(template).substitute(template_vars(target))
