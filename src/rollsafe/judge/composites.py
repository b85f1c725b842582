"""Composites: rules over rules (``all``, ``any``, ``at_least``) for cross-validated decisions.

A composite does not look at observations. It counts how many of the rules it lists are
*firing* (at warning or worse) for the target and, when enough are, takes its own ``severity``.
That is how a rollback can require two independent signals (say, the HTTP error ratio *and*
the error-log rate) while each alone only warns.

A listed rule that does not apply to the target (its ``targets`` selector excludes it) counts
as not firing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollsafe.config import models
from rollsafe.domain import verdicts
from rollsafe.judge import rules

__all__ = ["CompositeRule", "combine", "needed", "severity_of"]

CompositeRule = models.AllRule | models.AnyRule | models.AtLeastRule


def needed(rule: CompositeRule) -> int:
    """How many listed rules must fire for the composite to fire."""
    if isinstance(rule, models.AllRule):
        return len(rule.rules)
    if isinstance(rule, models.AnyRule):
        return 1
    return rule.count


def _severity(rule: CompositeRule, satisfied: bool) -> verdicts.Severity:
    return verdicts.Severity.parse(rule.severity) if satisfied else verdicts.Severity.OK


def severity_of(rule: CompositeRule, children: Sequence[verdicts.Severity]) -> verdicts.Severity:
    """The severity :func:`combine` gives, from the children's severities alone."""
    firing = sum(1 for severity in children if severity >= verdicts.Severity.WARNING)
    return _severity(rule, firing >= needed(rule))


def combine(rule: CompositeRule, children: Sequence[tuple[str, rules.Outcome]]) -> rules.Outcome:
    """The composite's outcome from its children's, given in the order the rule lists them."""
    firing = [
        rule_id for rule_id, outcome in children if outcome.severity >= verdicts.Severity.WARNING
    ]
    need = needed(rule)
    satisfied = len(firing) >= need
    severity = _severity(rule, satisfied)
    evidence: dict[str, Any] = {
        "needed": need,
        "firing": len(firing),
        "firing_rules": firing,
        "children": [
            {
                "rule": rule_id,
                "severity": outcome.severity.label,
                "summary": outcome.summary,
                "no_data": bool(outcome.evidence.get("no_data", False)),
            }
            for rule_id, outcome in children
        ],
        "breached": satisfied,
        # No child had data: the composite could not judge either (and so stays OK).
        "no_data": all(bool(o.evidence.get("no_data", False)) for _, o in children),
    }
    listed = ", ".join(firing) if firing else "none"
    summary = f"{len(firing)} of {len(children)} rules firing, {need} needed ({listed})"
    return rules.Outcome(severity, summary, evidence)
