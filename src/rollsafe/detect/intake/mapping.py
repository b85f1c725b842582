"""Alerts -> observations: which target an alert is about, and what it says to the judge.

Role in the loop (detect): alerts are signals, not commands. An alert becomes an observation of
one configured target, the judge weighs it like any probe (``alert`` and ``threshold`` rules,
composed with probe rules), and only a decision can open a rollback run.

Targets, per endpoint (``config.models.IntakeBase``):

* ``match``: every entry whose labels the alert carries (exact values) names a target;
* ``target_label``: the alert label naming the target (``strip_port`` drops ``:9100``), compared
  with each way of ``resolve_by`` in turn (target ``id``, ``address``, ``label:<name>``); the
  first way that finds targets decides, and it must find exactly one (an address shared by two
  targets is ambiguous: no guess is made);
* a target the payload names itself (generic form) must be a configured target id.

An alert that names no configured target is *unmapped*: reported, never acted on.

The observation: ``time`` is the alert's own time (``startsAt`` firing, ``endsAt`` resolved),
never later than its receipt (a sender's clock running ahead must not hide it from "now");
``value`` 1.0 firing, 0.0 resolved; ``alert_state``; ``source`` the endpoint's source; ``text``
the alert's details (``domain.alerts``) with its severity from the endpoint's severity mapping.
An alert whose source cannot tell (no data) becomes an error observation: a blind detector.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rollsafe.config import models
from rollsafe.detect.intake import payloads
from rollsafe.domain import alerts, ids, observations

__all__ = ["Mapped", "Mapper", "Unmapped", "strip_port"]


@dataclass(frozen=True, slots=True)
class Unmapped:
    """An alert that names no configured target, and why."""

    alert: payloads.Alert
    reason: str


@dataclass(frozen=True, slots=True)
class Mapped:
    """Observations for configured targets, and the alerts that found none."""

    observations: list[observations.Observation] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)


def strip_port(value: str) -> str:
    """``10.0.0.1:9100`` -> ``10.0.0.1``, ``[::1]:9100`` -> ``::1``; bare IPv6 is kept."""
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    host, sep, port = value.rpartition(":")
    if sep and host and ":" not in host and port.isdigit():
        return host
    return value


class Mapper:
    """Maps one endpoint's alerts onto the configured targets (see the module notes)."""

    def __init__(self, endpoint: models.IntakeBase, targets: Sequence[models.Target]) -> None:
        self._endpoint = endpoint
        self._targets = list(targets)
        self._ids = {t.id for t in self._targets}
        self._levels = {key.lower(): value for key, value in endpoint.severity.map.items()}

    @property
    def source(self) -> str:
        return self._endpoint.source_name

    def map(self, found: Sequence[payloads.Alert], *, received_at: float) -> Mapped:
        """Observations of ``found`` for their targets; ``received_at`` bounds their time."""
        result = Mapped()
        for alert in found:
            targets, reason = self.targets_of(alert)
            if not targets:
                result.unmapped.append(Unmapped(alert=alert, reason=reason))
                continue
            result.observations.extend(
                self._observation(alert, target, received_at=received_at) for target in targets
            )
        return result

    def targets_of(self, alert: payloads.Alert) -> tuple[list[str], str]:
        """The target ids ``alert`` is about, and, when there are none, why."""
        if alert.target is not None:
            if alert.target in self._ids:
                return [alert.target], ""
            return [], f"target {alert.target!r} is not configured"
        found: list[str] = []
        reasons = []
        for entry in self._endpoint.match:
            if all(alert.labels.get(k) == v for k, v in entry.labels.items()):
                if entry.target in self._ids:
                    found.append(entry.target)
                else:
                    reasons.append(f"matched target {entry.target!r} is not configured")
        label = self._endpoint.target_label
        if label is not None:
            target, why = self._by_label(alert, label)
            if target is not None:
                found.append(target)
            elif why:
                reasons.append(why)
        if not found and not reasons:
            reasons.append("no `match` entry matches its labels")
        return list(dict.fromkeys(found)), "; ".join(reasons)

    def _by_label(self, alert: payloads.Alert, label: str) -> tuple[str | None, str]:
        raw = alert.labels.get(label)
        if raw is None:
            return None, f"no {label!r} label"
        value = strip_port(raw) if self._endpoint.strip_port else raw
        for way in self._endpoint.resolve_by:
            if way == "id":
                candidates = [t.id for t in self._targets if t.id == value]
            elif way == "address":
                candidates = [t.id for t in self._targets if t.address == value]
            else:
                name = way.removeprefix("label:")
                candidates = [t.id for t in self._targets if t.labels.get(name) == value]
            if len(candidates) == 1:
                return candidates[0], ""
            if candidates:
                shown = ", ".join(candidates)
                return None, f"{label}={value!r} is ambiguous by {way}: {shown}"
        return None, f"{label}={value!r} names no configured target"

    def severity_of(self, alert: payloads.Alert) -> alerts.AlertSeverity:
        """The alert's severity by the endpoint's mapping (label value, case-insensitive)."""
        mapping = self._endpoint.severity
        raw = alert.labels.get(mapping.label)
        if raw is None:
            return mapping.default
        return self._levels.get(raw.lower(), mapping.default)

    def _observation(
        self, alert: payloads.Alert, target: str, *, received_at: float
    ) -> observations.Observation:
        time = received_at if alert.time is None else min(alert.time, received_at)
        details = alerts.AlertDetails(
            identity=alert.identity or payloads.identity_of(alert.name, alert.labels),
            name=alert.name,
            severity=self.severity_of(alert),
            labels=dict(alert.labels),
            summary=alert.summary,
        )
        if alert.state is None:
            why = alert.summary or "the source has insufficient data"
            return observations.Observation(
                time=time,
                target=ids.TargetId(target),
                source=self.source,
                text=details.to_text(),
                error=f"alert {alert.name}: cannot tell: {why}",
            )
        return observations.Observation(
            time=time,
            target=ids.TargetId(target),
            source=self.source,
            value=1.0 if alert.state is observations.AlertState.FIRING else 0.0,
            text=details.to_text(),
            alert_state=alert.state,
        )
