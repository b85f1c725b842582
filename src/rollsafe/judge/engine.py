"""The judge's engine: observations and marks in, decisions out, with no I/O and no clock.

The same engine runs live (the daemon feeds it as probes report and asks for decisions with the
clock's ``now``), in ``rollsafe backtest`` over recordings (:func:`replay`), and in rollouts'
bake phases. It is deterministic: the same observations and marks, fed in any order, give the
same decisions for the same ``now``.

Simultaneous observations: the order in which observations with the same time are folded in
never changes a decision once they are all in (windows keep one order whatever the arrival
order), and threshold rules, whose ``consecutive`` and ``for`` are measured on the failing
checks themselves (see ``rules``), give the same outcome at every point in between too: a
threshold's outcome depends on its own source's values up to ``now`` and on nothing else.
:func:`replay` folds all observations of an instant before judging at it.

* ``observe`` folds an observation into the window of its ``(target, source)``; each window
  keeps the longest history any rule on that source needs (plus ``margin``), see ``windows``.
  An alert observation (``alert_state`` set) is also recorded on the alert board, where
  ``alert`` rules read which alerts fire now (see ``alerts``).
* ``mark`` records ``upgrade_started`` and ``upgrade`` marks. "Before the upgrade" (the
  reference period of baselines and regression rules) ends where the latest ``upgrade``
  mark's upgrade began (``_reference_end``); "after" is timed from the ``upgrade`` mark:
  lasting thresholds judge from it, and skip failing checks made between the two marks
  (``windows.Holds``); so do reboots a target logged as asked for (``policy.planned_reboots``,
  ``reboots``: from an orderly shutdown to the finished boot, at most a grace), and restarts
  of the service's own unit (``policy.planned_restarts``, ``restarts``: from the stop systemd
  logged to the start, at most a grace). A baseline
  with no ``upgrade`` mark in force has no data. Only the
  last few marks of each name per target are kept; other mark names are accepted and
  ignored. Register a mark before the period before it has slid out of the window (live,
  ``upgrade_started`` comes when the upgrade begins, ``upgrade`` when it has ended).
* ``evaluate`` returns, in configuration order, one decision per rule whose ``targets``
  selector picks the target (OK ones included), then one ``blind:<source>`` decision per
  source seen on the target, sorted by source. Composite children are evaluated once per call.
* The fleet veto (``policy.fleet_veto``, on by default: ``vetoes.Veto``, which reads the
  engine through a read-only view, ``_View``): a critical decision of a listed rule is held
  as a warning while the same rule is critical, now, on a peer not upgraded (judged against
  the target's reference period), and, at most ``wait``, while a peer is not known yet either
  way. It reads the peers as folded at ``now``: once an instant is all in, fold order changes
  nothing.
* ``policy.before_first_mark: hold`` (a fleet that marks every upgrade; ``marks``): a critical
  decision resting on checks from before the target's first mark (no upgrade to undo yet) is
  held as a warning, on both paths, until a check of the rule's sources after the mark.
* ``set_cohorts`` is how a rollout in progress says which targets are its canaries and which
  its baseline; ``cohort`` rules compare the two (see ``cohorts``). The assignment is state
  like the windows: the same assignment, observations and ``now`` give the same decisions.
* Speed (the daemon re-judges a target after every observation, a backtest replays a week):
  windows answer aggregates from running totals (see ``windows``), and the engine keeps each
  rule's last outcome per target with the inputs it came from (``rules.Memo``; composites and
  blindness by the identity of what they combine). An unchanged rule answers its previous
  outcome object, so outcomes and their evidence are shared and must be treated as read-only.
  :func:`replay` goes further, severity first (``Engine._decide``): a rule is decided again
  only when its source folded something in, time moved the ranges it reads (``rules.decide``
  says until when a severity holds) or an upgrade mark came, and a sentence and evidence are
  built (``Engine._dress``, the full path) only for the few severities that changed.
  Thresholds and baselines keep running state over their window there
  (``rules.ThresholdState``, ``rules.BaselineState``), and a regression rule against its own
  past is not asked again while its source only appended values after its last look. The
  decisions are those ``evaluate`` gives; a property test pins the two paths together.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from rollsafe.config import models
from rollsafe.domain import errors, ids, observations, verdicts
from rollsafe.judge import (
    alerts,
    blindness,
    bursts,
    changes,
    cohorts,
    composites,
    confirming,
    daily,
    marks,
    peers,
    reboots,
    restarts,
    rules,
    sequential,
    trend,
    vetoes,
    volume,
    windows,
)

__all__ = [
    "MAX_MARKS",
    "UPGRADE",
    "UPGRADE_HOLD_MAX",
    "UPGRADE_STARTED",
    "Engine",
    "replay",
    "worst",
]

_OK = verdicts.Severity.OK
_WARNING = verdicts.Severity.WARNING
_CRITICAL = verdicts.Severity.CRITICAL
_NO_WINDOWS: Mapping[str, windows.Window] = {}

_Judged = tuple[str, str, str, rules.Outcome]  # rule id, kind, version, outcome
_Decided = tuple[str, str, str, verdicts.Severity]  # rule id, kind, version, severity

_LEAVES = (
    models.ThresholdRule,
    models.RatioRule,
    models.RateRule,
    models.BaselineRule,
    models.TrendRule,
    models.CeilingRule,
)

UPGRADE = "upgrade"  # the mark name baseline rules take as "the upgrade happened here"
UPGRADE_STARTED = "upgrade_started"  # written before an upgrade begins (execute.upgrading)
# An upgrade that has not ended this long after it began stops hiding failing checks: a
# hung upgrade must not hide an outage (a dist-upgrade with a reboot takes minutes).
UPGRADE_HOLD_MAX = 3600.0
MAX_MARKS = 8  # upgrade marks remembered per target; each pins a reference period
_PEER_BURSTS = 256  # bursts rules judged on peers for the fleet veto, kept at most
_PeerKey = tuple[ids.TargetId, str, tuple[float, float | None]]  # peer, rule, reference


def worst(decisions: Iterable[verdicts.Decision]) -> verdicts.Decision | None:
    """The most severe decision, the first one listed among equals; None for no decisions."""
    found: verdicts.Decision | None = None
    for decision in decisions:
        if found is None or decision.severity > found.severity:
            found = decision
    return found


class Engine:
    """Per-target windows and the configured rules over them (see the module notes)."""

    def __init__(  # noqa: PLR0915 - one assignment per piece of the engine's state
        self,
        config: models.RollsafeConfig,
        *,
        margin: float = 60.0,
        max_samples: int = 100_000,
        error_memory: int = 50,
    ) -> None:
        _check_references(config.rules)
        self._config = config
        self._policy = config.policy
        self._rules = list(config.rules)
        self._by_id = {rule.id: rule for rule in config.rules}
        self._versions = {rule.id: rules.version(rule) for rule in config.rules}
        # Blindness warns from this many errors in a row on (``blindness.severity_of``).
        self._blind_at = math.inf if config.policy.no_data == "ok" else config.policy.blind_after
        self._blind_version = hashlib.sha256(
            f"{config.policy.blind_after}:{config.policy.no_data}".encode()
        ).hexdigest()[:12]
        self._targets = {target.id: target for target in config.targets}
        self._floors = {probe.name: probe.interval for probe in config.probes}
        self._margin = margin
        self._max_samples = max_samples
        self._error_memory = error_memory
        # What each source's window must remember: the longest history, the most values in
        # a row, and the longest baseline reference period any rule on it reads.
        self._history: dict[str, float] = {}
        self._keep: dict[str, int] = {}
        self._before: dict[str, float] = {}
        # The fields whose day-before profile a steady trend or a ceiling rule reads, per source.
        self._daily: dict[str, tuple[models.Field_, ...]] = {}
        for rule in self._rules:
            if isinstance(rule, composites.CompositeRule | models.AlertRule):
                continue  # alert rules read the alert board, not a window's history
            source = rule.probe
            if (isinstance(rule, models.TrendRule) and rule.steady) or isinstance(
                rule, models.CeilingRule
            ):
                known = self._daily.get(source, ())
                self._daily[source] = known + (() if rule.field in known else (rule.field,))
            self._history[source] = max(self._history.get(source, 0.0), rules.history_needed(rule))
            self._keep[source] = max(self._keep.get(source, 1), rules.values_needed(rule))
            if isinstance(
                rule,
                models.BaselineRule | models.TrendRule | models.BurstRule | models.CeilingRule,
            ) or (isinstance(rule, models.RegressionRule) and rule.against == "self"):
                self._before[source] = max(self._before.get(source, 0.0), rule.before)
            elif read := rules.reference_read(rule):  # a rate rule's ``unit_pace_before``
                self._before[source] = max(self._before.get(source, 0.0), read)
            if isinstance(rule, models.RegressionRule | models.BurstRule) and rule.volume:
                # Its request rate is read over the same span as its source (``volume``).
                rate = rule.volume.probe
                self._history[rate] = max(self._history.get(rate, 0.0), rules.history_needed(rule))
                self._before[rate] = max(self._before.get(rate, 0.0), rule.before)
        # The fleet veto (``vetoes.Veto``): the rules whose rollback a failing peer holds.
        # It reads the sources under them further back than the rules do (``history``):
        # the target judged ``wait`` ago, from its own history then; and, for a rule reading
        # a reference period, a peer not upgraded judged against the target's, which ends up
        # to ``reach`` ago (``reach`` plus the period). The window keeps the longer of the
        # two, not their sum: a peer's judgement at ``now`` reads the period and what came
        # after it, all within ``reach`` plus the period, whatever the rule's own history.
        self._veto = vetoes.Veto(config.policy.fleet_veto, self._by_id, fleet=_View(self))
        self._veto_rules = self._veto.rules
        # Regression rules whose slow tier another rule must confirm (``confirming``).
        self._confirms = {
            rule.id: confirm
            for rule in self._rules
            if (confirm := confirming.confirm_of(rule)) is not None
        }
        # Targets with a rule held by the veto when last judged (either path): judged again
        # when another target reports (``held_targets``), since a peer's news can release it.
        self._holding: set[ids.TargetId] = set()
        self._keep_veto_history(config.policy.fleet_veto.wait)
        self._windows: dict[ids.TargetId, dict[str, windows.Window]] = {}
        self._alerts = alerts.Board()
        self._marks: dict[ids.TargetId, list[float]] = {}
        self._starts: dict[ids.TargetId, list[float]] = {}  # upgrade_started marks
        self._holds: dict[ids.TargetId, windows.Holds] = {}  # upgrades in progress, by time
        # Reboots the targets logged as asked for (``policy.planned_reboots``, ``reboots``).
        self._planned = reboots.Plan.of(config.policy.planned_reboots, self._floors)
        self._reboot_sources = self._planned.sources
        self._reboots: dict[ids.TargetId, reboots.Seen] = {}
        # Restarts of the service's own unit asked for (``policy.planned_restarts``).
        self._restarts = restarts.Book(config.policy.planned_restarts, self._floors)
        # Critical decisions held on evidence from before a target's first mark
        # (``policy.before_first_mark: hold``, ``marks``), and the probes each rule reads.
        self._before_first_mark = marks.holds(config.policy)
        self._probes_read = marks.probes_read(self._by_id)
        self._slowest = max(self._floors.values(), default=0.0)
        self._target_models: dict[ids.TargetId, models.Target] = {}
        self._cohorts: dict[ids.TargetId, str] = {}
        # Caches of what cannot change for a target: which rules select it (targets' models
        # are fixed), and each rule's last outcome with what it was computed from (see
        # ``rules.Memo``): re-judging after every observation mostly finds them unchanged.
        self._applies: dict[ids.TargetId, frozenset[str]] = {}
        self._memos: dict[ids.TargetId, dict[str, rules.Memo]] = {}
        # Each regression rule's sequential test per target: folded buckets and the wealth
        # they left (``sequential.Watch``), so a re-judgement reads only new buckets.
        self._watches: dict[tuple[ids.TargetId, str], sequential.Watch] = {}
        # Each regression rule against peers per target: its comparison (``peers.Watch``),
        # and the peers it reads, kept with the number of targets known when listed.
        self._peer_watches: dict[tuple[ids.TargetId, str], peers.Watch] = {}
        self._peer_lists: dict[tuple[ids.TargetId, str], tuple[int, list[ids.TargetId]]] = {}
        self._no_peers: dict[tuple[ids.TargetId, str], tuple[int, rules.Outcome]] = {}
        # Each bursts rule's counts per target (``bursts.State``), and per peer and reference
        # for the fleet veto (a cache: cleared when it grows, a dropped one is folded again).
        self._bursts: dict[tuple[ids.TargetId, str], bursts.State] = {}
        self._peer_bursts: dict[_PeerKey, bursts.State] = {}
        self._blind: dict[tuple[ids.TargetId, str], tuple[windows.Streak, rules.Outcome]] = {}
        self._combined: dict[
            ids.TargetId, dict[str, tuple[tuple[rules.Outcome, ...], rules.Outcome]]
        ] = {}
        # Severity first (``replay``): per target, what each rule and blindness decided and
        # until when a leaf's holds (see ``_Settled``); marks counted per target to notice one.
        self._settled: dict[ids.TargetId, _Settled] = {}
        self._mark_count: dict[ids.TargetId, int] = {}

    def _keep_veto_history(self, wait: float) -> None:
        """Lengthen the windows of the sources the fleet veto reads further back than their
        rules (``vetoes.Veto.history``): ``back`` is ``wait`` for a source whose rules read
        no reference period (then the rule's history plus ``wait``), else ``reach`` plus the
        longest period; the window keeps the longer of the two, not their sum."""
        for source, back in self._veto.history.items():
            self._history[source] = max(self._history.get(source, 0.0) + wait, back)

    # ------------------------------------------------------------------ folding in

    def observe(self, obs: observations.Observation) -> None:
        """Fold ``obs`` into its ``(target, source)`` window, at its place in time."""
        per_target = self._windows.get(obs.target)
        if per_target is None:
            per_target = self._windows[obs.target] = {}
        window = per_target.get(obs.source)
        if window is None:
            window = self._new_window(obs.target, obs.source)
            per_target[obs.source] = window
        window.insert(obs)
        if obs.alert_state is not None:  # the board ignores anything else
            self._alerts.fold(obs)
        if obs.source in self._reboot_sources:
            self._saw_reboot(obs)
        if obs.source in self._restarts.sources and self._restarts.fold(obs):
            # A restart's hold changed: the target's holds again, every rule decided again.
            self._mark_count[obs.target] = self._mark_count.get(obs.target, 0) + 1
            self._hold(obs.target)

    def _saw_reboot(self, obs: observations.Observation) -> None:
        """Fold a shutdown or boot count into its target's reboots; when the reboots' holds
        change, they are the target's holds again and every rule is decided again (as after
        a mark: ``_unsettle``)."""
        seen = self._reboots.setdefault(obs.target, reboots.Seen())
        if seen.fold(self._planned, obs):
            self._mark_count[obs.target] = self._mark_count.get(obs.target, 0) + 1
            self._hold(obs.target)

    def mark(self, mark: observations.Mark) -> None:
        """Record a mark; ``upgrade`` marks become the reference time of baseline rules.

        ``upgrade_started`` and ``upgrade`` also bound when the target was being upgraded:
        failing checks made in between are the upgrade's own restarts and reboots, and
        duration rules do not count them (``windows.Holds``, ``rules.threshold``).
        """
        if mark.name == UPGRADE_STARTED:
            kept = self._starts.setdefault(mark.target, [])
        elif mark.name == UPGRADE:
            kept = self._marks.setdefault(mark.target, [])
        else:
            return
        if mark.time in kept:
            return
        self._mark_count[mark.target] = self._mark_count.get(mark.target, 0) + 1
        bisect.insort(kept, mark.time)
        self._hold(mark.target)
        per_target = self._windows.get(mark.target, {})
        while len(kept) > MAX_MARKS:
            dropped = kept.pop(0)
            if not self._pinned_at(mark.target, dropped):
                for window in per_target.values():
                    window.unpin(dropped)
        if mark.time not in kept:
            return  # older than every remembered mark: it can never be the latest one
        # Both marks pin the period before them: an upgrade's reference ends where it began
        # (``_reference_end``), and the trend reads the period before the ``upgrade`` mark.
        for source, window in per_target.items():
            before = self._before.get(source, 0.0)
            if before > 0:
                window.pin(mark.time, start=mark.time - before)

    def _pinned_at(self, target: ids.TargetId, at: float) -> bool:
        """True when a remembered mark of either kind is at ``at`` (its pin is still read)."""
        return at in self._marks.get(target, ()) or at in self._starts.get(target, ())

    def _reference_end(self, target: ids.TargetId, upgrade_at: float | None) -> float | None:
        """Where "before the upgrade" ends for the ``upgrade`` mark at ``upgrade_at``: where
        that upgrade began, when an ``upgrade_started`` mark says so, else the mark itself.

        The start counted is the earliest one whose hold that mark ended (``_hold``): after
        the previous ``upgrade`` mark, at most ``UPGRADE_HOLD_MAX`` before this one. So the
        upgrade's own restarts and reboots, between the marks, are never "before" it.
        """
        if upgrade_at is None:
            return None
        starts = self._starts.get(target)
        if not starts:
            return upgrade_at
        ends = self._marks.get(target, [])
        index = bisect.bisect_left(ends, upgrade_at)
        previous = ends[index - 1] if index else -math.inf
        # A start at the previous mark's very time is held by that one (an empty hold).
        first = bisect.bisect_right(starts, previous)
        first = max(first, bisect.bisect_left(starts, upgrade_at - UPGRADE_HOLD_MAX))
        if first < len(starts) and starts[first] <= upgrade_at:
            return starts[first]
        return upgrade_at

    def _hold(self, target: ids.TargetId) -> None:
        """Recompute ``target``'s upgrades for lasting rules (``windows.Holds``): when it was
        being upgraded, from each start to the first end at or after it, at most
        ``UPGRADE_HOLD_MAX``, and when it went through a planned reboot (``reboots``); and its
        ``upgrade`` marks, from which they judge."""
        starts = self._starts.get(target, [])
        ends = self._marks.get(target, [])
        intervals = []
        for start in starts:
            index = bisect.bisect_left(ends, start)
            end = ends[index] if index < len(ends) else math.inf
            intervals.append((start, min(end, start + UPGRADE_HOLD_MAX)))
        seen = self._reboots.get(target)
        if seen is not None:  # reboots it logged as asked for hold the same rules
            intervals.extend(seen.holds(self._planned))
        intervals.extend(self._restarts.holds(target))  # and restarts of its service
        self._holds.setdefault(target, windows.Holds()).set(intervals, ends)

    def set_cohorts(self, assignment: Mapping[str, str]) -> None:
        """Replace the cohort assignment: target -> ``canary`` | ``baseline`` (empty: none)."""
        unknown = sorted({c for c in assignment.values() if c not in cohorts.COHORTS})
        if unknown:
            raise ValueError(f"unknown cohort {unknown[0]!r} (expected canary or baseline)")
        self._cohorts = {ids.TargetId(t): c for t, c in assignment.items()}

    def cohort_assignment(self) -> dict[ids.TargetId, str]:
        """The cohort assignment in force (a copy)."""
        return dict(self._cohorts)

    def _new_window(self, target: ids.TargetId, source: str) -> windows.Window:
        window = windows.Window(
            span=self._history.get(source, 0.0) + self._margin,
            keep=self._keep.get(source, 1),
            error_memory=self._error_memory,
            max_samples=self._max_samples,
        )
        window.holds = self._holds.setdefault(target, windows.Holds())
        window.profiles = tuple(daily.Profile(field) for field in self._daily.get(source, ()))
        before = self._before.get(source, 0.0)
        if before > 0:
            for at in (*self._marks.get(target, ()), *self._starts.get(target, ())):
                window.pin(at, start=at - before)
        return window

    # ------------------------------------------------------------------ reading out

    def horizon(self) -> float:
        """Seconds of history the rules can read: how far back a restart must refill windows.

        Plus ``UPGRADE_HOLD_MAX``: a reference period ends at its upgrade's start mark
        (``_reference_end``), up to that long before the ``upgrade`` mark the rules judge
        from, and a hold begins there too; both must come back after a restart."""
        spans = [self._history.get(s, 0.0) + self._before.get(s, 0.0) for s in self._history]
        return max(spans, default=0.0) + UPGRADE_HOLD_MAX + self._margin

    def before_marks(self) -> float:
        """Seconds before an upgrade mark the rules read (the longest reference period a mark
        pins, ``before``; 0 for none): what a restart reloads before a mark older than
        :meth:`horizon` (``runtime.recall``)."""
        return max(self._before.values(), default=0.0)

    def window(self, target: str, source: str) -> windows.Window | None:
        """The window of ``(target, source)``, None when that source never spoke there."""
        return self._windows.get(ids.TargetId(target), {}).get(source)

    def targets(self) -> list[ids.TargetId]:
        """Configured targets in configuration order, then other observed targets, sorted."""
        configured = [ids.TargetId(target.id) for target in self._config.targets]
        extra = sorted(t for t in self._windows if t not in self._targets)
        return configured + extra

    def evaluate(self, target: str, *, now: float) -> list[verdicts.Decision]:
        """Every applicable rule's decision for ``target`` at ``now``, then blindness ones."""
        target_id = ids.TargetId(target)
        return [
            self._decision(
                target_id, rule_id=rule_id, kind=kind, version=version, now=now, outcome=outcome
            )
            for rule_id, kind, version, outcome in self._judge(target_id, now=now)
        ]

    def _judge(self, target: ids.TargetId, *, now: float) -> list[_Judged]:
        """What :meth:`evaluate` decides, before it is dressed as decisions (``replay`` only
        dresses the few that changed)."""
        model = self._target_model(target)
        applies = self._applying(target, model)
        memo: dict[str, rules.Outcome] = {}
        active: set[str] = set()  # empty again after every top-level rule
        judged: list[_Judged] = []
        holding = False
        for rule in self._rules:
            if rule.id not in applies:
                continue
            outcome = self._outcome(rule.id, target, model, now=now, memo=memo, active=active)
            confirm = self._confirms.get(rule.id)
            if confirm is not None:  # composites above it saw its own outcome, as below
                outcome = self._confirmed(outcome, confirm, target, model, now=now, memo=memo)
            if rule.id in self._veto_rules:  # composites above it saw its own outcome
                own = outcome
                outcome = self._veto.held(target, rule.id, outcome, now=now)
                holding = holding or outcome is not own
            if outcome.severity is _CRITICAL and self._unmarked(target, rule.id, now):
                outcome = marks.held(outcome)
            judged.append((rule.id, rule.kind, self._versions[rule.id], outcome))
        self._note_holding(target, holding=holding)
        for source, window in sorted(self._windows.get(target, {}).items()):
            outcome = self._blindness(target, source, window.streak())
            judged.append((blindness.rule_id(source), "blind", self._blind_version, outcome))
        return judged

    def _unmarked(self, target: ids.TargetId, rule_id: str, now: float) -> bool:
        """True when a critical ``rule_id`` on ``target`` at ``now`` is held: it rests on
        evidence from before the target's first mark (``policy.before_first_mark: hold``)."""
        if not self._before_first_mark:
            return False
        first = marks.first_mark(self._marks.get(target, ()), self._starts.get(target, ()))
        if now >= first + self._slowest:  # every source had an interval since: never held
            return False
        per_target = self._windows.get(target, _NO_WINDOWS)
        read = [(per_target.get(p), self._floors.get(p, 0.0)) for p in self._probes_read[rule_id]]
        return marks.unmarked(first, read, now=now)

    def _confirmed(
        self,
        outcome: rules.Outcome,
        confirm: str,
        target: ids.TargetId,
        model: models.Target,
        *,
        now: float,
        memo: dict[str, rules.Outcome],
    ) -> rules.Outcome:
        """``outcome`` of a rule whose slow tier ``confirm`` must confirm, as a warning when
        it does not (``confirming``)."""
        if outcome.severity is not _CRITICAL or not confirming.slow_only(outcome.evidence):
            return outcome
        witness = self._outcome(confirm, target, model, now=now, memo=memo, active=set())
        weaker = confirming.unconfirmed(outcome, confirm, witness)
        return outcome if weaker is None else weaker

    def _decide_unconfirmed(
        self, target: ids.TargetId, settled: _Settled, moved: list[str], *, now: float
    ) -> None:
        """Which critical rules only warn now for want of their confirmation
        (``settled.unconfirmed``; ``_confirmed``), as ``_decide_unmarked`` does."""
        severity = settled.severity
        waiting = settled.unconfirmed
        for rule_id in settled.confirming:
            now_waiting = False
            if severity.get(rule_id) is _CRITICAL:
                model = self._target_model(target)
                memo: dict[str, rules.Outcome] = {}
                own = self._outcome(rule_id, target, model, now=now, memo=memo, active=set())
                confirm = self._confirms[rule_id]
                now_waiting = (
                    self._confirmed(own, confirm, target, model, now=now, memo=memo) is not own
                )
            _flip(waiting, rule_id, now_waiting, moved)

    def _decide_unmarked(
        self, target: ids.TargetId, settled: _Settled, moved: list[str], *, now: float
    ) -> None:
        """Which critical rules are held on evidence from before the first mark now
        (``settled.unmarked``; ``_unmarked``), as ``_decide_held`` does for the veto."""
        severity = settled.severity
        held = settled.unmarked
        if not held:
            first = marks.first_mark(self._marks.get(target, ()), self._starts.get(target, ()))
            if now >= first + self._slowest or not settled.critical:
                return  # past the first mark's checks, or nothing critical: nothing to hold
        for rule_id, decided in severity.items():
            now_held = decided is _CRITICAL and self._unmarked(target, rule_id, now)
            _flip(held, rule_id, now_held, moved)

    def _note_holding(self, target: ids.TargetId, *, holding: bool) -> None:
        """Whether the veto held a rule of ``target`` when it was judged (``held_targets``)."""
        if holding:
            self._holding.add(target)
        else:
            self._holding.discard(target)

    def _unsettle(self, target: ids.TargetId, settled: _Settled, *, now: float, marks: int) -> None:
        """An upgrade mark came or came into force, or time went back: decide all again."""
        times = self._marks.get(target, [])
        index = bisect.bisect_right(times, now)
        settled.reference = times[index - 1] if index else None
        settled.reference_end = self._reference_end(target, settled.reference)
        # An upgrade's start comes into force too (failing checks after it do not count).
        coming = [t for t in (*times, *self._starts.get(target, ())) if t > now]
        settled.next_mark = min(coming, default=math.inf)
        settled.marks = marks
        for leaf in settled.leaves:
            leaf.until = -math.inf
        for watch in settled.watches:
            watch.until = -math.inf
        settled.soonest = settled.watch_soonest = -math.inf

    def _decide(
        self, target: ids.TargetId, *, now: float, folded: str | None = None
    ) -> list[_Decided]:
        """What :meth:`_judge` decides, as severities only and only where one differs from
        the last this method returned for the target (an unseen rule counts as OK before).

        A leaf rule is decided again only when its source folded something in since, an
        upgrade mark came or came into force, or time reached the point where its ranges
        hold other values (``rules.decide``); otherwise its last severity stands. Thresholds
        and baselines keep running state over their window (``rules.ThresholdState``,
        ``rules.BaselineState``). Blindness changes only with its source's window, composites
        only with their children, a regression rule against its own past with its source and
        time (``steady_until``); cohort and alert rules answer from their own state as in
        ``_judge``. :meth:`_dress` builds the full outcome of the few that are output.
        ``replay`` only; ``folded``: the one source folded in on ``target`` since it was last
        decided, when the caller knows it (else every window's fold count is compared).
        """
        settled = self._settled.get(target)
        if settled is None:
            settled = self._settled[target] = self._settle(target)
        marks = self._mark_count.get(target, 0)
        if not (settled.now <= now < settled.next_mark and settled.marks == marks):
            self._unsettle(target, settled, now=now, marks=marks)
        settled.now = now
        per_target = self._windows.get(target, _NO_WINDOWS)
        seen = settled.changes
        if folded is None:
            changed = [s for s, w in per_target.items() if seen.get(s) != w.changes]
        else:
            changed = [folded]
        if changed or now >= settled.soonest:
            moved = self._decide_leaves(settled, per_target, changed, now=now)
        else:
            moved = []
        if settled.watches and (changed or now >= settled.watch_soonest):
            self._decide_watches(target, settled, per_target, changed, moved, now=now)
        severity = settled.severity
        for other in settled.others:
            decided = self._stateful(other, target, now=now).severity
            if severity.get(other.id) is not decided:
                severity[other.id] = decided
                moved.append(other.id)
        if moved or settled.fresh:
            settled.fresh = False
            memo: dict[str, verdicts.Severity] = {}
            for composite in settled.composites:
                decided = self._composite_severity(composite.id, settled, memo)
                if severity.get(composite.id) is not decided:
                    severity[composite.id] = decided
                    moved.append(composite.id)
            # A severity can only have changed among ``moved``: look again (read below).
            settled.critical = _CRITICAL in severity.values()
        # Nothing critical and nothing waiting: none waits now (no look at all).
        if settled.confirming and (settled.critical or settled.unconfirmed):
            self._decide_unconfirmed(target, settled, moved, now=now)
        if settled.vetoable:
            self._decide_held(target, settled, moved, now=now)
        if self._before_first_mark:
            self._decide_unmarked(target, settled, moved, now=now)
        blinded: list[str] = []
        if changed:
            blind = settled.blind
            blind_at = self._blind_at
            for source in changed:
                window = per_target[source]
                seen[source] = window.changes
                decided = _WARNING if window.errors >= blind_at else _OK
                if blind.get(source) is not decided:
                    blind[source] = decided
                    blinded.append(source)
        if not (moved or blinded):
            return []
        return self._news(settled, set(moved), set(blinded))

    def _decide_held(
        self, target: ids.TargetId, settled: _Settled, moved: list[str], *, now: float
    ) -> None:
        """Which of the rules the fleet veto may hold it holds now (``settled.held``)."""
        severity = settled.severity
        if not settled.held and not settled.critical:  # ``critical``: as ``_decide`` left it
            # Nothing critical, nothing held: nothing to hold or release (the usual case,
            # no look at all while no severity moved).
            self._holding.discard(target)
            return
        for rule_id in settled.vetoable:
            # A peer's recovery changes the answer without this target folding anything:
            # asked again on every call while the rule's own severity is critical.
            held = (
                severity.get(rule_id) is _CRITICAL
                and rule_id not in settled.unconfirmed  # a warning: nothing to hold
                and self._veto.why_held(target, rule_id, now=now) is not None
            )
            if held is not (rule_id in settled.held):
                if held:
                    settled.held.add(rule_id)
                else:
                    settled.held.discard(rule_id)
                moved.append(rule_id)
        self._note_holding(target, holding=bool(settled.held))

    def _decide_watches(
        self,
        target: ids.TargetId,
        settled: _Settled,
        per_target: Mapping[str, windows.Window],
        changed: list[str],
        moved: list[str],
        *,
        now: float,
    ) -> None:
        """Decide again the regression rules against their own past and the bursts rules
        that may have changed."""
        severity = settled.severity
        if now >= settled.watch_soonest:
            watches: Sequence[_Watch] = settled.watches  # some watch's time came: look at every one
            soonest = math.inf
        else:
            # Only the watches of the sources folded into can have moved; the others keep
            # their ``until`` and the earliest stays a bound (as in ``_decide_leaves``).
            by_source = settled.watches_by_source
            if len(changed) == 1:  # as in ``_decide_leaves``
                watches = by_source.get(changed[0], ())
            else:
                watches = [watch for s in changed for watch in by_source.get(s, ())]
            if not watches:
                return
            soonest = settled.watch_soonest
        for watch in watches:
            # Against its own past, a regression rule reads only its source and time; so
            # does a bursts rule (``bursts.steady_until``).
            until = watch.until
            if now < until and (
                watch.probe not in changed or _after(per_target.get(watch.probe), watch)
            ):
                if until < soonest:  # noqa: PLR1730 (a comparison, not a call: the hot path)
                    soonest = until
                continue
            rule = watch.rule
            window = per_target.get(watch.probe)
            floor = self._floors.get(watch.probe)
            if isinstance(rule, models.BurstRule):
                decided = self._bursts_outcome(rule, target, now=now).severity
                watch.until = bursts.steady_until(
                    rule, window, now=now, reference_at=settled.reference, floor=floor
                )
            else:
                decided = self._regression_outcome(rule, target, now=now).severity
                watch.until = sequential.steady_until(
                    rule, window, now=now, reference_at=settled.reference, floor=floor
                )
            watch.saw(window, now)
            if watch.until < soonest:  # noqa: PLR1730 (as above)
                soonest = watch.until
            if severity.get(watch.id) is not decided:
                severity[watch.id] = decided
                moved.append(watch.id)
        settled.watch_soonest = soonest

    def _decide_leaves(
        self,
        settled: _Settled,
        per_target: Mapping[str, windows.Window],
        changed: list[str],
        *,
        now: float,
    ) -> list[str]:
        """Decide again the leaf rules whose severity may have changed; the ids that did."""
        severity = settled.severity
        moved: list[str] = []
        full = now >= settled.soonest
        if full:
            leaves: Sequence[_Leaf] = settled.leaves  # some range moved with time: look at all
            soonest = math.inf
        else:
            by_source = settled.by_source
            if len(changed) == 1:  # the usual call: one source folded in, its leaves as kept
                leaves = by_source.get(changed[0], ())
            else:
                leaves = [leaf for s in changed for leaf in by_source.get(s, ())]
            # The leaves not looked at keep their ``until``: the earliest stays a bound (early
            # at worst, when the leaf that had it is decided again: a look, never a miss).
            soonest = settled.soonest
        reference = settled.reference
        reference_end = settled.reference_end
        for leaf in leaves:
            until = leaf.until
            # A leaf whose answer read only the marks (``unread``) holds whatever is folded.
            if now < until and (leaf.unread or leaf.probe not in changed):
                if until < soonest:  # noqa: PLR1730 (a comparison, not a call: the hot path)
                    soonest = until
                continue
            rule = leaf.rule
            how = leaf.how
            if how == _TREND:
                # ``rules.decide`` of a trend rule (``rules._decide_trend``), called directly
                # for whether the answer read the window's values (``trend.decide_reading``).
                memo = leaf.memo
                cache = None
                if memo is not None:
                    cache = memo.trend = memo.trend or trend.Cache()
                decided, until, reads = trend.decide_reading(
                    cast("models.TrendRule", rule),  # ``how``: a trend rule's leaf
                    per_target.get(leaf.probe),
                    now=now,
                    reference_at=reference,
                    cache=cache,
                )
                leaf.unread = not reads
            else:
                if how == _UNHELD and (window := per_target.get(leaf.probe)) is not None:
                    how = leaf.hold(self._running(rule, window), window)
                if how == _BASELINE:
                    decided, until = leaf.baseline(now, reference, reference_end)
                elif how == _THRESHOLD:
                    # OK until the next fold, as ``state.decide`` would say, far cheaper.
                    decided, until = (_OK, math.inf) if leaf.quiet(now) else leaf.threshold(now)
                else:
                    decided, until = rules.decide(
                        rule,
                        per_target.get(leaf.probe),
                        now=now,
                        reference_at=reference if leaf.reads_reference else None,
                        reference_end=reference_end if leaf.reads_reference else None,
                        rate_floor=self._floors.get(leaf.probe),
                        memo=leaf.memo,
                    )
            leaf.until = until
            if until < soonest:  # noqa: PLR1730 (as above)
                soonest = until
            if severity.get(leaf.id) is not decided:
                severity[leaf.id] = decided
                moved.append(leaf.id)
        settled.soonest = soonest
        return moved

    def _running(
        self, rule: rules.LeafRule, window: windows.Window
    ) -> rules.ThresholdState | rules.BaselineState | bool:
        """The running state a leaf keeps over its window; False: decided by ``rules.decide``."""
        if isinstance(rule, models.ThresholdRule):
            return rules.ThresholdState(rule, window)
        if isinstance(rule, models.BaselineRule):
            return rules.BaselineState(rule, window, floor=self._floors.get(rule.probe))
        return False

    def _news(self, settled: _Settled, moved: set[str], blinded: set[str]) -> list[_Decided]:
        """The decisions among ``moved`` rules and ``blinded`` sources whose severity differs
        from the last one returned, in :meth:`_judge`'s order."""
        said = settled.said
        severity = settled.severity
        blind = settled.blind
        ok = verdicts.Severity.OK
        out: list[_Decided] = []
        held = settled.held
        unmarked = settled.unmarked
        unconfirmed = settled.unconfirmed
        for rule_id, kind, version in settled.entries:
            if rule_id not in moved:
                continue
            now_said = (
                _WARNING
                if rule_id in held or rule_id in unmarked or rule_id in unconfirmed
                else severity[rule_id]
            )
            if said.get(rule_id, ok) is not now_said:
                said[rule_id] = now_said
                out.append((rule_id, kind, version, now_said))
        for source in sorted(blind):
            blind_id = blindness.rule_id(source)
            if source in blinded and said.get(blind_id, ok) is not blind[source]:
                said[blind_id] = blind[source]
                out.append((blind_id, "blind", self._blind_version, blind[source]))
        return out

    def _settle(self, target: ids.TargetId) -> _Settled:
        """A fresh :class:`_Settled`: which rules apply to ``target``, sorted by how they are
        decided (rules that do not apply are OK, as in ``_outcome``)."""
        applies = self._applying(target, self._target_model(target))
        settled = _Settled(applies)
        for rule in self._rules:
            if rule.id not in applies:
                continue
            settled.entries.append((rule.id, rule.kind, self._versions[rule.id]))
            if rule.id in self._veto_rules:
                settled.vetoable.append(rule.id)
            if rule.id in self._confirms:
                settled.confirming.append(rule.id)
            if isinstance(rule, _LEAVES):
                memo = self._memo(target, rule.id) if isinstance(rule, models.TrendRule) else None
                leaf = _Leaf(rule, memo)
                settled.leaves.append(leaf)
                settled.by_source.setdefault(rule.probe, []).append(leaf)
            elif isinstance(rule, composites.CompositeRule):
                settled.composites.append(rule)
            elif (isinstance(rule, models.RegressionRule) and rule.against == "self") or isinstance(
                rule, models.BurstRule
            ):
                watch = _Watch(rule)
                settled.watches.append(watch)
                settled.watches_by_source.setdefault(rule.probe, []).append(watch)
            else:
                settled.others.append(rule)
        return settled

    def _composite_severity(
        self, rule_id: str, settled: _Settled, memo: dict[str, verdicts.Severity]
    ) -> verdicts.Severity:
        rule = self._by_id[rule_id]
        if rule_id not in settled.applying:
            return verdicts.Severity.OK  # as in ``_outcome``, whatever its kind
        if not isinstance(rule, composites.CompositeRule):
            return settled.severity[rule_id]  # decided before the composites
        done = memo.get(rule_id)
        if done is None:
            # ``_check_references`` ruled out cycles when the engine was built.
            children = [self._composite_severity(c, settled, memo) for c in rule.rules]
            done = memo[rule_id] = composites.severity_of(rule, children)
        return done

    def _stateful(
        self, rule: models.RuleBase, target: ids.TargetId, *, now: float
    ) -> rules.Outcome:
        """The outcome of a rule that keeps its own state (regression, cohort, alert)."""
        if isinstance(rule, models.RegressionRule):
            return self._regression_outcome(rule, target, now=now)
        if isinstance(rule, models.BurstRule):
            return self._bursts_outcome(rule, target, now=now)
        if isinstance(rule, models.CohortRule):
            return self._cohort_outcome(rule, target, now=now)
        if isinstance(rule, models.AlertRule):
            return self._alerts.evaluate(rule, target, now=now)
        model = self._target_model(target)  # any other kind: as ``_judge`` does
        return self._outcome(rule.id, target, model, now=now, memo={}, active=set())

    def _dress(self, target: ids.TargetId, rule_id: str, kind: str, *, now: float) -> rules.Outcome:
        """The full outcome of one rule that :meth:`_decide` judged at ``now`` (same ``now``,
        nothing folded in between): what :meth:`_judge` gives for it."""
        if kind == "blind":
            source = rule_id[len(blindness.PREFIX) :]
            return self._blindness(target, source, self._windows[target][source].streak())
        model = self._target_model(target)
        memo: dict[str, rules.Outcome] = {}
        outcome = self._outcome(rule_id, target, model, now=now, memo=memo, active=set())
        confirm = self._confirms.get(rule_id)
        if confirm is not None:
            outcome = self._confirmed(outcome, confirm, target, model, now=now, memo=memo)
        if rule_id in self._veto_rules:
            outcome = self._veto.held(target, rule_id, outcome, now=now)
        if outcome.severity is _CRITICAL and self._unmarked(target, rule_id, now):
            outcome = marks.held(outcome)
        return outcome

    def held_targets(self) -> list[ids.TargetId]:
        """The targets with a rule the fleet veto held when they were last judged, sorted.

        A hold rests on the peers as much as on the target: a peer's next check can release
        it (seen well: the rollback goes) or confirm it, and the target's own next check
        may be a whole interval later. So whoever feeds the engine judges these targets
        again when another target reports (``replay`` does, once the instant is all in; the
        daemon after each observation): the release comes at the peer's check. A judgement
        at ``now`` reads only what is folded, so this changes when a decision is seen, never
        what it is for a given ``now``."""
        return sorted(self._holding)

    def evaluate_all(self, *, now: float) -> list[verdicts.Decision]:
        """``evaluate`` for every target (see :meth:`targets` for the order)."""
        decisions: list[verdicts.Decision] = []
        for target in self.targets():
            decisions.extend(self.evaluate(target, now=now))
        return decisions

    @staticmethod
    def worst(decisions: Iterable[verdicts.Decision]) -> verdicts.Decision | None:
        """The most severe decision (see the module function :func:`worst`)."""
        return worst(decisions)

    # ------------------------------------------------------------------ internals

    def _target_model(self, target: ids.TargetId) -> models.Target:
        known = self._targets.get(target)
        if known is not None:
            return known
        cached = self._target_models.get(target)
        if cached is None:
            # A target seen only in observations (a recording, an alert): no labels, and built
            # without validation because its id comes from data, not from the config file.
            cached = models.Target.model_construct(id=target)
            self._target_models[target] = cached
        return cached

    def _applying(self, target: ids.TargetId, model: models.Target) -> frozenset[str]:
        """Ids of the rules whose ``targets`` selector picks ``target`` (computed once)."""
        found = self._applies.get(target)
        if found is None:
            found = frozenset(r.id for r in self._rules if models.selects(r.targets, model))
            self._applies[target] = found
        return found

    def _reference(self, target: ids.TargetId, now: float) -> float | None:
        times = self._marks.get(target)
        if not times:
            return None
        index = bisect.bisect_right(times, now)
        return times[index - 1] if index else None

    def _outcome(
        self,
        rule_id: str,
        target: ids.TargetId,
        model: models.Target,
        *,
        now: float,
        memo: dict[str, rules.Outcome],
        active: set[str],
        reference: tuple[float, float | None] | None = None,
    ) -> rules.Outcome:
        """``rule_id``'s outcome on ``target``; ``reference``: judge baselines and trends
        against this ``upgrade`` mark and reference end instead of the target's own (a peer
        judged for the fleet veto: no memo is read or kept then)."""
        done = memo.get(rule_id)
        if done is not None:
            return done
        if rule_id in active:
            raise errors.ConfigError(f"rule {rule_id!r} refers to itself through composites")
        rule = self._by_id[rule_id]
        if rule_id not in self._applying(target, model):
            outcome = rules.Outcome(
                verdicts.Severity.OK,
                f"{rule_id} does not apply to {target}",
                {"applies": False, "no_data": True},
            )
        elif isinstance(rule, _LEAVES):  # the common case first
            # Only baselines, trends and rates per unit pace read the reference time: skip the
            # search for others.
            reference_at = reference_end = None
            if rules.reads_reference(rule):
                if reference is None:
                    reference_at = self._reference(target, now)
                    reference_end = self._reference_end(target, reference_at)
                else:
                    reference_at, reference_end = reference
            outcome = rules.evaluate_leaf(
                rule,
                self._windows.get(target, {}).get(rule.probe),
                now=now,
                reference_at=reference_at,
                reference_end=reference_end,
                rate_floor=self._floors.get(rule.probe),
                memo=self._memo(target, rule_id) if reference is None else None,
            )
        elif isinstance(rule, composites.CompositeRule):
            active.add(rule_id)
            children = [
                (
                    child,
                    self._outcome(
                        child,
                        target,
                        model,
                        now=now,
                        memo=memo,
                        active=active,
                        reference=reference,
                    ),
                )
                for child in rule.rules
            ]
            active.discard(rule_id)
            if reference is None:
                outcome = self._combine(rule, target, children)
            else:
                outcome = composites.combine(rule, children)
        elif isinstance(rule, models.RegressionRule):
            if reference is None:
                outcome = self._regression_outcome(rule, target, now=now)
            else:
                outcome = self._veto.peer_regression(rule, target, reference, now=now)
        elif isinstance(rule, models.BurstRule):
            outcome = self._bursts_outcome(rule, target, now=now, reference=reference)
        elif isinstance(rule, models.CohortRule):
            outcome = self._cohort_outcome(rule, target, now=now)
        else:
            # The board answers from the rule's running tally: no scan of every alert.
            outcome = self._alerts.evaluate(rule, target, now=now)
        memo[rule_id] = outcome
        return outcome

    def _upgraded_since(self, target: ids.TargetId, start: float, now: float) -> bool:
        """True when ``target`` has an upgrade mark (started or ended) in ``(start, now]``."""
        for kept in (self._marks.get(target, ()), self._starts.get(target, ())):
            index = bisect.bisect_right(kept, start)
            if index < len(kept) and kept[index] <= now:
                return True
        return False

    def _blindness(
        self, target: ids.TargetId, source: str, streak: windows.Streak
    ) -> rules.Outcome:
        """``blindness.assess``, reused while the error streak is the very same one."""
        key = (target, source)
        last = self._blind.get(key)
        if (
            last is not None
            and last[0].count == streak.count
            and last[0].saturated == streak.saturated
            and last[0].first is streak.first
            and last[0].last is streak.last
        ):
            return last[1]
        outcome = blindness.assess(source, streak, policy=self._policy)
        self._blind[key] = (streak, outcome)
        return outcome

    def _memo(self, target: ids.TargetId, rule_id: str) -> rules.Memo:
        per_target = self._memos.get(target)
        if per_target is None:
            per_target = self._memos[target] = {}
        memo = per_target.get(rule_id)
        if memo is None:
            memo = per_target[rule_id] = rules.Memo()
        return memo

    def _combine(
        self,
        rule: composites.CompositeRule,
        target: ids.TargetId,
        children: list[tuple[str, rules.Outcome]],
    ) -> rules.Outcome:
        """``composites.combine``, reused while every child's outcome is the very same one."""
        outcomes = tuple(outcome for _, outcome in children)
        per_target = self._combined.setdefault(target, {})
        last = per_target.get(rule.id)
        if (
            last is not None
            and len(last[0]) == len(outcomes)
            and all(a is b for a, b in zip(last[0], outcomes, strict=True))
        ):
            return last[1]
        combined = composites.combine(rule, children)
        per_target[rule.id] = (outcomes, combined)  # holding them keeps identity meaningful
        return combined

    def _cohort_outcome(
        self, rule: models.CohortRule, target: ids.TargetId, *, now: float
    ) -> rules.Outcome:
        peers = [
            self._windows.get(other, {}).get(rule.probe)
            for other, cohort in sorted(self._cohorts.items())
            if cohort == cohorts.BASELINE
            and other != target
            and models.selects(rule.targets, self._target_model(other))
        ]
        severity, summary, evidence = cohorts.compare(
            rule,
            self._windows.get(target, {}).get(rule.probe),
            peers,
            now=now,
            cohort=self._cohorts.get(target),
            since=self._reference(target, now),
            floor=self._floors.get(rule.probe),
        )
        return rules.Outcome(severity, summary, evidence)

    def _bursts_outcome(
        self,
        rule: models.BurstRule,
        target: ids.TargetId,
        *,
        now: float,
        reference: tuple[float, float | None] | None = None,
    ) -> rules.Outcome:
        """A bursts rule on ``target`` (``bursts.judge``); ``reference``: against another
        target's upgrade mark and reference end (a peer judged for the fleet veto)."""
        if reference is None:
            key = (target, rule.id)
            state = self._bursts.get(key)
            if state is None:
                state = self._bursts[key] = bursts.State()
            reference_at = self._reference(target, now)
            reference_end = self._reference_end(target, reference_at)
        else:
            peer_key: _PeerKey = (target, rule.id, reference)
            state = rules.cached(self._peer_bursts, peer_key, bursts.State, limit=_PEER_BURSTS)
            reference_at, reference_end = reference
        return bursts.judge(
            rule,
            self._windows.get(target, {}).get(rule.probe),
            now=now,
            reference_at=reference_at,
            reference_end=reference_end,
            floor=self._floors.get(rule.probe),
            state=state,
            volume=self._volume(rule, target),
        )

    def _regression_outcome(
        self, rule: models.RegressionRule, target: ids.TargetId, *, now: float
    ) -> rules.Outcome:
        key = (target, rule.id)
        state = self._watches.get(key)
        if state is None:
            state = self._watches[key] = sequential.Watch()
        window = self._windows.get(target, {}).get(rule.probe)
        reference_at = self._reference(target, now)
        floor = self._floors.get(rule.probe)
        if rule.against == "self":
            return sequential.judge_self(
                rule,
                window,
                now=now,
                reference_at=reference_at,
                reference_end=self._reference_end(target, reference_at),
                floor=floor,
                state=state,
                volume=self._volume(rule, target),
            )
        if rule.against == "peers":
            return self._peers_outcome(rule, target, now=now)
        cohort_of_target = self._cohorts.get(target)
        # Only a canary is compared: other targets are not worth listing the fleet for.
        peers = (
            [
                (str(other), self._windows.get(other, {}).get(rule.probe))
                for other, cohort in sorted(self._cohorts.items())
                if cohort == cohorts.BASELINE
                and other != target
                and models.selects(rule.targets, self._target_model(other))
            ]
            if cohort_of_target == cohorts.CANARY
            else []
        )
        return sequential.judge_cohort(
            rule,
            window,
            peers,
            now=now,
            cohort=cohort_of_target,
            reference_at=reference_at,
            floor=floor,
            state=state,
        )

    def _peers_outcome(
        self, rule: models.RegressionRule, target: ids.TargetId, *, now: float
    ) -> rules.Outcome:
        """A regression rule against the target's peers not upgraded (``peers.judge``)."""
        key = (target, rule.id)
        names = self._peers_of(target, rule)
        if len(names) < rule.min_peers:  # the common case of a small fleet: nothing to read
            found = self._no_peers.get(key)
            if found is None or found[0] != len(names):
                found = self._no_peers[key] = (len(names), peers.too_few(rule, len(names)))
            return found[1]
        state = self._peer_watches.get(key)
        if state is None:
            state = self._peer_watches[key] = peers.Watch()
        reference_at = self._reference(target, now)
        not_upgraded_for = self._policy.fleet_veto.not_upgraded_for

        def counts(peer: str, end: float) -> bool:
            return not self._upgraded_since(ids.TargetId(peer), end - not_upgraded_for, end)

        return peers.judge(
            rule,
            self._windows.get(target, _NO_WINDOWS).get(rule.probe),
            [
                peers.Peer(
                    str(other),
                    self._windows.get(other, _NO_WINDOWS).get(rule.probe),
                    self._volume(rule, other),
                )
                for other in names
            ],
            now=now,
            reference_at=reference_at,
            reference_end=self._reference_end(target, reference_at),
            floor=self._floors.get(rule.probe),
            state=state,
            counts=counts,
            volume=self._volume(rule, target),
        )

    def _peers_of(self, target: ids.TargetId, rule: models.RegressionRule) -> list[ids.TargetId]:
        """The targets ``rule`` applies to with ``target``'s values of the fleet veto's
        ``match_labels``, but ``target`` (whether each counts in a bucket is the rule's
        ``counts``: not upgraded lately); the list is kept while no target is added."""
        key = (target, rule.id)
        kept = self._peer_lists.get(key)
        if kept is None or kept[0] != len(self._windows):  # configured targets are fixed
            known = self.targets()
            labels = self._policy.fleet_veto.match_labels
            model = self._target_model(target)
            wanted = [model.labels.get(k) for k in labels]
            names = []
            for other in known:
                other_model = self._target_model(other)
                if (
                    other != target
                    and rule.id in self._applying(other, other_model)
                    and [other_model.labels.get(k) for k in labels] == wanted
                ):
                    names.append(other)
            kept = self._peer_lists[key] = (len(self._windows), names)
        return kept[1]

    def _volume(
        self, rule: models.RegressionRule | models.BurstRule, target: ids.TargetId
    ) -> volume.Volume | None:
        """The target's request rate for a rule with ``volume`` (``rollsafe.judge.volume``)."""
        return volume.of(rule.volume, self._windows.get(target, _NO_WINDOWS).get)

    @staticmethod
    def _decision(
        target: ids.TargetId,
        *,
        rule_id: str,
        kind: str,
        version: str,
        now: float,
        outcome: rules.Outcome,
    ) -> verdicts.Decision:
        evidence: dict[str, Any] = {"rule": rule_id, "kind": kind, "version": version}
        evidence.update(outcome.evidence)
        return verdicts.Decision(
            time=now,
            target=target,
            rule=ids.RuleId(rule_id),
            severity=outcome.severity,
            summary=outcome.summary,
            evidence=evidence,
            # A rule's "look again soon" is a field of its outcome, not evidence.
            pending=outcome.pending,
        )


class _View:
    """The engine as the fleet veto reads it (``vetoes.Fleet``): read-only, nothing folded."""

    __slots__ = ("_engine",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def targets(self) -> list[ids.TargetId]:
        return self._engine.targets()

    def target_model(self, target: ids.TargetId) -> models.Target:
        return self._engine._target_model(target)

    def applying(self, target: ids.TargetId) -> frozenset[str]:
        engine = self._engine
        return engine._applying(target, engine._target_model(target))

    def reference(self, target: ids.TargetId, now: float) -> float | None:
        return self._engine._reference(target, now)

    def reference_end(self, target: ids.TargetId, upgrade_at: float | None) -> float | None:
        return self._engine._reference_end(target, upgrade_at)

    def upgraded_since(self, target: ids.TargetId, start: float, now: float) -> bool:
        return self._engine._upgraded_since(target, start, now)

    def window(self, target: ids.TargetId, source: str) -> windows.Window | None:
        return self._engine._windows.get(target, _NO_WINDOWS).get(source)

    def floor(self, source: str) -> float | None:
        return self._engine._floors.get(source)

    def judge(
        self,
        rule_id: str,
        target: ids.TargetId,
        *,
        now: float,
        reference: vetoes.Reference | None,
    ) -> rules.Outcome:
        engine = self._engine
        model = engine._target_model(target)
        return engine._outcome(
            rule_id, target, model, now=now, memo={}, active=set(), reference=reference
        )


class _Watch:
    """One regression rule against its own past, or one bursts rule, as
    :meth:`Engine._decide` decides it on one target: ``until`` when its severity holds
    (``sequential.steady_until``, ``bursts.steady_until``), and where its
    window stood when last read: values appended and placed so far (``windows.Series``) and
    the ``now`` it was read at."""

    __slots__ = ("appended", "id", "now", "placed", "probe", "rule", "until")

    def __init__(self, rule: models.RegressionRule | models.BurstRule) -> None:
        self.rule = rule
        self.id = rule.id
        self.probe = rule.probe
        self.until = -math.inf
        self.appended = self.placed = -1
        self.now = -math.inf

    def saw(self, window: windows.Window | None, now: float) -> None:
        self.appended = -1 if window is None else window.series.appended
        self.placed = -1 if window is None else window.series.placed
        self.now = now


def _after(window: windows.Window | None, seen: _Watch) -> bool:
    """True when everything folded into ``window`` since ``seen`` read it is values appended
    after the ``now`` it was read at (none placed among older ones, no error).

    Such values land after every bucket closed then and after the upgrade mark, so they
    change nothing a regression rule against its own past reads (``sequential.judge_self``:
    the reference period before the mark, the buckets closed up to ``now``), nor what a
    bursts rule reads (``bursts.judge``: the same two), until the next bucket closes, which
    ``steady_until`` already says. In a replay, fed in time order, that
    is every fold between two of the rule's bucket ends: the call is skipped.
    """
    if window is None or seen.appended < 0:
        return False
    series = window.series
    new = series.appended - seen.appended
    held = len(series.times)
    if series.placed != seen.placed or new > held or new <= 0:
        return False  # new <= 0: an error was folded in (the rule ignores it, but be plain)
    return series.times[held - new] > seen.now


# ``_Leaf.how``: a trend rule (``trend.decide_reading``); a leaf with no running state yet (no
# window); one with a baseline's or a threshold's; one decided by ``rules.decide``.
_TREND, _UNHELD, _BASELINE, _THRESHOLD, _BY_RULE = range(5)


def _no_baseline(
    now: float, reference_at: float | None, reference_end: float | None
) -> tuple[verdicts.Severity, float]:
    raise AssertionError("a leaf without a baseline's running state")  # never asked


def _no_threshold(now: float) -> tuple[verdicts.Severity, float]:
    raise AssertionError("a leaf without a threshold's running state")  # never asked


class _Leaf:
    """One leaf rule as :meth:`Engine._decide` decides it on one target: ``until`` when its
    severity holds (see ``rules.decide``), its running state over its window once the
    window exists (None before; False for a kind decided by ``rules.decide``)."""

    __slots__ = (
        "baseline",
        "counts",
        "fewest",
        "how",
        "id",
        "memo",
        "probe",
        "reads_reference",
        "rule",
        "state",
        "threshold",
        "times",
        "unread",
        "until",
    )

    def __init__(self, rule: rules.LeafRule, memo: rules.Memo | None) -> None:
        self.rule = rule
        self.id = rule.id
        self.probe = rule.probe
        self.memo = memo
        self.reads_reference = rules.reads_reference(rule)
        self.state: rules.ThresholdState | rules.BaselineState | bool | None = None
        # How ``Engine._decide_leaves`` decides it (a tag read in place of ``isinstance``
        # tests of the rule and its state, the hot path of a replay), and the running
        # state's bound ``decide`` once ``hold`` gave it one.
        self.how = _TREND if isinstance(rule, models.TrendRule) else _UNHELD
        self.baseline = _no_baseline
        self.threshold = _no_threshold
        self.until = -math.inf
        # The last answer read only the marks, not the window's values: until ``until`` (or
        # the next mark, which resets ``until``), what is folded in cannot change it.
        self.unread = False
        # A threshold's quiet test (``watch_condition``): its window's prefix counts of the
        # rule's condition and its check times (None: not a threshold, or no window yet), and
        # the fewest checks meeting it that its ``episodes`` need (0: one episode).
        self.counts: list[int] | None = None
        self.times: list[float] = []
        self.fewest = 0

    def hold(
        self, state: rules.ThresholdState | rules.BaselineState | bool, window: windows.Window
    ) -> int:
        """Keep ``state``, the leaf's running state over ``window`` (``Engine._running``), and
        note how it is asked (``how``, returned); a threshold watches its condition too."""
        self.state = state
        if isinstance(state, rules.BaselineState):
            self.how, self.baseline = _BASELINE, state.decide
        elif isinstance(state, rules.ThresholdState):
            self.how, self.threshold = _THRESHOLD, state.decide
        else:
            self.how = _BY_RULE
        self.watch_condition(window)
        return self.how

    def watch_condition(self, window: windows.Window) -> None:
        """For a threshold rule, keep the window's prefix counts of the values meeting its
        condition (``windows.Series.match_counts``: the very lists the window keeps up to
        date in place, trimmed with its values) and its check times, for a test that tells
        without a call that the rule is OK until something is folded in (``quiet``).

        Why it is exact (``rules.ThresholdState.decide``, ``rules._decide_threshold``), when
        no check is newer than ``now`` (a check after ``now`` enters the ranges as time goes
        on: then the running state is asked):

        * One episode: the rule fails only on a run of failing checks ending at the newest
          check, and a failing check meets the condition (``rules._counts_as_failing``: the
          condition, then units, upgrades and marks, which only ever exclude). A newest check
          that does not meet it leaves a run of 0 checks: OK, and nothing but a fold can
          change that (no check is newer than ``now``; trimming the oldest is a fold).
        * ``episodes`` above 1: fewer checks meeting the condition in the whole window than
          ``episodes`` runs of the fewest checks a run needs (``rules._fewest_checks``) can
          hold no such runs in the part of it the rule reads (``rules._runs``' own quick
          count, over a range inside the window); time alone only lets checks leave it.

        The counts list is the window's own: the test reads what the running state would.
        """
        rule = self.rule
        if not isinstance(rule, models.ThresholdRule):
            return
        series = window.series
        self.counts = series.match_counts(rules._condition(rule)).counts
        self.times = series.times
        if rule.episodes > 1:
            self.fewest = rule.episodes * rules._fewest_checks(rule)

    def quiet(self, now: float) -> bool:
        """True when the threshold is OK at ``now`` and stays OK until something is folded
        into its window (see ``watch_condition``); False: ask its running state."""
        counts = self.counts
        if counts is None:
            return False
        times = self.times
        if times and times[-1] > now:
            return False  # a check after ``now``: time alone brings it in
        if self.fewest:
            return counts[-1] - counts[0] < self.fewest
        return len(counts) > 1 and counts[-1] == counts[-2]


class _Settled:
    """What :meth:`Engine._decide` decided for one target, and what it rests on.

    Fixed per target: ``entries`` (id, kind, version of each applying rule, in order), the
    applying rules by how they are decided (``leaves``: :class:`_Leaf`, also ``by_source``;
    ``composites``; ``watches``: regression rules against their own past and bursts rules,
    :class:`_Watch`, also ``watches_by_source``;
    ``others``: other regression (against a cohort), cohort and alert rules; ``applying``:
    their ids). Then
    ``severity`` per applying rule id, ``blind`` per source, ``said``: the last severity
    returned per decision id; each leaf's and watch's ``until``: before that time its
    severity holds unless its source folds something in (``changes``: each window's fold
    count when last read), ``soonest`` and ``watch_soonest`` the earliest of them. ``until``
    holds while time goes forward, no upgrade mark is added (``marks``) and none comes into
    force (``next_mark``); ``reference``: the latest mark in force, ``reference_end`` where
    its reference period ends (``Engine._reference_end``). ``fresh``: the
    composites have not been counted yet.
    """

    __slots__ = (
        "applying",
        "blind",
        "by_source",
        "changes",
        "composites",
        "confirming",
        "critical",
        "entries",
        "fresh",
        "held",
        "leaves",
        "marks",
        "next_mark",
        "now",
        "others",
        "reference",
        "reference_end",
        "said",
        "severity",
        "soonest",
        "unconfirmed",
        "unmarked",
        "vetoable",
        "watch_soonest",
        "watches",
        "watches_by_source",
    )

    def __init__(self, applying: frozenset[str]) -> None:
        self.applying = applying
        self.entries: list[tuple[str, str, str]] = []
        self.leaves: list[_Leaf] = []
        self.by_source: dict[str, list[_Leaf]] = {}
        self.composites: list[composites.CompositeRule] = []
        self.watches: list[_Watch] = []
        self.watches_by_source: dict[str, list[_Watch]] = {}
        self.others: list[models.RuleBase] = []
        self.severity: dict[str, verdicts.Severity] = {}
        self.critical = False  # a severity is critical (read again whenever one moves)
        self.blind: dict[str, verdicts.Severity] = {}
        self.said: dict[str, verdicts.Severity] = {}
        self.reference: float | None = None
        self.reference_end: float | None = None
        self.changes: dict[str, int] = {}
        self.soonest = -math.inf
        self.watch_soonest = -math.inf
        self.now = -math.inf
        self.marks = -1
        self.next_mark = -math.inf
        self.fresh = True
        self.vetoable: list[str] = []  # applying rules the fleet veto may hold
        self.held: set[str] = set()  # of them, those held as a warning when last decided
        self.unmarked: set[str] = set()  # critical, held: evidence before the first mark
        self.confirming: list[str] = []  # applying rules whose slow tier needs confirming
        self.unconfirmed: set[str] = set()  # of them, critical on it alone, unconfirmed


def _flip(kept: set[str], rule_id: str, now_in: bool, moved: list[str]) -> None:
    """``rule_id`` in or out of ``kept`` as ``now_in`` says, noted in ``moved`` if it moved."""
    if now_in is not (rule_id in kept):
        if now_in:
            kept.add(rule_id)
        else:
            kept.discard(rule_id)
        moved.append(rule_id)


def _check_references(rule_list: Sequence[models.RuleBase]) -> None:
    """Composites must list existing rules and never reach themselves (loading checks it too)."""
    by_id = {rule.id: rule for rule in rule_list}
    problems: list[str] = []
    for rule in rule_list:
        if isinstance(rule, composites.CompositeRule):
            problems.extend(
                f"rule {rule.id!r} lists unknown rule {child!r}"
                for child in rule.rules
                if child not in by_id
            )
        confirm = confirming.confirm_of(rule)
        if confirm is not None and (confirm not in by_id or confirm == rule.id):
            problems.append(f"rule {rule.id!r}: slow.confirm names no other rule {confirm!r}")
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(rule_id: str, path: list[str]) -> None:
        if state.get(rule_id) == 2 or rule_id not in by_id:
            return
        if state.get(rule_id) == 1:
            cycle = [*path[path.index(rule_id) :], rule_id]
            problems.append(f"rules form a cycle: {' -> '.join(cycle)}")
            return
        state[rule_id] = 1
        rule = by_id[rule_id]
        if isinstance(rule, composites.CompositeRule):
            for child in rule.rules:
                visit(child, [*path, rule_id])
        state[rule_id] = 2

    for rule in rule_list:
        visit(rule.id, [])
    if problems:
        raise errors.ConfigError(problems[0], problems=problems)


def _in_order(items: Iterable[observations.Observation]) -> list[observations.Observation]:
    """``items`` sorted by time, target, source, then ``windows.order_key``: the same list as
    one sort on all four, with the costly ``order_key`` computed only where the first three
    tie (rare: one source seldom reports twice at one instant)."""
    feed = sorted(items, key=operator.attrgetter("time", "target", "source"))
    times = [o.time for o in feed]
    if True not in map(operator.eq, times, itertools.islice(times, 1, None)):
        return feed  # no two at one time (the usual recording): no ties to order
    start = 0
    for index in range(1, len(feed) + 1):
        if index == len(feed) or (
            feed[index].time != feed[start].time
            or feed[index].target != feed[start].target
            or feed[index].source != feed[start].source
        ):
            if index - start > 1:  # stable, like the one sort: equal keys keep their order
                feed[start:index] = sorted(feed[start:index], key=windows.order_key)
            start = index
    return feed


def replay(
    config: models.RollsafeConfig,
    observations: Iterable[observations.Observation],
    marks: Iterable[observations.Mark] = (),
    *,
    step: float | None = None,
) -> list[verdicts.Decision]:
    """Run a fresh engine over recorded observations; return the decisions that changed.

    Observations are fed in time order (marks at the same time go first). With ``step`` None,
    all observations of one instant are folded in, then each target they came from is
    evaluated at ``now`` = that instant (as the daemon judges a target when its observations
    arrive); changes on other targets caused only by time passing show at their next
    observation. With
    ``step``, every target is evaluated every ``step`` seconds of virtual time, from the first
    observation until all are fed. A decision is returned when its severity differs from the
    previous one of the same ``(target, rule)``, the first one counting as a change from OK.
    """
    if step is not None and step <= 0:
        raise ValueError("step must be a positive number of seconds")
    run = _Replay(Engine(config), _in_order(observations), marks)
    if step is None:
        run.instants()
    else:
        run.ticks(step)
    return run.changed


class _Replay:
    """One :func:`replay` run: the engine, the feed in order, the marks, what changed."""

    def __init__(
        self,
        engine: Engine,
        feed: list[observations.Observation],
        marks: Iterable[observations.Mark],
    ) -> None:
        self.engine = engine
        self.feed = feed
        self.pending = sorted(marks, key=lambda m: (m.time, m.target, m.name))
        self.next_mark = 0
        self.ledger = changes.Ledger()
        self.changed: list[verdicts.Decision] = []

    def record(self, target: ids.TargetId, now: float, folded: str | None = None) -> None:
        # Severities first; a decision (sentence, evidence) is built only for a severity that
        # changed: the same decision ``evaluate`` would give, without building the many that
        # did not change (most of them not even decided again: see ``Engine._decide``).
        engine = self.engine
        for rule_id, kind, version, severity in engine._decide(target, now=now, folded=folded):
            if self.ledger.note(target, rule_id, severity) is changes.Change.CHANGED:
                outcome = engine._dress(target, rule_id, kind, now=now)
                if outcome.severity is not severity:  # the two paths disagree: a judge bug
                    raise RuntimeError(
                        f"judge: {rule_id} on {target} at {now}: severity {severity.label} "
                        f"decided, {outcome.severity.label} when described"
                    )
                self.changed.append(
                    engine._decision(
                        target,
                        rule_id=rule_id,
                        kind=kind,
                        version=version,
                        now=now,
                        outcome=outcome,
                    )
                )

    def marks_until(self, when: float) -> float:
        """Register the marks up to ``when``; the time of the next one (infinity: none)."""
        pending = self.pending
        while self.next_mark < len(pending) and pending[self.next_mark].time <= when:
            self.engine.mark(pending[self.next_mark])
            self.next_mark += 1
        return pending[self.next_mark].time if self.next_mark < len(pending) else math.inf

    def instants(self) -> None:
        """Judge each target that reported at an instant, once all of that instant is in."""
        feed = self.feed
        fed = 0
        count = len(feed)
        observe = self.engine.observe
        record = self.record
        next_mark_at = self.marks_until(-math.inf)
        while fed < count:
            # Every observation of one instant is folded in before any target is judged at
            # it: a decision never rests on half of what was seen at the same time.
            item = feed[fed]
            now = item.time
            if next_mark_at <= now:
                next_mark_at = self.marks_until(now)
            observe(item)
            fed += 1
            if fed < count and feed[fed].time == now:
                touched = {item.target}
                while fed < count and feed[fed].time == now:
                    observe(feed[fed])
                    touched.add(feed[fed].target)
                    fed += 1
                for target in sorted(touched):
                    record(target, now)
            else:  # the usual case: one observation at this instant, its target's only news
                touched = {item.target}
                record(item.target, now, item.source)
            if self.engine._holding:
                # A held target is judged again when another one reports (its peer's news
                # may release it), after those that reported: see ``Engine.held_targets``.
                for target in self.engine.held_targets():
                    if target not in touched:
                        record(target, now)

    def ticks(self, step: float) -> None:
        """Judge every target every ``step`` seconds of virtual time."""
        feed = self.feed
        if not feed:
            return
        start = feed[0].time
        fed = 0
        tick = 0
        while fed < len(feed):
            now = start + tick * step  # multiplied, not accumulated: no drift over long replays
            while fed < len(feed) and feed[fed].time <= now:
                self.marks_until(feed[fed].time)
                self.engine.observe(feed[fed])
                fed += 1
            self.marks_until(now)
            for target in self.engine.targets():
                self.record(target, now)
            tick += 1
