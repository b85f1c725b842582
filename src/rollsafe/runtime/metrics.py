"""Metrics: what the loop is doing, for Prometheus (``/metrics``).

The daemon feeds one ``Metrics`` as the loop runs: each observation (probe latencies and
errors), each decision whose severity changed, each audit entry of the executor (runs by
outcome, step durations, approvals), each notification outcome and each webhook intake
request. ``render`` writes the Prometheus text format; the API serves it.

A registry per ``Metrics`` (not the process-global one) keeps daemons in tests apart. Label
values are bounded: probe names come from the configuration (other sources, such as alerts,
are counted under ``source="other"``), rules and targets are not labels.

=============================================  =========  ==================================
metric                                         type       labels
=============================================  =========  ==================================
``rollsafe_decisions_total``                   counter    severity
``rollsafe_runs_finished_total``               counter    outcome (succeeded, failed, ...)
``rollsafe_runs_open``                         gauge      state (read from the store)
``rollsafe_run_step_duration_seconds``         histogram  outcome (done, failed)
``rollsafe_approvals_total``                   counter    decision (approved, rejected,
                                                          timeout), via
``rollsafe_probe_observations_total``          counter    probe
``rollsafe_probe_errors_total``                counter    probe
``rollsafe_probe_latency_seconds``             histogram  probe
``rollsafe_webhook_intake_requests_total``     counter    source, outcome
``rollsafe_notifications_total``               counter    notifier, outcome
``rollsafe_leader``                            gauge      (1 while this controller acts: the
                                                          lease holder, or a lone controller)
``rollsafe_log_backlog_bytes``                 gauge      probe (bytes of followed remote
                                                          files not read yet: events counted
                                                          late)
``rollsafe_log_files_behind``                  gauge      probe
=============================================  =========  ==================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, exposition
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rollsafe.domain import audit_events, observations, runs, verdicts

__all__ = ["CONTENT_TYPE", "Metrics"]

log = logging.getLogger("rollsafe.metrics")

CONTENT_TYPE: Final = exposition.CONTENT_TYPE_LATEST
_OTHER = "other"
_STEP_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
_PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_OUTCOMES = {
    "run.succeeded": "succeeded",
    "run.failed": "failed",
    "run.rejected": "rejected",
    "run.blocked": "blocked",
    "run.dry_run": "dry_run",
}


class Metrics:
    """The counters and histograms of one controller; ``probes``: the configured probe names.

    ``open_runs`` (optional) returns the open runs; ``log_backlog`` (optional), per probe
    following remote files, the bytes not read yet and the files behind. Both are called at
    each scrape.
    """

    def __init__(
        self,
        *,
        probes: Iterable[str] = (),
        open_runs: Callable[[], list[runs.RollbackRun]] | None = None,
        log_backlog: Callable[[], dict[str, tuple[int, int]]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._probes = frozenset(probes)
        self._started: dict[str, float] = {}  # step key -> time it was stored started
        r = self.registry
        self.decisions = Counter(
            "rollsafe_decisions",
            "Decisions whose severity changed, by the new severity",
            ["severity"],
            registry=r,
        )
        self.runs_finished = Counter(
            "rollsafe_runs_finished",
            "Rollback runs that ended, by outcome",
            ["outcome"],
            registry=r,
        )
        self.step_duration = Histogram(
            "rollsafe_run_step_duration_seconds",
            "Duration of rollback steps (driver calls), by outcome",
            ["outcome"],
            buckets=_STEP_BUCKETS,
            registry=r,
        )
        self.approvals = Counter(
            "rollsafe_approvals",
            "Decisions on runs waiting for a person, by decision and channel",
            ["decision", "via"],
            registry=r,
        )
        self.probe_observations = Counter(
            "rollsafe_probe_observations", "Observations made, by probe", ["probe"], registry=r
        )
        self.probe_errors = Counter(
            "rollsafe_probe_errors",
            "Observations that failed (the probe could not look), by probe",
            ["probe"],
            registry=r,
        )
        self.probe_latency = Histogram(
            "rollsafe_probe_latency_seconds",
            "How long checks that measure it took (http, tcp ...), by probe",
            ["probe"],
            buckets=_PROBE_BUCKETS,
            registry=r,
        )
        self.leader = Gauge(
            "rollsafe_leader",
            "1 while this controller leads (probes, judges, drives runs); 0 while it follows",
            registry=r,
        )
        self.intake = Counter(
            "rollsafe_webhook_intake_requests",
            "Alert webhook requests received, by source and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.notifications = Counter(
            "rollsafe_notifications",
            "Notification deliveries, by notifier and outcome (delivered, retried, failed, "
            "dropped)",
            ["notifier", "outcome"],
            registry=r,
        )
        for severity in verdicts.Severity:
            self.decisions.labels(severity.label)
        for outcome in _OUTCOMES.values():
            self.runs_finished.labels(outcome)
        if open_runs is not None:
            r.register(_OpenRuns(open_runs))
        if log_backlog is not None:
            r.register(_LogBacklog(log_backlog))

    # ------------------------------------------------------------------ feeding

    def observed(self, obs: observations.Observation) -> None:
        if obs.source.startswith("mark:"):
            return  # timeline marks, not observations of a probe
        probe = obs.source if obs.source in self._probes else _OTHER
        self.probe_observations.labels(probe).inc()
        if obs.error is not None:
            self.probe_errors.labels(probe).inc()
        elif obs.latency_s is not None and obs.latency_s >= 0:
            self.probe_latency.labels(probe).observe(obs.latency_s)

    def decided(self, decision: verdicts.Decision) -> None:
        self.decisions.labels(decision.severity.label).inc()

    def audited(self, entry: audit_events.AuditEntry) -> None:
        action = entry.action
        if action in _OUTCOMES:
            self.runs_finished.labels(_OUTCOMES[action]).inc()
        elif action == "run.step.started":
            key = str(entry.details.get("key", ""))
            self._started.setdefault(key, entry.time)
        elif action in ("run.step.done", "run.step.failed"):
            started = self._started.pop(str(entry.details.get("key", "")), None)
            if started is not None:  # a step resumed after a restart has no start here
                outcome = "done" if action == "run.step.done" else "failed"
                self.step_duration.labels(outcome).observe(max(0.0, entry.time - started))
        elif action in ("run.approved", "run.rejected"):
            via = str(entry.details.get("via", "api"))
            self.approvals.labels(action.removeprefix("run."), via).inc()
        elif action == "run.approval.timeout":
            self.approvals.labels("timeout", "policy").inc()

    def intake_request(self, source: str, outcome: str) -> None:
        self.intake.labels(source, outcome).inc()

    def notified(self, notifier: str, outcome: str) -> None:
        self.notifications.labels(notifier, outcome).inc()

    # ------------------------------------------------------------------ exposing

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return exposition.generate_latest(self.registry)


class _OpenRuns(Collector):
    """``rollsafe_runs_open{state}``, read from the store at scrape time."""

    def __init__(self, open_runs: Callable[[], list[runs.RollbackRun]]) -> None:
        self._open_runs = open_runs

    def describe(self) -> Iterator[Metric]:
        return iter([GaugeMetricFamily("rollsafe_runs_open", "Open rollback runs, by state")])

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "rollsafe_runs_open", "Open rollback runs, by state", labels=["state"]
        )
        counts = {state.value: 0 for state in runs.RunState if not state.terminal}
        try:
            for run in self._open_runs():
                counts[run.state.value] = counts.get(run.state.value, 0) + 1
        except Exception:
            log.exception("cannot count open runs for /metrics")
            return
        for state, count in sorted(counts.items()):
            family.add_metric([state], count)
        yield family


class _LogBacklog(Collector):
    """``rollsafe_log_backlog_bytes{probe}`` and ``rollsafe_log_files_behind{probe}``.

    A log followed over a transport reads at most its share per look (a cloud round's 24 KB
    split between probes); a busier log falls behind and its events are counted late. The
    probe logs when that starts and ends; these gauges let an alert say it too.
    """

    _BYTES = "rollsafe_log_backlog_bytes"
    _FILES = "rollsafe_log_files_behind"

    def __init__(self, backlog: Callable[[], dict[str, tuple[int, int]]]) -> None:
        self._backlog = backlog

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                self._BYTES,
                "Bytes of followed remote log files not read yet (events counted late), by probe",
                labels=["probe"],
            ),
            GaugeMetricFamily(
                self._FILES, "Followed remote log files behind, by probe", labels=["probe"]
            ),
        )

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        unread, behind = self._families()
        try:
            found = self._backlog()
        except Exception:
            log.exception("cannot read the log probes' backlog for /metrics")
            return
        for probe, (size, files) in sorted(found.items()):
            unread.add_metric([probe], size)
            behind.add_metric([probe], files)
        yield unread
        yield behind
