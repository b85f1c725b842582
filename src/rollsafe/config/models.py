"""The shape of ``rollsafe.yaml``: pydantic models with discriminated unions on ``kind``.

These models are the edge: YAML becomes these, and the core reads them. Loading with
``FILE:LINE: field: reason`` errors lives in ``rollsafe.config.loading``.

Command and URL fields are templates: ``{id}``, ``{address}``, and every label and ``vars``
entry of the target are substituted, e.g. ``http://{address}:{port}/health``.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    labels: dict[str, str] = Field(default_factory=dict)
    driver: str | None = Field(default=None, description="Name of an entry in `drivers`")
    vars: dict[str, str | int | float] = Field(
        default_factory=dict, description="Extra template variables for this target"
    )


class Selector(Model):
    """Which targets an entry applies to: all of ``ids`` (if given) and all ``labels``."""

    ids: list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)


# --------------------------------------------------------------------------- probes


class ProbeBase(Model):
    name: str = Field(pattern=_ID_PATTERN, description="Name rules refer to")
    targets: Selector = Field(default_factory=Selector)
    interval: Duration = 15.0
    timeout: Duration = 5.0
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
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[int] = Field(default_factory=lambda: [200])
    body_match: str | None = Field(default=None, description="Regex the body must match")
    headers: dict[str, str] = Field(default_factory=dict)


class TcpProbe(ProbeBase):
    kind: Literal["tcp"]
    host: str = "{address}"
    port: int | str = Field(description="Port number or template such as {ssh_port}")


class HostProbe(ProbeBase):
    kind: Literal["host"]
    metric: Literal["cpu", "memory", "disk_io"]


LogPreset = Literal["oom", "kernel_panic", "segfault", "app_error"]


class LogProbe(ProbeBase):
    kind: Literal["log"]
    path: str = Field(description="File to follow, across rotation and truncation")
    patterns: list[str] = Field(default_factory=list, description="Regexes counted per run")
    presets: list[LogPreset] = Field(default_factory=list)
    from_start: bool = Field(
        default=False,
        description="Count lines already in the file at start (default: only new lines)",
    )

    @model_validator(mode="after")
    def _something_to_match(self) -> LogProbe:
        if not self.patterns and not self.presets:
            raise ValueError("give at least one of `patterns` or `presets`")
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
    command: Command
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


Probe = Annotated[
    HttpProbe
    | TcpProbe
    | HostProbe
    | LogProbe
    | DataProbe
    | CommandProbe
    | PromqlProbe
    | CloudwatchProbe,
    Field(discriminator="kind"),
]

# --------------------------------------------------------------------------- rules


class RuleBase(Model):
    id: str = Field(pattern=_ID_PATTERN)
    severity: SeverityName = "warning"
    description: str = ""
    targets: Selector = Field(default_factory=Selector)
    approval: ApprovalName | None = Field(
        default=None, description="Overrides policy.approval for runs this rule opens"
    )


class Condition(Model):
    field: Field_ = "value"
    op: Op
    value: float


class ThresholdRule(RuleBase):
    """Latest value of a probe compared with a threshold, N times in a row or for a while."""

    kind: Literal["threshold"]
    probe: str
    field: Field_ = "value"
    op: Op
    value: float
    consecutive: int = Field(default=1, ge=1)
    for_: Duration | None = Field(default=None, alias="for")

    model_config = ConfigDict(populate_by_name=True)


class RatioRule(RuleBase):
    """Share of a window's observations meeting ``when`` above ``above`` (e.g. 5xx ratio)."""

    kind: Literal["ratio"]
    probe: str
    when: Condition
    window: Duration = 300.0
    above: float = Field(ge=0, le=1)
    min_samples: int = Field(default=3, ge=1)


class RateRule(RuleBase):
    """Sum of ``value`` over a window, per ``per`` seconds (e.g. ERROR lines per minute)."""

    kind: Literal["rate"]
    probe: str
    window: Duration = 300.0
    per: Duration = 60.0
    above: float = Field(ge=0)
    min_samples: int = Field(default=1, ge=1)


class BaselineRule(RuleBase):
    """Now vs before the upgrade: window mean (or rate) against the reference period."""

    kind: Literal["baseline"]
    probe: str
    field: Field_ = "value"
    aggregate: Literal["mean", "rate", "ratio"] = "mean"
    when: Condition | None = Field(default=None, description="For aggregate=ratio")
    window: Duration = 300.0
    before: Duration = 3600.0
    max_increase: float = Field(default=2.0, gt=0, description="Factor over the baseline")
    min_delta: float = Field(default=0.0, ge=0, description="Absolute change also required")
    min_samples: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _ratio_needs_when(self) -> BaselineRule:
        if self.aggregate == "ratio" and self.when is None:
            raise ValueError("aggregate `ratio` needs `when`")
        return self


class AllRule(RuleBase):
    """Every listed rule is at warning or worse: cross-validation of independent signals."""

    kind: Literal["all"]
    rules: list[str] = Field(min_length=1)


class AnyRule(RuleBase):
    kind: Literal["any"]
    rules: list[str] = Field(min_length=1)


class AtLeastRule(RuleBase):
    kind: Literal["at_least"]
    count: int = Field(ge=1)
    rules: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _count_fits(self) -> AtLeastRule:
        if self.count > len(self.rules):
            raise ValueError(f"count {self.count} is more than the {len(self.rules)} rules listed")
        return self


Rule = Annotated[
    ThresholdRule | RatioRule | RateRule | BaselineRule | AllRule | AnyRule | AtLeastRule,
    Field(discriminator="kind"),
]
COMPOSITE_KINDS = frozenset({"all", "any", "at_least"})

# --------------------------------------------------------------------------- drivers


class LocalDriver(Model):
    """Hosts managed by commands on this machine (the base for SSH hosts later)."""

    kind: Literal["local"]
    name: str = Field(pattern=_ID_PATTERN)
    directory: str | None = Field(
        default=None, description="Directory captured as the built-in restore point"
    )
    upgrade: Command | None = None
    checkpoint: Command | None = Field(default=None, description="Extra command at checkpoint")
    rollback: Command | None = Field(default=None, description="Extra command at rollback")
    restart: Command | None = Field(default=None, description="Restarts the service after")
    env: dict[str, str] = Field(default_factory=dict)
    step_timeout: Duration = 300.0

    @model_validator(mode="after")
    def _can_roll_back(self) -> LocalDriver:
        if self.directory is None and self.rollback is None:
            raise ValueError("give `directory` or `rollback` (or both): nothing to roll back")
        return self


Driver = Annotated[LocalDriver, Field(discriminator="kind")]

# --------------------------------------------------------------------------- notifiers


class WebhookNotifier(Model):
    kind: Literal["webhook"]
    name: str = Field(pattern=_ID_PATTERN)
    url: str
    secret_env: str | None = Field(default=None, description="Env var holding the HMAC key")
    min_severity: SeverityName = "warning"


class LogNotifier(Model):
    """Writes notifications to the daemon's log; useful locally and in tests."""

    kind: Literal["log"]
    name: str = Field(pattern=_ID_PATTERN)
    min_severity: SeverityName = "warning"


Notifier = Annotated[WebhookNotifier | LogNotifier, Field(discriminator="kind")]

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
    host: str
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Default: 514 (udp, tcp) or 6514 (tls)"
    )
    transport: Literal["udp", "tcp", "tls"] = "tcp"
    app_name: str = Field(default="rollsafe", pattern=r"^[!-~]{1,48}$")
    facility: SyslogFacility = "local0"
    hostname: str | None = Field(
        default=None, pattern=r"^[!-~]{1,255}$", description="Default: this machine's name"
    )
    max_message_bytes: int = Field(
        default=8192,
        ge=480,
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
    ca_file: str | None = None
    verify: bool = True

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
    ca_file: str | None = None
    verify: bool = True

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
    project: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    logstore: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")
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
    compress: Literal["deflate", "none"] = "deflate"

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


# --------------------------------------------------------------------------- policy, root


class Policy(Model):
    dry_run: bool = Field(default=False, description="Decide and audit, never act")
    approval: ApprovalName = "auto"
    approval_timeout: Duration = Field(
        default=900.0,
        description="How long a run waits for a person: then unless_rejected proceeds, "
        "require_approval fails",
    )
    no_data: Literal["ok", "warning"] = Field(
        default="warning",
        description="What a blind detector (probe errors, no data) raises. Never a rollback.",
    )
    blind_after: int = Field(
        default=3, ge=1, description="Consecutive probe errors before the detector is blind"
    )
    max_concurrent_runs: int = Field(default=2, ge=1)
    max_rollbacks_per_target: int = Field(default=2, ge=1)
    rollback_window: Duration = Field(default=86400.0, description="Window of the rate limit")
    verify_timeout: Duration = 60.0
    step_timeout: Duration = 300.0
    observation_retention: Duration = 7 * 86400.0


class Store(Model):
    url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in the state directory"
    )


class RollsafeConfig(Model):
    version: Literal[1] = 1
    state_dir: Path = Field(default=Path("./state"), description="Relative to the config file")
    store: Store = Field(default_factory=Store)
    policy: Policy = Field(default_factory=Policy)
    targets: list[Target] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    drivers: list[Driver] = Field(default_factory=list)
    notifiers: list[Notifier] = Field(default_factory=list)
    audit_shipping: list[AuditSink] = Field(
        default_factory=list, description="Log platforms the audit events are also sent to"
    )

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

    def driver(self, name: str) -> Driver:
        for d in self.drivers:
            if d.name == name:
                return d
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
