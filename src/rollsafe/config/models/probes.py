"""Probes (``probes[]``): the checks that observe targets and feed the detect stage, one
model per ``kind`` and the ``Probe`` discriminated union.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.base import _ID_PATTERN, Command, Model
from rollsafe.config.models.drivers import Transport
from rollsafe.config.models.targets import Selector


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


LogPreset = Literal[
    "oom",
    "kernel_panic",
    "kernel_bug",
    "nic_hang",
    "lockup",
    "segfault",
    "db_crash",
    "systemd_failure",
    "app_error",
    "shutdown",
    "boot",
    "reboot_expected",
    "unit_stop",
    "unit_start",
]


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
        min_length=1,
        description="Name -> value template, e.g. InstanceId: {instance_id} (at least one)",
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
