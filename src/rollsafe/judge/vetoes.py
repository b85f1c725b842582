"""The fleet veto (judge, pure): a listed rule's rollback held while peers that were not
upgraded fail the same way, and the rules it may hold, checked.

``policy.fleet_veto`` lets the engine hold a listed rule's rollback as a warning while the
same rule is critical on a peer that was not upgraded (:class:`Veto`). The engine asks it
about each top-level decision of a listed rule and lends it a read-only view of its windows,
marks and rule states (:class:`Fleet`); the veto keeps nothing but a cache of the peers'
sequential tests, so a decision stays a function of the observations, the marks and ``now``.

Holding is only sound for rules that no single event on the upgraded host decides, and for
rules that do not compare with peers themselves; :func:`sources_needed` refuses the others
when the engine is built, and says which sources' windows must keep more history for the
peers' judgement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from rollsafe.config import durations, models
from rollsafe.domain import errors, ids, verdicts
from rollsafe.judge import composites, rules, sequential, windows

__all__ = ["Fleet", "Reference", "Veto", "sources_needed"]

_CRITICAL = verdicts.Severity.CRITICAL
_WARNING = verdicts.Severity.WARNING
_PEER_WATCHES = 4096  # sequential states kept for the peers (a cache)
_PEERS_SHOWN = 5  # peers named in a held decision's summary (the evidence lists them all)

Reference = tuple[float, float | None]  # an ``upgrade`` mark in force and its reference end


class Fleet(Protocol):
    """What the veto reads of the engine: a read-only view, nothing folded through it."""

    def targets(self) -> list[ids.TargetId]:
        """Every target the engine knows (configured or observed)."""
        ...

    def target_model(self, target: ids.TargetId) -> models.Target:
        """``target``'s configuration (labels), a bare one for a target only observed."""
        ...

    def applying(self, target: ids.TargetId) -> frozenset[str]:
        """Ids of the rules whose ``targets`` selector picks ``target``."""
        ...

    def reference(self, target: ids.TargetId, now: float) -> float | None:
        """``target``'s latest ``upgrade`` mark at or before ``now`` (None: none)."""
        ...

    def reference_end(self, target: ids.TargetId, upgrade_at: float | None) -> float | None:
        """Where "before the upgrade" ends for the ``upgrade`` mark at ``upgrade_at``."""
        ...

    def upgraded_since(self, target: ids.TargetId, start: float, now: float) -> bool:
        """True when ``target`` has an upgrade mark (started or ended) in ``(start, now]``."""
        ...

    def window(self, target: ids.TargetId, source: str) -> windows.Window | None:
        """The window of ``(target, source)``, None when that source never spoke there."""
        ...

    def floor(self, source: str) -> float | None:
        """The configured interval of probe ``source`` (None: not a configured probe)."""
        ...

    def judge(
        self, rule_id: str, target: ids.TargetId, *, now: float, reference: Reference
    ) -> rules.Outcome:
        """``rule_id``'s own outcome on ``target`` at ``now``, baselines, trends and
        regressions judged against ``reference`` (no memo of the engine read or kept)."""
        ...


class Veto:
    """``policy.fleet_veto`` applied: which decisions of the listed rules are held and why.

    Built once per engine with the view it reads (``fleet``); ``sources_needed`` checks the
    listed rules first (a ConfigError for one it cannot hold soundly).
    """

    def __init__(
        self,
        config: models.FleetVeto,
        by_id: Mapping[str, models.RuleBase],
        *,
        fleet: Fleet,
    ) -> None:
        self.config = config
        self.rules = frozenset(config.rules)
        self.sources = sources_needed(by_id, config.rules)
        self._fleet = fleet
        # The listed rules on peers judged against another target's upgrade.
        self._peer_watches: dict[tuple[ids.TargetId, str, Reference], sequential.Watch] = {}

    def held(
        self, target: ids.TargetId, rule_id: str, outcome: rules.Outcome, *, now: float
    ) -> rules.Outcome:
        """``outcome``, held as a warning when the fleet veto says so (:meth:`why_held`)."""
        if outcome.severity is not _CRITICAL:
            return outcome
        why = self.why_held(target, rule_id, now=now)
        if why is None:
            return outcome
        evidence = dict(outcome.evidence)
        veto = self.config
        evidence["fleet_veto"] = {
            "held": True,
            "severity": _CRITICAL.label,
            "peers": why,
            "waiting": not why,
            "wait_s": veto.wait,
            "not_upgraded_for_s": veto.not_upgraded_for,
            "match_labels": list(veto.match_labels),
        }
        if why:
            shown = ", ".join(why[:_PEERS_SHOWN])
            if len(why) > _PEERS_SHOWN:
                shown += f" and {len(why) - _PEERS_SHOWN} more"
            said = f"also failing on {shown}, not upgraded: not the upgrade's"
        else:
            said = (
                f"not critical {durations.format_duration(veto.wait)} ago: waiting for peers "
                "not upgraded to show the same or not"
            )
        summary = f"{outcome.summary}; {said}, held as a warning (fleet veto)"
        return rules.Outcome(_WARNING, summary, evidence, pending=True)

    def why_held(self, target: ids.TargetId, rule_id: str, *, now: float) -> list[str] | None:
        """Why a critical ``rule_id`` on ``target`` is held at ``now``: the peers failing it
        (:meth:`failing_peers`), or an empty list while it was not critical ``wait`` ago too
        (judged at ``now - wait`` against the same reference: a time, not a memory of past
        judgements); None: not held. Nothing is held while ``target`` has no ``upgrade``
        mark in force, or its reference ends longer than ``reach`` ago (the windows may no
        longer hold it)."""
        fleet = self._fleet
        reference_at = fleet.reference(target, now)
        if reference_at is None:
            return None
        reference_end = fleet.reference_end(target, reference_at)
        ends = reference_at if reference_end is None else min(reference_end, reference_at)
        if now - ends > self.config.reach:
            return None
        reference = (reference_at, reference_end)
        peers = self.failing_peers(target, rule_id, now=now, reference=reference)
        if peers:
            return peers
        wait = self.config.wait
        if wait > 0:
            earlier = fleet.judge(rule_id, target, now=now - wait, reference=reference)
            if earlier.severity is not _CRITICAL:
                return []
        return None

    def failing_peers(
        self, target: ids.TargetId, rule_id: str, *, now: float, reference: Reference
    ) -> list[str]:
        """The peers of ``target`` on which ``rule_id`` breaches critically now, sorted.

        A peer: another target the rule applies to, with the same values of the veto's
        ``match_labels``, and no upgrade mark (started or ended) in the last
        ``not_upgraded_for``. It is judged at ``now`` against ``target``'s reference period
        (a peer never upgraded has none of its own), from what has been folded in: once every
        observation of an instant is in, the order they came in changes nothing (``replay``
        folds an instant whole before judging it; live, a peer's observation that arrives
        after the target was judged counts from the next judgement: ``wait`` leaves it
        time). ``reference``: the target's ``upgrade`` mark in force and reference end.
        """
        fleet = self._fleet
        model = fleet.target_model(target)
        keys = self.config.match_labels
        wanted = [model.labels.get(key) for key in keys]
        peers: list[str] = []
        for other in sorted(fleet.targets()):
            if other == target:
                continue
            if rule_id not in fleet.applying(other):
                continue
            if [fleet.target_model(other).labels.get(key) for key in keys] != wanted:
                continue
            if fleet.upgraded_since(other, now - self.config.not_upgraded_for, now):
                continue
            outcome = fleet.judge(rule_id, other, now=now, reference=reference)
            if outcome.severity is _CRITICAL:
                peers.append(str(other))
        return peers

    def peer_regression(
        self,
        rule: models.RegressionRule,
        peer: ids.TargetId,
        reference: Reference,
        *,
        now: float,
    ) -> rules.Outcome:
        """A regression rule against its own past on ``peer``, with another target's upgrade
        as the reference (:meth:`failing_peers`): its own sequential state per reference, so
        the peer's own watch is never folded again for it. :func:`sources_needed` refused
        the other kinds of regression."""
        key = (peer, rule.id, reference)
        state = self._peer_watches.get(key)
        if state is None:
            if len(self._peer_watches) >= _PEER_WATCHES:
                self._peer_watches.clear()  # a cache: a dropped watch is folded again
            state = self._peer_watches[key] = sequential.Watch()
        return sequential.judge_self(
            rule,
            self._fleet.window(peer, rule.probe),
            now=now,
            reference_at=reference[0],
            reference_end=reference[1],
            floor=self._fleet.floor(rule.probe),
            state=state,
        )


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
