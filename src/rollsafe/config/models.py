"""The shape of ``rollsafe.yaml``: pydantic models with discriminated unions on ``kind``.

These models are the edge: YAML becomes these, and the core reads them. Loading with
``FILE:LINE: field: reason`` errors lives in ``rollsafe.config.loading``.

Command and URL fields are templates: ``{id}``, ``{address}``, and every label and ``vars``
entry of the target are substituted, e.g. ``http://{address}:{port}/health``.
"""

from __future__ import annotations

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


Probe = Annotated[
    HttpProbe | TcpProbe | HostProbe | LogProbe | DataProbe | CommandProbe,
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
