"""Evidence before a target's first upgrade mark (``policy.before_first_mark``).

A rollback undoes an upgrade: it restores the point taken before it (``rollsafe upgrade``
takes one before each upgrade, before its ``upgrade_started`` mark). On a target with no
upgrade mark at all yet, neither ``upgrade_started`` nor ``upgrade``, no upgrade is known to
have begun, so there is nothing of one to undo: in a fleet that marks its upgrades, an outage
then is the host's (a reboot of the maintenance tool that marks ``upgrade`` after it, a power
cycle, a crash of the release already in place), and a person should hear of it, not a
rollback of whatever the last restore point holds.

``hold`` (for a fleet that marks every upgrade) makes such a critical decision a warning
(``pending``: the target is worth looking at again) until the target's first mark comes into
force; from then on every rule is judged as usual, and lasting thresholds judge from the mark
(``windows.Holds.cut``: a failing run never spans a mark), so an outage that lasts through the
mark is rolled back ``for`` after it, as any outage that began at the mark. ``judge``, the
default, keeps a fleet that never writes marks as it was: judged on the same evidence at the
same speed, mark or not.

Which targets are held is a question of the marks the engine remembers (``Engine.mark``); the
engine asks :func:`unmarked` and wraps outcomes with :func:`held` on both of its paths (the
full ``evaluate`` and replay's severity-first ``_decide``), so the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rollsafe.config import models
from rollsafe.domain import verdicts
from rollsafe.judge import composites, rules, windows

__all__ = ["HOLD", "first_mark", "held", "holds", "probes_read", "unmarked"]

HOLD = "hold"  # the value of ``policy.before_first_mark`` that holds
_CRITICAL = verdicts.Severity.CRITICAL
_WARNING = verdicts.Severity.WARNING
_PROBED = (
    models.ThresholdRule,
    models.RatioRule,
    models.RateRule,
    models.BaselineRule,
    models.CohortRule,
    models.RegressionRule,
    models.BurstRule,
    models.TrendRule,
    models.CeilingRule,
)


def holds(policy: models.Policy) -> bool:
    """True when ``policy`` holds critical decisions on targets with no mark yet."""
    return policy.before_first_mark == HOLD


def probes_read(by_id: Mapping[str, models.RuleBase]) -> dict[str, tuple[str, ...]]:
    """Per rule id, the probes its decision reads (a composite: its children's; an alert
    rule: none, it reads the alert board)."""
    found: dict[str, tuple[str, ...]] = {}

    def visit(rule_id: str) -> tuple[str, ...]:
        known = found.get(rule_id)
        if known is None:
            rule = by_id[rule_id]
            if isinstance(rule, composites.CompositeRule):
                read = {p for child in rule.rules for p in visit(child)}
                known = tuple(sorted(read))
            elif isinstance(rule, _PROBED):
                known = (rule.probe,)
            else:  # an alert rule reads the alert board
                known = ()
            found[rule_id] = known
        return known

    for rule_id in by_id:
        visit(rule_id)
    return found


def first_mark(upgrades: Sequence[float], starts: Sequence[float]) -> float:
    """The earliest mark of either kind remembered (``upgrade`` marks, ``upgrade_started``
    marks: sorted times); infinity for none."""
    return min(upgrades[0] if upgrades else math.inf, starts[0] if starts else math.inf)


def unmarked(
    first: float,
    read: Sequence[tuple[windows.Window | None, float]],
    *,
    now: float,
) -> bool:
    """True when a critical decision at ``now`` rests on evidence from before the target's
    ``first`` mark: no mark yet, or the mark came but a source the rule reads (``read``: its
    window and probe interval) has not reported a value since, for less than one interval
    (a lasting rule judges from the mark once a check after it has come: ``Holds.cut``)."""
    if now < first:
        return True
    at_mark = math.nextafter(first, -math.inf)  # a check at the mark's time is after it
    return any(
        window is not None and window.next_value_after(at_mark) > now and now < first + every
        for window, every in read
    )


def held(outcome: rules.Outcome) -> rules.Outcome:
    """``outcome`` held as a warning when it is critical (the target has no mark yet)."""
    if outcome.severity is not _CRITICAL:
        return outcome
    evidence = dict(outcome.evidence)
    evidence["before_first_mark"] = {"held": True, "severity": _CRITICAL.label}
    summary = (
        f"{outcome.summary}; read before this target's first upgrade mark, with no upgrade "
        "to undo: held as a warning (policy.before_first_mark: hold)"
    )
    return rules.Outcome(_WARNING, summary, evidence, pending=True)
