"""Alerts in the judge: which alerts fire on a target now, and the ``alert`` rule over them.

Alerts from monitoring systems (Alertmanager, Grafana, CloudWatch ...) reach the judge as
observations with ``alert_state`` set and their details in ``text`` (``domain.alerts``). One
source may carry several alerts for one target (two alert names, or one alert name with
different labels), so the latest observation of the source is not enough: :class:`Board` keeps,
per ``(target, source)``, the latest states of every alert *identity*, ordered by the alert's own
time. An alert is firing at ``now`` when its newest state at or before ``now`` is firing.

Order does not matter: a "resolved" delivered before its "firing" still wins, because it is
later in the alert's own time; the same delivery twice changes nothing. That is what makes
duplicated, reordered and firing -> resolved -> firing deliveries give exactly the decisions
they should. Error observations (a source saying "insufficient data") are not states: they
leave every alert as it was and only count towards the source's blindness.

Memory is bounded: a few states per identity, and at most ``max_alerts`` identities per
``(target, source)`` (resolved ones are forgotten first, oldest first).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rollsafe.config import models
from rollsafe.domain import alerts, ids, observations, verdicts
from rollsafe.judge import rules, windows

__all__ = ["ActiveAlert", "Board", "evaluate", "matches"]

MAX_STATES = 4  # per alert: enough to answer for a `now` a little before the newest state
MAX_ALERTS = 1000  # per (target, source)


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """One alert firing at the evaluated time."""

    details: alerts.AlertDetails
    since: float  # the alert's own time of the firing state (e.g. Alertmanager startsAt)

    def to_evidence(self) -> dict[str, Any]:
        return {
            "id": self.details.identity,
            "name": self.details.name,
            "severity": self.details.severity,
            "since": self.since,
            "labels": dict(self.details.labels),
            "summary": self.details.summary,
        }


class _Alert:
    __slots__ = ("details", "states")

    def __init__(self, details: alerts.AlertDetails) -> None:
        self.details = details
        self.states: list[observations.Observation] = []

    def add(self, obs: observations.Observation) -> None:
        key = windows.order_key(obs)
        if any(windows.order_key(s) == key for s in self.states):
            return  # the same delivery again
        bisect.insort(self.states, obs, key=windows.order_key)
        if len(self.states) > MAX_STATES:
            del self.states[0]
        # The newest delivery's details describe the alert (summary, labels may change).
        self.details = alerts.details_of(self.states[-1])

    def at(self, now: float) -> observations.Observation | None:
        index = bisect.bisect_right(self.states, now, key=lambda s: s.time)
        return self.states[index - 1] if index else None

    @property
    def newest(self) -> observations.Observation:
        return self.states[-1]


class Board:
    """The alert states of every ``(target, source)`` seen (see the module notes)."""

    def __init__(self, *, max_alerts: int = MAX_ALERTS) -> None:
        self._max_alerts = max_alerts
        self._alerts: dict[tuple[ids.TargetId, str], dict[str, _Alert]] = {}

    def fold(self, obs: observations.Observation) -> None:
        """Record an alert observation; anything without ``alert_state`` or with an error is
        ignored."""
        if obs.alert_state is None or obs.error is not None:
            return
        details = alerts.details_of(obs)
        per_source = self._alerts.setdefault((obs.target, obs.source), {})
        alert = per_source.get(details.identity)
        if alert is None:
            alert = per_source[details.identity] = _Alert(details)
        alert.add(obs)
        if len(per_source) > self._max_alerts:
            self._forget_one(per_source)

    def seen(self, target: str, source: str) -> bool:
        """True once an alert state of ``source`` was recorded for ``target``."""
        return bool(self._alerts.get((ids.TargetId(target), source)))

    def firing(self, target: str, source: str, *, now: float) -> list[ActiveAlert]:
        """Alerts of ``source`` firing on ``target`` at ``now``, oldest first."""
        per_source = self._alerts.get((ids.TargetId(target), source), {})
        active = []
        for alert in per_source.values():
            state = alert.at(now)
            if state is not None and state.alert_state is observations.AlertState.FIRING:
                active.append(ActiveAlert(details=alerts.details_of(state), since=state.time))
        active.sort(key=lambda a: (a.since, a.details.identity))
        return active

    @staticmethod
    def _forget_one(per_source: dict[str, _Alert]) -> None:
        resolved = [
            (alert.newest.time, identity)
            for identity, alert in per_source.items()
            if alert.newest.alert_state is not observations.AlertState.FIRING
        ]
        if resolved:
            del per_source[min(resolved)[1]]
        else:  # every alert fires: forget the oldest, a bound is a bound
            oldest = min(per_source.items(), key=lambda item: (item[1].newest.time, item[0]))
            del per_source[oldest[0]]


def matches(rule: models.AlertRule, alert: ActiveAlert) -> bool:
    """True when ``alert`` is one ``rule`` looks at (name, labels, severity)."""
    details = alert.details
    if rule.alertname is not None and details.name not in rule.alertname:
        return False
    if any(details.labels.get(k) != v for k, v in rule.labels.items()):
        return False
    return alerts.severity_rank(details.severity) >= alerts.severity_rank(rule.min_severity)


def evaluate(rule: models.AlertRule, firing: Sequence[ActiveAlert], *, seen: bool) -> rules.Outcome:
    """The rule's outcome from the alerts firing now on the target (``Board.firing``)."""
    hits = [alert for alert in firing if matches(rule, alert)]
    evidence: dict[str, Any] = {
        "source": rule.source,
        "alertname": rule.alertname,
        "labels": dict(rule.labels),
        "min_severity": rule.min_severity,
        "firing": [alert.to_evidence() for alert in hits],
        "other_firing": len(firing) - len(hits),
        "breached": bool(hits),
        "no_data": not seen,
    }
    if hits:
        names = sorted({alert.details.name for alert in hits})
        severity = verdicts.Severity.parse(rule.severity)
        summary = f"{rule.source}: {len(hits)} alert(s) firing: {', '.join(names)}"
        return rules.Outcome(severity, summary, evidence)
    if not seen:
        summary = f"{rule.source}: no alert received"
    else:
        summary = f"{rule.source}: no matching alert firing"
    return rules.Outcome(verdicts.Severity.OK, summary, evidence)
