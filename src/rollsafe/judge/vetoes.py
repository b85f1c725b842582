"""The fleet veto's rules, checked (judge, pure): which listed rules it may hold, and what it
needs kept.

``policy.fleet_veto`` lets the engine hold a listed rule's rollback as a warning while the
same rule is critical on a peer that was not upgraded (``Engine._held``). Holding is only
sound for rules that no single event on the upgraded host decides, and for rules that do not
compare with peers themselves; ``sources_needed`` refuses the others when the engine is
built, and says which sources' windows must keep more history for the peers' judgement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.judge import composites, rules


def sources_needed(by_id: Mapping[str, models.RuleBase], listed: Sequence[str]) -> dict[str, float]:
    """The sources whose windows the fleet veto needs longer (the leaves under the listed
    rules: judged ``wait`` ago, and on peers against another target's reference period),
    each with the reference period a regression rule on it reads
    beyond its own history (a peer has no pin at another target's mark); a ConfigError for
    a rule it cannot hold soundly.

    Refused: an unknown id; a listed rule that one event can decide alone: a single-event
    leaf (an alert rule, or a threshold one failing check fires: ``consecutive: 1``, no
    ``for``, one episode) listed, or under composites that one firing child satisfies
    (``any``, ``at_least`` 1, ``all`` of one): a kernel panic on the upgraded host is its
    own, whatever its peers show (under ``at_least: 2`` it is one witness of two and may be
    listed); a cohort rule, or a regression rule against a cohort, anywhere below (they
    compare with peers themselves).
    """
    problems: list[str] = []
    sources: dict[str, float] = {}

    def visit(rule_id: str, top: str, *, alone: bool) -> None:
        rule = by_id[rule_id]
        if isinstance(rule, composites.CompositeRule):
            one = composites.needed(rule) <= 1
            for child in rule.rules:
                visit(child, top, alone=alone and one)
        elif isinstance(rule, models.CohortRule) or (
            isinstance(rule, models.RegressionRule) and rule.against != "self"
        ):
            problems.append(
                f"policy.fleet_veto: {top!r} reads {rule.kind} rule {rule_id!r}, which "
                "compares with peers itself; list rules against the target's own past"
            )
        elif isinstance(rule, models.RegressionRule):
            sources[rule.probe] = max(sources.get(rule.probe, 0.0), rule.before)
        elif alone and _one_event(rule):
            problems.append(
                f"policy.fleet_veto: {top!r} fires on one event of {rule_id!r} (one failing "
                "check or one alert); an event on the upgraded host is its own, never held"
            )
        elif isinstance(rule, rules.LeafRule):  # judged ``wait`` ago too
            sources.setdefault(rule.probe, 0.0)

    for rule_id in listed:
        if rule_id not in by_id:
            problems.append(f"policy.fleet_veto: unknown rule {rule_id!r}")
        else:
            visit(rule_id, rule_id, alone=True)
    if problems:
        raise errors.ConfigError(problems[0], problems=problems)
    return sources


def _one_event(rule: models.RuleBase) -> bool:
    """True for a rule one event fires: an alert, or a threshold on one failing check."""
    if isinstance(rule, models.AlertRule):
        return True
    return (
        isinstance(rule, models.ThresholdRule)
        and rule.consecutive <= 1
        and not rule.for_
        and rule.episodes <= 1
    )
