"""Rules (``rules[]``): how observations become the judge's decisions, one model per
``kind`` (thresholds, ratios, baselines, composites, alerts, cohorts, regressions).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.base import _ID_PATTERN, ApprovalName, Field_, Model, Op, SeverityName
from rollsafe.config.models.targets import Selector

# systemd's unit name characters, plus a glob's (``*?[]``); ``units`` entries are split on these.
_UNIT_GLOB = re.compile(r"[A-Za-z0-9:_.\\@*?\[\]-]+")
_UNIT_SEPARATORS = re.compile(r"[\s,]+")


def _split_names(value: object) -> object:
    """A list of names given as one text, separated by commas or spaces, as a list."""
    if isinstance(value, str):
        return [part for part in _UNIT_SEPARATORS.split(value) if part]
    return value


def _check_names(value: list[str] | None, what: str, examples: str) -> list[str] | None:
    """``value`` unchanged when every name is a name or glob; else a ValueError saying what
    was expected (pydantic reports it with the field's place in the file)."""
    for name in value or []:
        if not _UNIT_GLOB.fullmatch(name):
            raise ValueError(
                f"{name!r} is not {what} or glob (expected names like {examples}, "
                "separated by commas)"
            )
    return value


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
    notify: bool = Field(
        default=True,
        description=(
            "false: a rule that only feeds a composite; its warnings are judged, stored and "
            "audited but sent to no notifier (a critical one still rolls back)"
        ),
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
        default=1,
        ge=1,
        description=(
            "Observations in a row that must meet the condition; with `for`, as few as 2 at "
            "the probe's own pace (no gap over 1.5 times its median spacing) that span `for`"
        ),
    )
    for_: Duration | None = Field(
        default=None,
        alias="for",
        description="The condition must also hold this long (on the failing checks)",
    )
    for_over: Literal["span", "checks"] = Field(
        default="span",
        description="How a run of failing checks is measured against `for`: `span`, from its "
        "first check to its last; `checks`, the span and the time since the check before the "
        "run, at most 1.5 times the probe's pace and at most the span (6 checks every 15 s "
        "after a passing one span 75 s and stand for 90 s)",
    )
    episodes: int = Field(
        default=1,
        ge=1,
        description="Separate runs of failing checks, each meeting `consecutive` and `for`, "
        "that must fall within `within` (an outage that keeps coming back, each time too "
        "short for `for`); 1: the newest run alone",
    )
    within: Duration | None = Field(
        default=None,
        description="With `episodes` above 1: the span, back from now, in which the runs are "
        "counted (only the checks inside it)",
    )

    units: list[str] | None = Field(
        default=None,
        description="Only events about these systemd units count (for a log probe on "
        "systemd's messages; globs, `.service` implied: `nginx`, `app@*.service`); an event "
        "naming no unit counts. A list or one text of names separated by commas or spaces; "
        "absent: every event",
    )

    model_config = ConfigDict(populate_by_name=True)

    @field_validator("units", mode="before")
    @classmethod
    def _split_units(cls, value: object) -> object:
        # A preset parameter is text: "nginx.service, php-fpm.service" is a list of two.
        return _split_names(value)

    @field_validator("units")
    @classmethod
    def _unit_names(cls, value: list[str] | None) -> list[str] | None:
        return _check_names(
            value, "a systemd unit name", "nginx.service, postgresql@*.service or nginx"
        )

    @model_validator(mode="after")
    def _episodes_within(self) -> ThresholdRule:
        if self.episodes > 1 and self.within is None:
            raise ValueError("episodes above 1 needs `within` (e.g. within: 1h)")
        if self.episodes == 1 and self.within is not None:
            raise ValueError("`within` is only read with episodes above 1")
        if self.within is not None and self.within <= (self.for_ or 0.0):
            raise ValueError("within must be longer than `for`")
        if self.for_over != "span" and self.for_ is None:
            raise ValueError("`for_over` is only read with `for` (e.g. for: 90s)")
        return self


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
    processes: list[str] | None = Field(
        default=None,
        description="Only OOM kills of these processes count (for a log probe with the oom "
        "preset; globs on the killed process's name, or on its unit for systemd-oomd: "
        "`postgres`, `mysqld`, `redis*`); a kill whose victim the observation does not name "
        "counts. A list or one text of names separated by commas or spaces; absent: every kill",
    )

    same_program: bool = Field(
        default=False,
        description="Count each crashed program apart (for a log probe with the segfault "
        "preset: the task the event's line names, `python3[7777]: segfault at ...`); the rate "
        "is the busiest program's. An observation naming none is a program of its own",
    )
    steady: float | None = Field(
        default=None,
        gt=1,
        description="With `same_program`: a program counts only when its crashes in the window "
        "come at a steady pace, at least three and the longest gap between two in a row at most "
        "this many times the shortest (a supervisor restarting what crashes again; crashes at "
        "random are seldom so even)",
    )
    unit_pace_before: Duration | None = Field(
        default=None,
        description="Count a systemd unit's failures only when they come faster than "
        "`unit_pace_increase` times that unit's own pace in this span before the upgrade (for "
        "a log probe on systemd's messages: the units each event names; the span ends where "
        "the upgrade began, as a baseline's does). A unit that failed as often before the "
        "upgrade is noise the upgrade did not bring; a unit that never failed before counts "
        "from its first failure. An event naming no unit counts, and so does every event while "
        "no upgrade mark is in force. Absent: every event",
    )
    unit_pace_increase: float = Field(
        default=2.0,
        gt=1,
        description="With `unit_pace_before`: how many times its pace before the upgrade a "
        "unit must fail at now (over the rule's window) to count",
    )

    @model_validator(mode="after")
    def _program_options(self) -> RateRule:
        if self.steady is not None and not self.same_program:
            raise ValueError("`steady` needs `same_program: true`")
        if self.same_program and self.processes is not None:
            raise ValueError("give `processes` (OOM victims) or `same_program`, not both")
        if self.unit_pace_before is not None and (self.same_program or self.processes is not None):
            raise ValueError(
                "`unit_pace_before` counts systemd units; give it without `processes` or "
                "`same_program`"
            )
        if self.unit_pace_before is None and "unit_pace_increase" in self.model_fields_set:
            raise ValueError("`unit_pace_increase` is only read with `unit_pace_before`")
        return self

    @field_validator("processes", mode="before")
    @classmethod
    def _split_processes(cls, value: object) -> object:
        # A preset parameter is text: "postgres, mysqld" is a list of two.
        return _split_names(value)

    @field_validator("processes")
    @classmethod
    def _process_names(cls, value: list[str] | None) -> list[str] | None:
        return _check_names(value, "a process name", "postgres, mysqld or redis*")


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
        default=3600.0,
        description="Span before the upgrade used as the reference: it ends at the upgrade's "
        "start mark (`upgrade_started`, at most 1 hour before its `upgrade` mark) when there is "
        "one, else at the `upgrade` mark",
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


class CeilingRule(RuleBase):
    """Far above the reference's worst, for a sustained while, at any time after the upgrade.

    A regression that shows only at the day's peak, hours after a night upgrade, is past
    the regression rules' watch and at loads their reference never saw
    (``rollsafe.judge.ceiling``). The reference's worst is the highest median over a
    ``bucket`` of the ``before`` period; the rule breaches when every ``bucket`` of the last
    ``for`` (from ``grace`` after the latest upgrade on, with no end) has a median over
    ``max_increase`` times it and ``min_delta`` above it. With a day of history (the same
    hours the day before, within ``day_span`` either side) the bar is also ``max_increase``
    times the highest 15-minute mean there: the day before can only raise the bar.
    """

    kind: Literal["ceiling"]
    probe: str = Field(description="The probe whose observations are judged (its name)")
    field: Field_ = Field(default="value", description="The field read (value or latency)")
    max_increase: float = Field(
        default=3.0, gt=1, description="Factor over the reference's worst bucket median"
    )
    min_delta: float = Field(
        default=0.0, ge=0, description="Absolute excess over the reference's worst also required"
    )
    for_: Duration = Field(
        default=900.0,
        alias="for",
        description="Every bucket of this last span must be over the bar",
    )
    bucket: Duration = Field(
        default=300.0, description="Span of one median (before and after the upgrade)"
    )
    before: Duration = Field(
        default=3600.0, description="Span before the upgrade mark whose worst bucket is the bar"
    )
    grace: Duration = Field(default=600.0, description="Warm-up after the upgrade mark, not judged")
    day_span: Duration = Field(
        default=3600.0,
        description="Either side of the same time the day before read for the day's bar "
        "(when the window's profile holds that day)",
    )
    min_samples: int = Field(
        default=3, ge=1, description="Values a bucket needs to count (before and after)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> CeilingRule:
        if self.bucket <= 0 or self.for_ < self.bucket:
            raise ValueError("bucket must be longer than 0s and `for` at least one bucket")
        if self.before < self.bucket:
            raise ValueError("before must be at least one bucket")
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


class RegressionTier(Model):
    """A regression rule's slow tier: the same test at a smaller margin, on its own share of
    alpha (``rollsafe.judge.sequential``, "Tiers").

    The rule's own margin (``min_ratio``, ``min_delta``) is the *fast* tier: a change that
    size is flagged in a few buckets. This tier asks the same question at a smaller margin
    that a user still calls worth a rollback (x1.4 instead of x2, +0.5 points of errors
    instead of +1), so a small but real effect is flagged *given more evidence*: its bar is
    ``1 / (alpha * share)`` (3/4 of it from the upgrade, 1/4 for its late starts), and a
    small effect needs many buckets to reach it. The fast tier runs at ``alpha * (1 -
    share)``, its test from the upgrade at 3/4 of alpha as without tiers: the two together
    flag a healthy upgrade with probability at most ``alpha`` (a union bound). The margin
    must not be zero: it is the practical significance floor, what healthy shifts (traffic,
    warm-ups, daily cycles) stay below.
    """

    min_ratio: float = Field(
        ge=1, description="Relative margin of the slow tier: worse by this factor"
    )
    min_delta: float = Field(
        default=0.0, ge=0, description="Absolute margin of the slow tier, in field units"
    )
    share: float = Field(
        default=0.125,
        gt=0,
        lt=1,
        description="The slow tier's share of the rule's alpha (the fast tier keeps the rest: "
        "its test from the upgrade keeps 3/4 of alpha, its late starts get what is left)",
    )
    confirm: str | None = Field(
        default=None,
        description="A rule (its id) that must fire too (warning or worse, or have no data) "
        "for this tier alone to take the rule's severity; otherwise its crossing only warns "
        "(the fast tier always decides alone). For a proxy whose small changes can be its "
        "own: a health check's latency confirmed by the requests' (rollsafe.judge.confirming)",
    )


class RequestVolume(Model):
    """How many requests a regression rule's ratio rests on (``volume`` of a regression rule;
    ``rollsafe.judge.sequential``, "Request volume").

    An error ratio over a handful of requests is weak evidence: at 0.2 requests/s one failed
    request in a 30 s bucket is a 17% ratio. With ``volume``, a bucket (before the upgrade or
    after it) whose requests, the probe's latest rate known when the bucket ends times the
    bucket's length, are fewer than ``min_requests`` carries no evidence, as a bucket without
    observations; a bucket without a known rate (the probe has no data) is judged as before.
    With ``max_increase`` (load matching, regression rules only), a bucket after the upgrade
    resting on more than that many times the reference's busiest bucket is no evidence
    either: a healthy latency rises with load, and nothing in the reference is comparable.
    """

    probe: str = Field(description="The probe giving the target's requests per second")
    min_requests: float = Field(
        default=100.0,
        ge=0,
        description="Requests a bucket must rest on to be evidence (rate times bucket length; "
        "0: however few)",
    )
    max_increase: float | None = Field(
        default=None,
        ge=1,
        description="Load matching (a regression rule): a bucket after the upgrade resting on "
        "more than this many times the requests of the reference's busiest bucket is no "
        "evidence (a load test: latency rises with load); none: no ceiling",
    )


class RegressionRule(RuleBase):
    """After an upgrade: is the signal worse than before it (or than the baseline cohort)?

    An anytime-valid sequential test (``rollsafe.judge.sequential``): the chance that a
    healthy upgrade is ever flagged during its ``watch`` is at most ``alpha``, however often
    the judge looks. "Worse" means worse by more than the margin: a value ``y`` before
    becomes ``max(y * min_ratio, y + min_delta)``. Observations are summarised one value per
    ``bucket`` (at least the probe's interval), so fast, correlated probes do not count as
    independent evidence. Warm-up is not judged: the first ``grace`` after the upgrade, then
    (against self) as long as the buckets since the upgrade are still clearly falling, at
    most until ``settle_max``; the test then starts afresh (a JIT, caches, a pool filling).
    A signal already worse than the margin during ``grace`` (a cold start: the restart's
    warm-up began at the upgrade) is not judged before ``cold_grace`` (aggregate quantile).

    * ``aggregate: quantile`` (latency, memory %): bucket medians of ``field`` against the
      ``quantiles`` of the reference period (how often they exceed them), and with ``top``
      against its highest bucket (a shift far above it is flagged 2 buckets after ``grace``);
    * ``aggregate: ratio``: the share of observations meeting ``when`` (e.g. status >= 500);
    * ``aggregate: rate``: the sum of ``field`` per second (error lines or events counted).

    ``against: self`` compares with the target's own ``before`` period ending where its latest
    upgrade began (its ``upgrade_started`` mark, else its ``upgrade`` mark); ``against:
    cohort`` compares a canary, bucket by bucket, with the rollout's baseline cohort at the
    same time (the rule does not apply outside a rollout); ``against: peers`` compares the
    target, bucket by bucket, with its peers not upgraded (``policy.fleet_veto``'s
    ``match_labels`` and ``not_upgraded_for``) at the same moments, how often it is above
    them against how often it was in its ``before`` period (``rollsafe.judge.peers``; with
    fewer than ``min_peers`` peers it abstains).
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
    against: Literal["self", "cohort", "peers"] = Field(
        default="self",
        description="The target's own pre-upgrade period, the rollout's baseline cohort, or "
        "its peers not upgraded at the same moments (outside any rollout)",
    )
    before: Duration = Field(
        default=3600.0,
        description="Reference period before the upgrade (against self): it ends at the "
        "upgrade's start mark (`upgrade_started`, at most 1 hour before its `upgrade` mark) when "
        "there is one, else at the `upgrade` mark",
    )
    grace: Duration = Field(default=120.0, description="Warm-up after the upgrade, not judged")
    settle_max: Duration = Field(
        default=900.0,
        description="Against self: after `grace`, the test waits while the signal is still "
        "clearly falling (warm-up), at most until this long after the upgrade; at most "
        "`grace` turns the wait off",
    )
    cold_grace: Duration = Field(
        default=300.0,
        description="Against self, aggregate quantile: when the signal is already worse than "
        "the margin during `grace` (a cold start), the test waits at least this long after "
        "the upgrade (at most until the watch's last bucket); at most `grace` turns it off",
    )
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
        default=10,
        ge=2,
        description="Reference buckets needed (against self; against peers: buckets before "
        "the upgrade with `min_peers`), peers (cohort)",
    )
    min_peers: int = Field(
        default=2,
        ge=1,
        description="Against peers: peers with a value a bucket needs to be evidence (their "
        "upper median is compared: with 2, the larger of the two)",
    )
    top: bool = Field(
        default=True,
        description="Also test the reference's highest bucket (aggregate quantile, against "
        "self): a shift far above anything seen before is flagged in 2 buckets, not 3 to 5",
    )
    sustained: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Also test this quantile of the reference against one alternative only, "
        "'nearly every bucket exceeds it' (aggregate quantile, against self): a step that "
        "stays is flagged a bucket sooner, bursts that come and go gain nothing; none: no "
        "such component",
    )
    # Set by the judge on the rules it makes for a rule's tiers (``sequential.tiers``): the
    # share of this rule's alpha its late starts get (None: the judge's default). Not
    # configuration: a tier's alpha is split so that the tiers add up to the rule's alpha.
    _late_share: float | None = PrivateAttr(default=None)
    # Likewise the share of this rule's alpha its early start gets (None: the judge's
    # default; 0: none): a fast tier keeps the early start of the rule it is made from.
    _early_share: float | None = PrivateAttr(default=None)
    slow: RegressionTier | None = Field(
        default=None,
        description="A second, slower test at a smaller margin on its own share of alpha: "
        "small but real regressions are flagged given more evidence (e.g. {min_ratio: 1.4, "
        "min_delta: 0.02}); none: one test at the rule's margin with all of alpha",
    )

    volume: RequestVolume | None = Field(
        default=None,
        description="Against self: the probe of the target's requests per second; a bucket "
        "resting on fewer than `min_requests` requests is no evidence (an error ratio of a "
        "drained host), and with `max_increase` one after the upgrade resting on more than "
        "that many times the reference's busiest (a load test); against peers, a peer's "
        "or the target's bucket resting on fewer is left out (`max_increase` unread: peers "
        "share the load); none: every bucket counts",
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
        if self.volume is not None and self.against == "cohort":
            raise ValueError("volume is read against self or peers, not against a cohort")
        if self.against == "peers" and (self.slow is not None or self.sustained is not None):
            raise ValueError("against peers reads neither `slow` nor `sustained`")
        if self.grace + self.bucket > self.watch:
            raise ValueError("watch must be longer than grace plus one bucket")
        if self.against != "cohort" and self.before < 2 * self.bucket:
            raise ValueError("before must hold at least two buckets")
        if any(not 0.5 <= q < 1 for q in self.quantiles):
            raise ValueError("quantiles must be at least 0.5 and below 1, e.g. [0.5, 0.9, 0.99]")
        if len(set(self.quantiles)) != len(self.quantiles):
            raise ValueError("quantiles must not repeat")
        slow = self.slow
        if slow is not None:
            if slow.min_ratio <= 1 and slow.min_delta <= 0:
                raise ValueError(
                    "slow: a margin of zero (min_ratio 1, min_delta 0) flags any shift at all, "
                    "healthy ones too; set the smallest change worth a rollback, e.g. "
                    "min_ratio: 1.4"
                )
            if slow.min_ratio > self.min_ratio or slow.min_delta > self.min_delta:
                raise ValueError(
                    f"slow: its margin (x{slow.min_ratio:g}, +{slow.min_delta:g}) must not be "
                    f"larger than the rule's own (x{self.min_ratio:g}, +{self.min_delta:g})"
                )
            if slow.min_ratio == self.min_ratio and slow.min_delta == self.min_delta:
                raise ValueError(
                    "slow: its margin equals the rule's own; make it smaller, or drop `slow`"
                )
        return self


class BurstRule(RuleBase):
    """After an upgrade: does the signal now go bad in bursts more often than before it?

    For errors that come in bursts, not as a level shift (a connection pool exhausted at each
    traffic peak, a lock leak, GC pauses, a retry storm): the median and the p90 hardly move,
    so a ``regression`` rule cannot see them. An anytime-valid test (``rollsafe.judge.bursts``):
    per ``bucket``, its median of ``field`` is *bad* when worse than ``max(y * min_ratio, y +
    min_delta)``, ``y`` the ``quantile`` of the target's own buckets in ``before``; a
    ``block`` is bad when one of its buckets is. The rule fires when the share of bad blocks
    after the upgrade is worse than the share before plus ``rate_delta`` with e-value at least
    ``1 / alpha``, and the bad buckets came in at least ``min_bursts`` separate bursts (one
    dependency blip, however long, is one burst).
    """

    kind: Literal["bursts"]
    probe: str = Field(description="The probe whose observations are judged (its name)")
    field: Field_ = Field(default="value", description="The field read (value or latency)")
    before: Duration = Field(
        default=3600.0,
        description="Reference period before the upgrade: it ends at the upgrade's start mark "
        "(`upgrade_started`) when there is one, else at the `upgrade` mark",
    )
    grace: Duration = Field(
        default=120.0, description="Warm-up after the upgrade, not judged (a restart's errors)"
    )
    watch: Duration = Field(
        default=7200.0, description="How long after the upgrade the test runs (alpha covers it)"
    )
    bucket: Duration = Field(default=30.0, description="One median per bucket")
    block: Duration = Field(
        default=300.0,
        description="The test's unit: a block of buckets is bad when one of its buckets is; "
        "longer than a healthy blip, so that blocks are nearly independent",
    )
    quantile: float = Field(
        default=0.95,
        ge=0.5,
        le=1.0,
        description="The reference buckets' quantile a bad bucket is measured from (1: their "
        "highest)",
    )
    min_ratio: float = Field(
        default=3.0, ge=1, description="A bad bucket is worse than the quantile times this"
    )
    min_delta: float = Field(
        default=0.01,
        ge=0,
        description="... and than the quantile plus this, in field units (the absolute floor)",
    )
    rate_delta: float = Field(
        default=0.01,
        ge=0,
        lt=1,
        description="The share of bad blocks after the upgrade must be worse than the share "
        "before plus this (0.01: one block in a hundred more)",
    )
    min_bursts: int = Field(
        default=3,
        ge=1,
        description="Separate bursts (runs of bad buckets) needed after the upgrade",
    )
    min_baseline: int = Field(default=10, ge=2, description="Reference buckets with data needed")
    alpha: float = Field(
        default=0.001, gt=0, lt=0.5, description="Bound on a false alarm over one watch"
    )
    volume: RequestVolume | None = Field(
        default=None,
        description="The probe of the target's requests per second; a bucket resting on fewer "
        "than `min_requests` requests is neither bad nor clean (a drained host's error ratio); "
        "none: every bucket counts",
    )

    @model_validator(mode="after")
    def _consistent(self) -> BurstRule:
        if self.bucket <= 0:
            raise ValueError("bucket must be longer than 0s")
        if self.grace + self.bucket > self.watch:
            raise ValueError("watch must be longer than grace plus one bucket")
        if self.before < 2 * self.bucket:
            raise ValueError("before must hold at least two buckets")
        if self.volume is not None and self.volume.max_increase is not None:
            raise ValueError("volume's max_increase is read by regression rules only")
        if self.block < self.bucket or self.before < 2 * self.block:
            raise ValueError("block must hold at least one bucket, and before two blocks")
        if self.min_ratio <= 1 and self.min_delta <= 0:
            raise ValueError(
                "a bad bucket must be worse than the reference by some margin (min_ratio above "
                "1 or min_delta above 0): healthy noise goes above its own quantile"
            )
        return self


class TrendRule(RuleBase):
    """After an upgrade: is the signal growing towards ``capacity`` fast enough to reach it?

    In the spirit of Prometheus' ``predict_linear``, for leaks (``rollsafe.judge.trend``):
    the rate is a least-squares slope over the values since the first ``upgrade`` mark of
    the watch plus ``grace`` (a later mark within ``grace`` plus the longest span of the
    first joins its watch: ``trend.watch_start``), ``min_window`` of them at least,
    ``window`` at most; the smaller of the span's slope and its later half's is taken
    (growth that slowed counts at its recent pace, a step that stopped does not count). It
    must exceed ``min_rate`` per hour and the fit's own noise, above the slope of the
    ``before`` period when that one was clearly rising already. Growth clearly slowing
    down is projected as an approach to a plateau. The rule fires when, at that pace, the
    signal reaches ``capacity`` within ``within``.
    """

    kind: Literal["trend"]
    probe: str = Field(description="The probe whose observations are judged (its name)")
    field: Field_ = Field(default="value", description="The field read (value or latency)")
    capacity: float = Field(
        default=100.0,
        description="The level at which the resource is exhausted, in field units "
        "(100 for memory in percent)",
    )
    within: Duration = Field(
        default=14400.0,
        description="Fires when the signal is projected to reach `capacity` within this",
    )
    window: Duration = Field(
        default=7200.0,
        description="Longest span of the slope fit: the values since the upgrade's grace, at "
        "most this far back",
    )
    min_window: Duration = Field(
        default=5400.0,
        description="Shortest span fitted: the growth must have held at least this long after "
        "the upgrade's grace before it can fire",
    )
    grace: Duration = Field(
        default=600.0, description="Warm-up after the upgrade, left out of the fit"
    )
    before: Duration = Field(
        default=7200.0,
        description="Span before the upgrade mark whose slope is the trend already there",
    )
    min_rate: float = Field(
        default=3.0,
        gt=0,
        description="Growth per hour, in field units, that counts as a trend (above a clear "
        "pre-upgrade trend)",
    )
    min_samples: int = Field(
        default=10,
        ge=3,
        description="Values needed in each half of the window, and before the upgrade for "
        "its slope to count",
    )
    unit: str = Field(
        default="",
        max_length=16,
        description="Unit written after numbers in the decision's sentence, e.g. `%`",
    )
    steady: bool = Field(
        default=False,
        description="A slow leak's rule: fit everything since the upgrade's grace, judge only "
        "until `window` after it, and require growth that is steady (the means of the span's "
        "thirds rise in turn, not less and less) and `min_rate` above the slope before",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrendRule:
        if self.min_window <= 0:
            raise ValueError("min_window must be longer than 0s")
        if self.min_window > self.window:
            raise ValueError("min_window must not be longer than window")
        if self.within <= 0:
            raise ValueError("within must be longer than 0s")
        return self


Rule = Annotated[
    ThresholdRule
    | RatioRule
    | RateRule
    | BaselineRule
    | AlertRule
    | CohortRule
    | RegressionRule
    | BurstRule
    | TrendRule
    | CeilingRule
    | AllRule
    | AnyRule
    | AtLeastRule,
    Field(discriminator="kind"),
]
COMPOSITE_KINDS = frozenset({"all", "any", "at_least"})
