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

Cost: a target may have hundreds of alerts firing, and it is judged after every observation.
So the board keeps, per ``(target, source)``, the alerts firing by their newest state, and per
``alert`` rule asked about them a tally of the ones it matches (sorted by the alert's own time,
with their names), updated as each alert is folded in: judging reads the tally, whose cost does
not grow with the number of alerts. Only an evaluation at a time before the newest state of the
source (a replay reading the past) scans every alert, as the definition above says. Evidence
lists the ``EVIDENCE_LIMIT`` oldest matching alerts and counts them all (``firing_count``).
"""

from __future__ import annotations

import bisect
import collections
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rollsafe.config import models
from rollsafe.domain import alerts, ids, observations, verdicts
from rollsafe.judge import rules, windows

__all__ = ["EVIDENCE_LIMIT", "ActiveAlert", "Board", "evaluate", "matches"]

MAX_STATES = 4  # per alert: enough to answer for a `now` a little before the newest state
MAX_ALERTS = 1000  # per (target, source)
EVIDENCE_LIMIT = 20  # alerts listed in a decision's evidence (all are counted)
NAMES_LIMIT = 10  # alert names in a decision's summary


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


def _order(alert: ActiveAlert) -> tuple[float, str]:
    return (alert.since, alert.details.identity)


class _Tally:
    """The firing alerts of one ``(target, source)`` that one rule matches, kept up to date
    (see the module notes): sorted by ``(since, identity)``, with a count per name."""

    __slots__ = ("_cached", "_keys", "_names", "_order", "_sorted_names", "active", "rule")

    def __init__(self, rule: models.AlertRule) -> None:
        self.rule = rule
        self.active: dict[str, ActiveAlert] = {}
        self._keys: list[tuple[float, str]] = []
        self._names: collections.Counter[str] = collections.Counter()
        self._sorted_names: list[str] = []
        self._cached: tuple[int, rules.Outcome] | None = None

    def add(self, alert: ActiveAlert) -> None:
        if not matches(self.rule, alert):
            return
        self.active[alert.details.identity] = alert
        bisect.insort(self._keys, _order(alert))
        name = alert.details.name
        if not self._names[name]:
            bisect.insort(self._sorted_names, name)
        self._names[name] += 1
        self._cached = None

    def remove(self, alert: ActiveAlert) -> None:
        if self.active.pop(alert.details.identity, None) is None:
            return
        key = _order(alert)
        del self._keys[bisect.bisect_left(self._keys, key)]
        name = alert.details.name
        self._names[name] -= 1
        if not self._names[name]:
            del self._names[name]
            del self._sorted_names[bisect.bisect_left(self._sorted_names, name)]
        self._cached = None

    def outcome(self, firing: int) -> rules.Outcome:
        """The rule's outcome with ``firing`` alerts of the source firing in all."""
        if self._cached is not None and self._cached[0] == firing:
            return self._cached[1]
        listed = [self.active[identity] for _, identity in self._keys[:EVIDENCE_LIMIT]]
        made = _outcome(
            self.rule,
            listed,
            count=len(self.active),
            names=self._sorted_names,
            other=firing - len(self.active),
            seen=True,
        )
        self._cached = (firing, made)
        return made


class _Source:
    """Every alert of one ``(target, source)``, and the ones firing by their newest state."""

    __slots__ = ("alerts", "firing", "latest", "tallies")

    def __init__(self) -> None:
        self.alerts: dict[str, _Alert] = {}
        self.firing: dict[str, ActiveAlert] = {}
        self.latest = float("-inf")  # the newest state time of any alert here
        self.tallies: dict[str, _Tally] = {}

    def drop(self, identity: str) -> None:
        alert = self.firing.pop(identity, None)
        if alert is not None:
            for tally in self.tallies.values():
                tally.remove(alert)

    def settle(self, identity: str) -> None:
        """Bring ``firing`` and the tallies in line with the alert's newest state."""
        self.drop(identity)
        newest = self.alerts[identity].newest
        if newest.alert_state is observations.AlertState.FIRING:
            active = ActiveAlert(details=self.alerts[identity].details, since=newest.time)
            self.firing[identity] = active
            for tally in self.tallies.values():
                tally.add(active)


class Board:
    """The alert states of every ``(target, source)`` seen (see the module notes)."""

    def __init__(self, *, max_alerts: int = MAX_ALERTS) -> None:
        self._max_alerts = max_alerts
        self._sources: dict[tuple[ids.TargetId, str], _Source] = {}

    def fold(self, obs: observations.Observation) -> None:
        """Record an alert observation; anything without ``alert_state`` or with an error is
        ignored."""
        if obs.alert_state is None or obs.error is not None:
            return
        details = alerts.details_of(obs)
        source = self._sources.get((obs.target, obs.source))
        if source is None:
            source = self._sources[(obs.target, obs.source)] = _Source()
        alert = source.alerts.get(details.identity)
        if alert is None:
            alert = source.alerts[details.identity] = _Alert(details)
        alert.add(obs)
        source.latest = max(source.latest, obs.time)
        source.settle(details.identity)
        if len(source.alerts) > self._max_alerts:
            self._forget_one(source)

    def seen(self, target: str, source: str) -> bool:
        """True once an alert state of ``source`` was recorded for ``target``."""
        found = self._sources.get((ids.TargetId(target), source))
        return found is not None and bool(found.alerts)

    def firing(self, target: str, source: str, *, now: float) -> list[ActiveAlert]:
        """Alerts of ``source`` firing on ``target`` at ``now``, oldest first."""
        found = self._sources.get((ids.TargetId(target), source))
        if found is None:
            return []
        if now >= found.latest:
            return sorted(found.firing.values(), key=_order)
        active = []
        for alert in found.alerts.values():
            state = alert.at(now)
            if state is not None and state.alert_state is observations.AlertState.FIRING:
                active.append(ActiveAlert(details=alerts.details_of(state), since=state.time))
        active.sort(key=_order)
        return active

    def evaluate(self, rule: models.AlertRule, target: str, *, now: float) -> rules.Outcome:
        """``evaluate(rule, self.firing(...), seen=...)``, from the rule's tally when ``now``
        is not before the source's newest state (the live case: no scan of every alert)."""
        found = self._sources.get((ids.TargetId(target), rule.source))
        if found is None or not found.alerts:
            return evaluate(rule, [], seen=False)
        if now < found.latest:
            return evaluate(rule, self.firing(target, rule.source, now=now), seen=True)
        tally = found.tallies.get(rule.id)
        if tally is None or tally.rule is not rule:
            tally = found.tallies[rule.id] = _Tally(rule)
            for active in found.firing.values():  # once per rule and source
                tally.add(active)
        return tally.outcome(len(found.firing))

    @staticmethod
    def _forget_one(source: _Source) -> None:
        per_source = source.alerts
        resolved = [
            (alert.newest.time, identity)
            for identity, alert in per_source.items()
            if alert.newest.alert_state is not observations.AlertState.FIRING
        ]
        if resolved:
            gone = min(resolved)[1]
        else:  # every alert fires: forget the oldest, a bound is a bound
            gone = min(per_source.items(), key=lambda item: (item[1].newest.time, item[0]))[0]
        source.drop(gone)
        del per_source[gone]


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
    return _outcome(
        rule,
        hits[:EVIDENCE_LIMIT],
        count=len(hits),
        names=sorted({alert.details.name for alert in hits}),
        other=len(firing) - len(hits),
        seen=seen,
    )


def _outcome(
    rule: models.AlertRule,
    listed: Sequence[ActiveAlert],
    *,
    count: int,
    names: Sequence[str],
    other: int,
    seen: bool,
) -> rules.Outcome:
    """The outcome of ``count`` matching alerts, ``listed`` the oldest of them."""
    evidence: dict[str, Any] = {
        "source": rule.source,
        "alertname": rule.alertname,
        "labels": dict(rule.labels),
        "min_severity": rule.min_severity,
        "firing": [alert.to_evidence() for alert in listed],
        "firing_count": count,
        "other_firing": other,
        "breached": bool(count),
        "no_data": not seen,
    }
    if count:
        shown = ", ".join(itertools.islice(names, NAMES_LIMIT))
        if len(names) > NAMES_LIMIT:
            shown += f" and {len(names) - NAMES_LIMIT} more"
        severity = verdicts.Severity.parse(rule.severity)
        summary = f"{rule.source}: {count} alert(s) firing: {shown}"
        return rules.Outcome(severity, summary, evidence)
    if not seen:
        summary = f"{rule.source}: no alert received"
    else:
        summary = f"{rule.source}: no matching alert firing"
    return rules.Outcome(verdicts.Severity.OK, summary, evidence)
