"""Blindness: telling "the detector cannot see" apart from "the service is broken".

A probe that keeps failing (timeouts, refused queries, no data) produces error observations,
which no rule computes with. Instead, for every source seen on a target, the engine adds a
``blind:<source>`` decision: WARNING once the last ``policy.blind_after`` observations are all
errors (OK if ``policy.no_data`` is ``ok``), OK otherwise, so that a recovery shows up as a
change back to OK. Blindness never exceeds WARNING: not seeing is never a reason to roll back.
"""

from __future__ import annotations

from typing import Any

from rollsafe.config import models
from rollsafe.domain import ids, verdicts
from rollsafe.judge import rules, windows

__all__ = ["PREFIX", "assess", "rule_id", "severity_of"]

PREFIX = "blind:"


def rule_id(source: str) -> ids.RuleId:
    """The pseudo rule id of ``source``'s blindness decisions."""
    return ids.RuleId(f"{PREFIX}{source}")


def severity_of(streak: windows.Streak, *, policy: models.Policy) -> verdicts.Severity:
    """The severity :func:`assess` gives, without its sentence and evidence."""
    if streak.count >= policy.blind_after and policy.no_data != "ok":
        return verdicts.Severity.WARNING
    return verdicts.Severity.OK


def assess(source: str, streak: windows.Streak, *, policy: models.Policy) -> rules.Outcome:
    """Whether ``source`` is blind, from its current error streak."""
    blind = streak.count >= policy.blind_after
    count = f"{streak.count}+" if streak.saturated else str(streak.count)
    evidence: dict[str, Any] = {
        "probe": source,
        "blind": blind,
        "errors": streak.count,
        "errors_saturated": streak.saturated,
        "blind_after": policy.blind_after,
        "no_data_policy": policy.no_data,
        "first_error_time": None if streak.first is None else streak.first.time,
        "last_error_time": None if streak.last is None else streak.last.time,
        "last_error": None if streak.last is None else streak.last.error,
    }
    severity = severity_of(streak, policy=policy)
    if blind:
        last_error = streak.last.error if streak.last is not None else ""
        summary = f"detector blind: {source} failed {count} times: {last_error}"
    elif streak.count:
        summary = f"detector {source} sees: {count} recent errors, blind after {policy.blind_after}"
    else:
        summary = f"detector {source} sees"
    return rules.Outcome(severity, summary, evidence)
