"""Policy (``policy``): how and when rollbacks may happen: approval, governors, the
circuit breaker and timeouts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.base import ApprovalName, Model


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


class Retention(Model):
    """How many restore points each target keeps; older ones are deleted on their back end.

    Never deleted, whatever ``keep_last`` says: a target's newest point, a point an open
    rollback run uses, and a point a rollout still holds (open, or its target pinned).
    """

    keep_last: int = Field(
        default=5, ge=1, description="Restore points kept per target (the newest ones)"
    )
    prune_after_checkpoint: bool = Field(
        default=False,
        description="Prune the target's older points after each new checkpoint is stored "
        "(otherwise only `rollsafe restore-points prune` deletes)",
    )


class FleetVeto(Model):
    """Hold a rollback as a warning when peers that were not upgraded fail the same way.

    A shared dependency or the network failing for the whole fleet makes the upgraded host
    look failed; so do its peers, untouched. For each rule in ``rules``, a critical decision
    on a target is held as a warning when the same rule breaches at the same time on a peer:
    another target the rule applies to, sharing the ``match_labels`` values, with no upgrade
    mark in the last ``not_upgraded_for``. The peer is judged against the target's own period
    before its upgrade, at the same ``now``. While a peer is not known yet either way (not
    observed since the rule turned critical on the target nor as recently as the target, or
    the rule's condition starting to hold on it), the rollback waits, at most ``wait``; once
    every peer is seen and none fails, it goes at once, and with no peer it never waits. A
    fault on the upgraded host alone is never held. For a regression rule a peer also fails
    when the test that flagged the target, asked of the peer, reaches 1/(0.01/peers) around
    where it crossed. A target with no upgrade mark in ``not_upgraded_for`` has nothing of
    its own to undo: it is held while a peer that was upgraded fails the same rule at the
    same time. On by default (``rules: auto``); ``rules: []`` turns it off.
    """

    rules: list[str] | Literal["auto"] = Field(
        default="auto",
        description="Ids of the rules whose rollback a failing peer holds; `auto` (the "
        "default): every critical rule it can hold; []: off. Never a rule one failing check, "
        "one alert or its first counted event decides (a kernel panic, an OOM kill under "
        "`above: 0`, is the upgraded host's), nor one that compares with peers itself",
    )
    match_labels: list[str] = Field(
        default_factory=list,
        description="Label keys whose values a peer shares with the target (e.g. [role])",
    )
    not_upgraded_for: Duration = Field(
        default=86400.0,
        gt=0,
        description="A peer counts when it has no upgrade mark (started or ended) this long "
        "before now",
    )
    wait: Duration = Field(
        default=180.0,
        ge=0,
        description="Longest a listed rule's rollback waits for peers not known yet either "
        "way (not observed since it turned critical nor as recently as the target, or the "
        "same condition starting to hold on them): their checks arrive later, their signals "
        "cross a little later; 0: no wait",
    )
    reach: Duration = Field(
        default=7200.0,
        gt=0,
        description="How long after the target's upgrade the veto applies: the listed rules' "
        "windows keep this much more history so a peer still holds the target's period "
        "before its upgrade; later, a rollback is held only while every peer's window still "
        "holds that period (kept for a rule of its own, e.g. a comparison with the peers)",
    )

    @model_validator(mode="after")
    def _wait_within_reach(self) -> FleetVeto:
        if self.wait > self.reach:
            raise ValueError("fleet_veto.wait must not exceed fleet_veto.reach")
        return self


class PlannedReboots(Model):
    """Wait through an orderly reboot instead of rolling it back as an outage.

    A host that reboots for its upgrade goes down before anything marks the upgrade, and a
    tool that marks only the end of its run (or marks one host of several) leaves the reboot
    looking like an outage. What a host logs before a reboot it was *asked* for (logind's
    "System is rebooting.", PID 1 stopping the multi-user target, systemd-shutdown, the
    kernel's "reboot: Restarting system") a crash, a hang or a power loss never logs. From
    the observation in which ``shutdowns`` counts such an event (less that probe's interval:
    its lines came within it) until ``boots`` counts a finished boot, at most ``grace``,
    lasting rules (``consecutive`` above 1, ``for``, ``episodes``) do not count failing checks,
    as between ``upgrade_started`` and ``upgrade`` marks. A host not back within ``grace``, or
    back and failing, is judged as usual; rules on single events (a panic, an OOM kill) are
    never held. ``expected`` holds after a package run that announced a reboot (a kernel
    installed, unattended-upgrades' automatic reboot: the package manager's own logs, written
    minutes before the reboot), shutdown logged or not, but only while the host itself does
    not answer (``host``): a service that crashed leaves its host answering. Off while
    ``shutdowns`` and ``expected`` are unset (the default).
    """

    shutdowns: str | None = Field(
        default=None,
        description="Name of the probe counting orderly shutdowns of its targets (a log probe "
        "with `presets: [shutdown]` and nothing else); unset: off",
    )
    boots: str | None = Field(
        default=None,
        description="Name of the probe counting finished boots (a log probe with "
        "`presets: [boot]`): the hold ends at the first one after a shutdown; unset: at "
        "`grace`",
    )
    grace: Duration = Field(
        default=600.0,
        gt=0,
        le=3600.0,
        description="Longest a reboot may hold lasting rules; a host not back by then is down",
    )
    expected: str | None = Field(
        default=None,
        description="Name of the probe counting package runs that announce a reboot (a log "
        "probe on the package manager's logs with `presets: [reboot_expected]` and nothing "
        "else): after one, the first time the host itself is gone (`host` reads 0) holds "
        "lasting rules until it answers, within `grace` and before the next boot; unset: off",
    )
    host: str | None = Field(
        default=None,
        description="Name of a probe of the host itself whose value is 0 while the host does "
        "not answer (a `tcp` probe of its ssh port, a `promql` probe of its node exporter's "
        "`up`); required by `expected`",
    )

    @model_validator(mode="after")
    def _expected_needs_the_host(self) -> PlannedReboots:
        if self.expected is not None and self.host is None:
            raise ValueError(
                "planned_reboots.expected needs `host`: without the host's own probe a kernel "
                "install would hold every outage of the service after it, its crash included"
            )
        return self


class PlannedRestarts(Model):
    """Wait through a deliberate restart of the service's own unit instead of rolling back its
    downtime as an outage.

    An upgrade (or the person running it) restarts the service: PID 1 logs "Stopping X..."
    when the stop job begins, then "Started X." when the new process is ready, and a database
    refuses connections in between while it replays its journal. A crash never logs
    "Stopping": systemd logs the death ("Main process exited, code=killed", "Failed with
    result ..."), and a restart by ``Restart=`` after it goes straight to "Stopped" and
    "Starting". From the observation in which ``stops`` counts a stop of a unit listed in
    ``units`` (less that probe's interval: its lines came within it) until ``starts`` counts a
    start of one, or ``failures`` a failure of one, at most ``grace``, lasting rules
    (``consecutive`` above 1, ``for``, ``episodes``) do not count failing checks, as between
    ``upgrade_started`` and ``upgrade`` marks. A restart not finished within ``grace`` is
    judged as usual; rules on single events are never held. Off while ``stops`` is unset (the
    default).
    """

    stops: str | None = Field(
        default=None,
        description="Name of the probe counting units systemd began to stop (a log probe on "
        "the journal or syslog with `presets: [unit_stop]` and nothing else); unset: off",
    )
    starts: str | None = Field(
        default=None,
        description="Name of the probe counting units systemd finished starting (a log probe "
        "with `presets: [unit_start]`): the hold ends at the first start of a listed unit "
        "after the stop; unset: at `grace`",
    )
    failures: str | None = Field(
        default=None,
        description="Name of the probe counting systemd unit failures (a log probe with "
        "`presets: [systemd_failure]`): a failure of a listed unit, or one naming no unit, "
        "ends the hold at once (a stop that timed out, a new release that cannot start)",
    )
    units: list[str] = Field(
        default_factory=list,
        description="The units whose stop-to-start holds: the service the target's health "
        "check watches (globs on unit names, `.service` implied, a template covers its "
        "instances: `postgresql@`, `postgresql*`, `app`); required by `stops`",
    )
    descriptions: list[str] = Field(
        default_factory=list,
        description="Globs on those units' `Description=`, for systemd versions that log it "
        'alone ("Stopping PostgreSQL Cluster 15-main..."; newer ones log '
        '"Stopping postgresql@15-main.service - PostgreSQL Cluster 15-main..."), e.g. '
        "`PostgreSQL Cluster *`",
    )
    grace: Duration = Field(
        default=120.0,
        gt=0,
        le=1800.0,
        description="Longest a restart may hold lasting rules; a service not started by then "
        "is down",
    )

    @model_validator(mode="after")
    def _stops_need_units(self) -> PlannedRestarts:
        if self.stops is not None and not (self.units or self.descriptions):
            raise ValueError(
                "planned_restarts.stops needs `units` (or `descriptions`): without them a stop "
                "of any unit on the host (a timer's job, a login session) would hold the "
                "service's outage"
            )
        return self


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
        default=7 * 86400.0,
        description="How long observations are kept in the store (upgrade marks are kept "
        "whatever their age: a restarted daemon reads each target's newest)",
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
    fleet_veto: FleetVeto = Field(
        default_factory=FleetVeto,
        description="Holds a rollback when peers not upgraded fail the same way at the same "
        "time (on by default: `rules: auto`)",
    )
    planned_reboots: PlannedReboots = Field(
        default_factory=PlannedReboots,
        description="Waits through a reboot the host logged as asked for, up to a grace "
        "(off by default)",
    )
    planned_restarts: PlannedRestarts = Field(
        default_factory=PlannedRestarts,
        description="Waits through a deliberate restart of the service's own unit (a stop "
        "systemd logged, until its start), up to a grace (off by default)",
    )
    before_first_mark: Literal["judge", "hold"] = Field(
        default="judge",
        description="A critical decision on checks from before a target's first upgrade mark "
        "(`upgrade_started` or `upgrade`): `judge` rolls back as anywhere (a fleet that never "
        "writes marks); `hold` warns instead until a check after the mark, then judges from "
        "it (a fleet that marks every upgrade: no upgrade to undo before it)",
    )
    retention: Retention = Field(
        default_factory=Retention,
        description="Restore points kept per target and when older ones are deleted",
    )
