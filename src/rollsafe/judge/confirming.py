"""A regression rule's slow tier confirmed by another rule (``slow.confirm``), judge, pure.

A slow tier flags a small change given more evidence (``rollsafe.judge.sequential``,
"Tiers"). When the signal is a proxy for the service (a health check's round trip), a small
change of it can be the proxy's own: a redirect doubling the check's round trips, a TLS
setting, a new health handler, while the requests are served as before. With ``confirm``,
such a rule is critical on its slow tier alone only while the named rule of the same
target fires too (warning or worse: the requests' own latency up), or has no data (a blind
witness says nothing either way: the tier judges alone, as without it); otherwise its
crossing is reported as a warning. Its fast tier (a large change) always decides alone.

The engine applies it to the rule's own decision, before the fleet veto (which holds only
critical decisions), as it applies ``policy.before_first_mark``: composites above the rule
see its own outcome. docs/presets.md ("Round 11") has the measurement behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import verdicts
from rollsafe.judge import rules

__all__ = ["confirm_of", "slow_only", "unconfirmed"]

_CRITICAL = verdicts.Severity.CRITICAL
_WARNING = verdicts.Severity.WARNING


def confirm_of(rule: models.RuleBase) -> str | None:
    """The id of the rule that must confirm ``rule``'s slow tier (None: it decides alone)."""
    if isinstance(rule, models.RegressionRule) and rule.slow is not None:
        return rule.slow.confirm
    return None


def slow_only(evidence: Mapping[str, Any]) -> bool:
    """True when a regression outcome's crossing is its slow tier's and the fast tier's
    test has not crossed (at any time: a large change decides alone)."""
    if evidence.get("tier") != "slow":
        return False
    rows = evidence.get("tiers")
    if not isinstance(rows, list):
        return False
    return not any(
        isinstance(row, Mapping) and row.get("tier") == "fast" and row.get("breached")
        for row in rows
    )


def unconfirmed(
    outcome: rules.Outcome, confirm: str, witness: rules.Outcome
) -> rules.Outcome | None:
    """``outcome`` as a warning when its slow tier alone made it critical and ``witness``
    (the outcome of rule ``confirm`` on the same target) neither fires nor lacks data; None
    when it stands as it is."""
    if outcome.severity is not _CRITICAL or not slow_only(outcome.evidence):
        return None
    if witness.severity >= _WARNING or witness.evidence.get("no_data"):
        return None
    evidence = dict(outcome.evidence)
    evidence["confirm"] = {
        "rule": confirm,
        "confirmed": False,
        "severity": _CRITICAL.label,
        "witness": witness.summary,
    }
    summary = (
        f"{outcome.summary}; a small change only, and {confirm} does not confirm it "
        f"({witness.summary}): a warning"
    )
    return rules.Outcome(_WARNING, summary, evidence, outcome.pending)
