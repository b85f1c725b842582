"""The fleet veto (judge, pure): a listed rule's rollback held while peers that were not
upgraded fail the same way (or, for a check's round trip, hosts of another role slow at the
same time), and the rules it may hold, checked.

``policy.fleet_veto`` lets the engine hold a listed rule's rollback as a warning while the
same rule is critical on a peer that was not upgraded (:class:`Veto`; a composite's children
are compared one by one, and a child a peer shows is no witness of the upgrade's fault).
The engine asks it about each top-level decision of a listed rule and lends it a read-only
view of its windows, marks and rule states (:class:`Fleet`); the veto keeps nothing but a
cache of the peers' sequential tests, so a decision stays a function of the observations,
the marks and ``now``.

Holding is only sound for rules that no single event on the upgraded host decides, and for
rules that do not compare with peers themselves; :func:`sources_needed` refuses the others
when the engine is built, and says which sources' windows must keep more history for the
peers' judgement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple, Protocol, TypeGuard

from rollsafe.config import durations, models
from rollsafe.domain import errors, ids, verdicts
from rollsafe.judge import composites, rules, sequential, volume, windows

__all__ = [
    "CHECK_FIELDS",
    "WITNESS_ALPHA",
    "Fleet",
    "Hold",
    "Reference",
    "Veto",
    "Witness",
    "holdable",
    "sources_needed",
]

_CRITICAL = verdicts.Severity.CRITICAL
_WARNING = verdicts.Severity.WARNING
_PEER_WATCHES = 4096  # sequential states kept for the peers (a cache)
_PEERS_SHOWN = 5  # peers named in a held decision's summary (the evidence lists them all)
# A regression rule's witnesses (``Veto.witnesses``): the chance that any healthy peer
# witnesses a test that flagged the target is at most this (shared among the peers).
WITNESS_ALPHA = 0.01
# The fields a regression rule may be witnessed on by a host of another role: a check's own
# round trip, measured from the prober across the same network whatever the role (a
# service's own metrics, its error ratio or query time, say nothing comparable).
CHECK_FIELDS = frozenset({"latency"})

Reference = tuple[float, float | None]  # an ``upgrade`` mark in force and its reference end


class Hold(NamedTuple):
    """Why a rollback is held: the peers failing the same rule now (``failing``), and those
    not known yet either way (``undecided``: not seen since, or on their way); ``witness``:
    for a regression rule, the test that flagged the target as asked of each peer
    (:meth:`Veto.witnesses`); ``unmarked``: the target has no upgrade of its own and the
    peers are upgraded ones (:meth:`Veto.why_held`); ``other_roles``: those of ``failing``
    that are hosts of another role, witnessing on their own check (:meth:`Veto.other_roles`);
    for a composite (:meth:`Veto._discount`), its children a peer shows (``discounted``) or
    may show (``awaited``), each with those peers."""

    failing: list[str]
    undecided: list[str]
    witness: dict[str, object] | None = None
    unmarked: bool = False
    other_roles: tuple[str, ...] = ()
    discounted: dict[str, list[str]] | None = None
    awaited: dict[str, list[str]] | None = None


class _Shown(NamedTuple):
    """What :meth:`Veto._shown` found of one rule on the peers: those showing it
    (``failing``, ``other_roles`` among them), those undecided, the witness test asked (its
    evidence), and the target's own state at an earlier time (``firing``)."""

    failing: list[str]
    undecided: list[str]
    witness: dict[str, object] | None
    other_roles: tuple[str, ...]
    firing: Callable[[float], bool]


class _Slot:
    """A peer's sequential state for one rule and reference, and the last time asked."""

    __slots__ = ("at", "watch")

    def __init__(self, at: float) -> None:
        self.at = at
        self.watch = sequential.Watch()


class Witness(NamedTuple):
    """The test that flagged a target, to ask its peers (:meth:`Veto.witness_test`): the
    test as a rule of its own, the span of bucket ends read on a peer (around where it
    crossed on the target), and the evidence that describes it."""

    test: models.RegressionRule
    start: float
    end: float
    said: dict[str, object]


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
        self, rule_id: str, target: ids.TargetId, *, now: float, reference: Reference | None
    ) -> rules.Outcome:
        """``rule_id``'s own outcome on ``target`` at ``now``, baselines, trends and
        regressions judged against ``reference`` (no memo of the engine read or kept); None:
        against ``target``'s own upgrade marks, as the engine judges it (its caches used)."""
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
        listed = holdable(by_id) if config.rules == "auto" else config.rules
        self.rules = frozenset(listed)
        # Each source under a listed rule keeps more history: ``wait`` (the target judged
        # that long ago), or ``reach`` and the reference period when a rule on it reads one
        # (a peer not upgraded has no pin at another target's mark).
        self.history = {
            source: config.wait if before is None else config.reach + before
            for source, before in sources_needed(by_id, listed).items()
        }
        # A listed regression rule on a check's round trip, and the rules of other roles on
        # theirs (``other_roles``); their probes keep the history the listed rule's
        # reference needs, a peer of another role being read against the target's period.
        self._comparable = {
            rule_id: _comparable(by_id, rule_id) for rule_id in listed if rule_id in by_id
        }
        for rule_id, others in self._comparable.items():
            before = by_id[rule_id]
            if not isinstance(before, models.RegressionRule):
                continue
            for other in others:
                probe = _probe(by_id[other])
                self.history[probe] = max(
                    self.history.get(probe, 0.0), config.reach + before.before
                )
        # The sources each listed rule reads (its leaves'): a peer is seen through them.
        # So are a listed composite's children, each a witness of its own (``_discount``).
        self._reads = {
            rule_id: _reads(by_id, rule_id)
            for top in listed
            if top in by_id
            for rule_id in (top, *_below(by_id, top))
        }
        # How far before an upgrade each listed rule reads (its sources' longest ``before``):
        # past ``reach``, a peer is still judged while its windows hold that period.
        self._before = {
            rule_id: max((b or 0.0 for b in sources_needed(by_id, [rule_id]).values()), default=0.0)
            for rule_id in listed
            if rule_id in by_id
        }
        self._fleet = fleet
        self._by_id = by_id
        # The listed rules on peers judged against another target's upgrade (and, as a
        # variant, the witness tests asked of them: ``witness_test``).
        self._peer_watches: dict[tuple[ids.TargetId, str, Reference], list[_Slot]] = {}
        self._witness_watches: dict[
            tuple[ids.TargetId, str, Reference, object], sequential.Watch
        ] = {}
        self._witness_rules: dict[object, models.RegressionRule] = {}

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
            "peers": why.failing,
            "waiting": not why.failing,
            "waiting_for": why.undecided,
            "wait_s": veto.wait,
            "not_upgraded_for_s": veto.not_upgraded_for,
            "match_labels": list(veto.match_labels),
            "peers_upgraded": why.unmarked,
            "other_roles": list(why.other_roles),
        }
        if why.witness is not None:
            evidence["fleet_veto"]["witness"] = why.witness
        if why.discounted is not None:
            evidence["fleet_veto"]["discounted"] = why.discounted
            evidence["fleet_veto"]["awaited"] = why.awaited or {}
        kind = "upgraded" if why.unmarked else "not upgraded"
        if why.discounted is not None:
            said = _discount_said(
                why.discounted, why.awaited or {}, veto.wait, waiting=not why.failing
            )
        elif why.failing and why.unmarked:
            said = (
                f"also failing on {_names(why.failing)} (upgraded) while {target} has no "
                "upgrade of its own to undo: not its upgrade's"
            )
        elif why.failing and len(why.other_roles) == len(why.failing):
            said = (
                f"its check slowed at the same time on {_names(why.failing)} (another role, "
                "not upgraded): something outside it changed, not its upgrade"
            )
        elif why.failing:
            said = f"also failing on {_names(why.failing)}, not upgraded: not the upgrade's"
        else:
            said = (
                f"waiting up to {durations.format_duration(veto.wait)} for "
                f"{_names(why.undecided)} ({kind}) to show the same or not"
            )
        summary = f"{outcome.summary}; {said}, held as a warning (fleet veto)"
        return rules.Outcome(_WARNING, summary, evidence, pending=True)

    def why_held(self, target: ids.TargetId, rule_id: str, *, now: float) -> Hold | None:
        """Why a critical ``rule_id`` on ``target`` is held at ``now``; None: not held.

        A target with an ``upgrade`` mark in force: held while a peer (:meth:`peers`, not
        upgraded) fails the rule now, judged against ``target``'s reference period; for a
        regression rule, also while the test that flagged ``target`` reaches its witness bar
        on a peer (:meth:`witnesses`), or, for one on a check's round trip, on the check of a
        host of another role not upgraded either (:meth:`other_roles`: a network event slows
        every role at once). A composite is not compared whole: each of its firing children
        is, and it is held while too few are left that no such peer shows
        (:meth:`_discount`). Nothing is held once ``target``'s reference ends
        longer than ``reach`` ago (the windows may no longer hold it).

        A target with no upgrade mark (started or ended) in the last ``not_upgraded_for``
        has no upgrade of its own to undo: held while a peer that *was* upgraded in that
        time fails the same rule now, judged on its own data (a switch rebooting under both,
        a dependency down for both: rolling the host not upgraded back undoes nothing, and
        if the upgraded peer's release is the cause, that peer's rollback is the one that
        helps). A target with no mark whose upgraded peers are well, or in a fleet with no
        upgrade mark at all (upgrades made by a tool that reports none), is rolled back as
        before: there "not upgraded" cannot be told from "upgraded without a mark".

        Either way, for at most ``wait``, held while a peer is *undecided*: it has not been
        observed since the rule was critical on ``target``, or the rule's condition has
        started to hold on it (a threshold's newest value fails it, or a composite has a
        child firing: it may cross a little later; see ``_on_its_way``). A peer observed as
        recently as ``target`` itself (of each source the rule reads, a value as new as
        ``target``'s newest) is not undecided though ``target`` turned critical after those
        values: time closed ``target``'s bucket or window on data no newer than the peer's,
        and the peer, judged at the same ``now``, has seen as much (waiting for its next
        check would cost only the phase between a bucket's end and the probe's next value).
        Once every peer
        has been seen since and none fails or is on its way, the rollback goes at once;
        with no peer at all, it never waits. The bound: held for undecided peers only while
        the rule was not critical ``wait`` ago (judged at ``now - wait`` against the same
        reference: a time, not a memory of past judgements).
        """
        fleet = self._fleet
        reference_at = fleet.reference(target, now)
        if reference_at is None:
            if fleet.upgraded_since(target, now - self.config.not_upgraded_for, now):
                return None  # being upgraded (started, not ended): the upgrade's own time
            found = self.peers(target, rule_id, now=now, upgraded=True)
            return self._verdict(target, rule_id, found, None, now=now)
        reference_end = fleet.reference_end(target, reference_at)
        ends = reference_at if reference_end is None else min(reference_end, reference_at)
        if now - ends > self.config.reach and not self._holds_reference(
            target, rule_id, reference_at - self._before.get(rule_id, 0.0), now=now
        ):
            return None
        reference = (reference_at, reference_end)
        rule = self._by_id[rule_id]
        if isinstance(rule, composites.CompositeRule):
            # Peers are asked about each child, not about the composite (round 11).
            return self._discount(target, rule, reference, now=now)
        return self._verdict(
            target, rule_id, self.peers(target, rule_id, now=now), reference, now=now
        )

    def _holds_reference(
        self, target: ids.TargetId, rule_id: str, start: float, *, now: float
    ) -> bool:
        """Past ``reach`` (round 13): True while ``target`` has peers and every peer's window
        of every source ``rule_id`` reads still holds its values from ``start`` (the target's
        period before its upgrade) on (or every value it ever had: never trimmed), kept for a
        rule of their own (a comparison with the peers over a day keeps 31 hours): such a
        peer can still be judged against that period, as within ``reach``, for a rule without
        a watch (``ceiling``) that breaches hours after the upgrade. A window trimmed past
        ``start`` ends the veto as before."""
        found = self.peers(target, rule_id, now=now)
        if not found:
            return False
        for peer, _ in found:
            for source in self._reads.get(rule_id, ()):
                window = self._fleet.window(peer, source)
                kept = [] if window is None else window.series.times  # oldest retained first
                if not kept or window is None:
                    return False
                ever = window.first_value_time
                if kept[0] > start and (ever is None or kept[0] > ever):  # trimmed past it
                    return False
        return True

    def _discount(
        self,
        target: ids.TargetId,
        rule: composites.CompositeRule,
        reference: Reference,
        *,
        now: float,
    ) -> Hold | None:
        """A critical composite ``rule`` on ``target`` held because too few of its firing
        children are the upgrade's own (round 11): a child that a peer not upgraded shows
        at the same time (:meth:`_shown` at warning: firing, as the composite counts it;
        its witness test for a regression child) is a fleet symptom, no witness of the
        upgrade's fault, and the composite fires only if enough children remain.

        A nested composite counts as one child when enough of *its* children remain
        (the symptom compared with peers is always a leaf's, never "some child of the
        nested one", which a peer may satisfy with another child). A child one event
        decides (an alert, a threshold on one failing check: ``_one_event``) is never
        discounted: an event on the upgraded host is its own. While a peer is undecided
        about a child (``_shown``) and the rest are too few without it, held for at most
        ``wait`` (the composite judged at ``now - wait`` not critical), as
        :meth:`_verdict` holds for undecided peers."""
        discounted: dict[str, list[str]] = {}
        awaited: dict[str, list[str]] = {}
        sure, likely = self._remaining(target, rule, reference, discounted, awaited, now=now)
        if sure or not (discounted or awaited):
            return None
        failing = sorted({peer for peers in discounted.values() for peer in peers})
        undecided = sorted({peer for peers in awaited.values() for peer in peers})
        if not likely:
            return Hold(failing, undecided, discounted=discounted, awaited=awaited)
        wait = self.config.wait
        if wait <= 0:
            return None
        before = self._fleet.judge(rule.id, target, now=now - wait, reference=reference)
        if before.severity is _CRITICAL:
            return None
        return Hold([], undecided, discounted=discounted, awaited=awaited)

    def _remaining(
        self,
        target: ids.TargetId,
        rule: composites.CompositeRule,
        reference: Reference,
        discounted: dict[str, list[str]],
        awaited: dict[str, list[str]],
        *,
        now: float,
    ) -> tuple[bool, bool]:
        """Whether ``rule`` fires on ``target`` at ``now`` with its children that peers
        show (``discounted``) left out: for sure, and if the undecided ones (``awaited``)
        turn out to be the target's own (:meth:`_discount`)."""
        sure = likely = 0
        for child_id in rule.rules:
            child = self._by_id[child_id]
            own = self._fleet.judge(child_id, target, now=now, reference=None)
            if own.severity < _WARNING:
                continue
            if isinstance(child, composites.CompositeRule):
                counts, may = self._remaining(
                    target, child, reference, discounted, awaited, now=now
                )
            elif _one_event(child):
                counts = may = True
            else:
                found = self.peers(target, child_id, now=now)
                shown = self._shown(target, child_id, found, reference, now=now, bar=_WARNING)
                if shown.failing:
                    discounted[child_id] = shown.failing
                elif shown.undecided:
                    awaited[child_id] = shown.undecided
                counts = not shown.failing and not shown.undecided
                may = not shown.failing
            sure += counts
            likely += may
        need = composites.needed(rule)
        return sure >= need, likely >= need

    def _verdict(
        self,
        target: ids.TargetId,
        rule_id: str,
        found: list[tuple[ids.TargetId, float]],
        reference: Reference | None,
        *,
        now: float,
    ) -> Hold | None:
        """:meth:`why_held` over the peers ``found``: each judged against ``reference``
        (None: ``target`` has no upgrade; each upgraded peer on its own marks)."""
        shown = self._shown(target, rule_id, found, reference, now=now, bar=_CRITICAL)
        unmarked = reference is None
        if shown.failing:
            return Hold(shown.failing, shown.undecided, shown.witness, unmarked, shown.other_roles)
        wait = self.config.wait
        if shown.undecided and wait > 0 and not shown.firing(now - wait):
            return Hold([], shown.undecided, shown.witness, unmarked)
        return None

    def _shown(
        self,
        target: ids.TargetId,
        rule_id: str,
        found: list[tuple[ids.TargetId, float]],
        reference: Reference | None,
        *,
        now: float,
        bar: verdicts.Severity,
    ) -> _Shown:
        """Which of the peers ``found`` show ``rule_id`` at ``now`` as ``target`` does (at
        ``bar`` or worse: critical for a listed rule, firing for a composite's child), and
        which are undecided; each judged against ``reference`` (None: ``target`` has no
        upgrade; each upgraded peer on its own marks)."""
        fleet = self._fleet
        failing: list[str] = []
        undecided: list[str] = []
        firing_at: dict[float, bool] = {now: True}  # the target, judged at earlier times

        def critical(at: float) -> bool:
            known = firing_at.get(at)
            if known is None:
                outcome = fleet.judge(rule_id, target, now=at, reference=reference)
                known = firing_at[at] = outcome.severity >= bar
            return known

        rule = self._by_id[rule_id]
        witness: Witness | None = None
        # Hosts of other roles witness a regression on a check's round trip (never waited
        # for); the witness bar is shared among them and the peers of the same role.
        others = [] if reference is None else self.other_roles(target, rule_id, now=now)
        asked = len(found) + len(others)
        if reference is not None and asked and isinstance(rule, models.RegressionRule):
            witness = self.witness_test(target, rule, asked, now=now, bar=bar)
        seen_e: dict[str, float] = {}
        # ``target`` is known up to its newest value of the rule's sources: a peer failing
        # then overlaps what is known of it, even if the peer has recovered since (judged
        # again at a peer's report, ``target``'s own next check has not come yet: its
        # failure is not known to outlast the peer's until a check of its own says so).
        # A regression test stays breached once it crossed: judged at ``now`` it says all
        # that it would say at ``known``, so it is not asked twice.
        known = self.newest(target, rule_id, now=now)
        lagging = known < now and not isinstance(rule, models.RegressionRule)
        for peer, seen in found:
            outcome = fleet.judge(rule_id, peer, now=now, reference=reference)
            if outcome.severity >= bar or (
                lagging
                and fleet.judge(rule_id, peer, now=known, reference=reference).severity >= bar
            ):
                failing.append(str(peer))
                continue
            if witness is not None and reference is not None:
                log_e = self._witnessed(witness, peer, reference, now=now)
                seen_e[str(peer)] = math.exp(min(log_e, 700.0))
                if log_e >= -math.log(witness.test.alpha):
                    failing.append(str(peer))
                    continue
            if _on_its_way(rule, outcome) or not (
                self._caught_up(peer, target, rule_id, now=now) or critical(seen)
            ):
                undecided.append(str(peer))
        witnessing: list[str] = []
        if witness is not None and reference is not None:
            for other, probe in others:
                log_e = self._witnessed(witness, other, reference, now=now, probe=probe)
                seen_e[str(other)] = math.exp(min(log_e, 700.0))
                if log_e >= -math.log(witness.test.alpha):
                    witnessing.append(str(other))
        failing.extend(witnessing)
        described = None
        if witness is not None:
            described = {**witness.said, "peer_e_values": seen_e}
            if others:
                described["other_roles"] = {str(other): probe for other, probe in others}
        return _Shown(failing, undecided, described, tuple(witnessing), critical)

    def _caught_up(
        self, peer: ids.TargetId, target: ids.TargetId, rule_id: str, *, now: float
    ) -> bool:
        """True when ``peer`` holds, of every source ``rule_id`` reads, a value at least as
        new as ``target``'s newest (at or before ``now``): judged now, it has seen what
        ``target`` was judged on."""
        fleet = self._fleet
        for source in self._reads.get(rule_id, ()):
            own = fleet.window(target, source)
            mine = own.last(1, until=now) if own is not None else ()
            if not mine:
                continue
            theirs_window = fleet.window(peer, source)
            theirs = theirs_window.last(1, until=now) if theirs_window is not None else ()
            if not theirs or theirs[0].time < mine[0].time:
                return False
        return True

    def witness_test(
        self,
        target: ids.TargetId,
        rule: models.RegressionRule,
        peers: int,
        *,
        now: float,
        bar: verdicts.Severity = _CRITICAL,
    ) -> Witness | None:
        """The test that flagged ``target`` (its tier, and its start: the grace or a late
        start), alone, as a rule to ask each of ``peers`` peers, with where it crossed on
        ``target`` (:class:`Witness`); None when the rule is not at ``bar`` (critical; a
        composite's child: warning, firing) or worse on ``target`` at ``now``.

        A regression rule is critical on the first of its tests (two tiers, the test from
        the grace and up to ten late starts) to reach a bar of 1,333 to 320,000: a peer
        sharing the very same shift, with noise of its own, reaches it a few buckets later
        or, on a short episode, never (held-out-6 ``healthy-payments-slow-fleet``: web-1's
        slow tier's late start at 25 min reaches 6e5 over 8 buckets, web-2's same test 904,
        two of its 8 buckets just under the margin). The veto's question is not "is the
        peer's regression proven at alpha" but "does the peer show the same symptom over
        the same buckets": the same test, begun at the same fixed time against the same
        reference, reaching ``1 / (WITNESS_ALPHA / peers)`` (100 for one peer). A test
        begun at a fixed time is an e-process in its own buckets (``sequential``, "Late
        starts"), so a healthy peer reaches that bar with probability at most
        ``WITNESS_ALPHA / peers``, and some healthy peer at most ``WITNESS_ALPHA``: a
        canary's own regression is held by chance at most that often (and the target's
        test was chosen from the target's data, not the peer's).

        Read *around the target's crossing*: the peer's e-value after each of its buckets
        ending within ``wait`` (at least a bucket) of where the test crossed on ``target``,
        not its peak since the test began. The symptom must be shared at the time: a peer
        whose blip an hour before has long been answered by healthy buckets (its e-value
        falls with each) witnesses nothing; the target's test stays breached for the rest
        of the watch, and so, read at a fixed time, does the witness."""
        outcome = self._fleet.judge(rule.id, target, now=now, reference=None)
        evidence = outcome.evidence
        crossed = evidence.get("crossed_at")
        if outcome.severity < bar or not isinstance(crossed, int | float):
            return None
        tier = evidence.get("tier")
        tier_name = tier if isinstance(tier, str) else None
        # A late or an early start is a test begun at a fixed time: the peer's witness too.
        fixed = evidence.get("fired_by") in ("late", "early")
        start = evidence.get("fired_start_s") if fixed else None
        start_s = float(start) if isinstance(start, int | float) else None
        alpha = WITNESS_ALPHA / max(1, peers)
        key = (rule.id, tier_name, start_s, alpha)
        made = rules.cached(
            self._witness_rules,
            key,
            lambda: sequential.witness_test(rule, tier=tier_name, start_s=start_s, alpha=alpha),
            limit=_PEER_WATCHES,
        )
        width = evidence.get("bucket_s")
        slack = max(self.config.wait, width if isinstance(width, int | float) else 0.0)
        said: dict[str, object] = {
            "tier": tier_name or "fast",
            "start_s": start_s,
            "crossed_at": float(crossed),
            "within_s": slack,
            "alpha": alpha,
            "e_threshold": 1.0 / alpha,
        }
        return Witness(made, float(crossed) - slack, float(crossed) + slack, said)

    def _witnessed(
        self,
        witness: Witness,
        peer: ids.TargetId,
        reference: Reference,
        *,
        now: float,
        probe: str | None = None,
    ) -> float:
        """The highest log e-value of ``witness``'s test on ``peer`` after a bucket ending
        within its span around the target's crossing (-inf: none yet); read on ``probe``
        (a host of another role's own check, :meth:`other_roles`), else on the test's."""
        test = witness.test
        margin = (test.grace, test.alpha, test.min_ratio, test.min_delta)
        if probe is not None and probe != test.probe:
            # The very test (tier, margin, start, reference period), on the peer's check.
            original = test
            test = rules.cached(
                self._witness_rules,
                (test.id, test.probe, *margin, probe),
                lambda: original.model_copy(update={"probe": probe}),
                limit=_PEER_WATCHES,
            )
        key = (peer, test.id, reference, (*margin, test.probe))
        state = rules.cached(
            self._witness_watches, key, lambda: sequential.Watch(trail=[]), limit=_PEER_WATCHES
        )
        sequential.judge_self(
            test,
            self._fleet.window(peer, test.probe),
            now=now,
            reference_at=reference[0],
            reference_end=reference[1],
            floor=self._fleet.floor(test.probe),
            state=state,
            volume=volume.of(test.volume, lambda source: self._fleet.window(peer, source)),
        )
        trail = state.trail or []
        return max(
            (log_e for end, log_e in trail if witness.start <= end <= witness.end),
            default=-math.inf,
        )

    def peers(
        self,
        target: ids.TargetId,
        rule_id: str,
        *,
        now: float,
        upgraded: bool = False,
    ) -> list[tuple[ids.TargetId, float]]:
        """The peers of ``target`` for ``rule_id`` at ``now``, sorted, each with when it was
        last observed (its newest value at or before ``now`` of the sources the rule reads;
        the oldest of them when it reads several).

        A peer: another target the rule applies to, with the same values of the veto's
        ``match_labels``, no upgrade mark (started or ended) in the last
        ``not_upgraded_for`` (``upgraded``: one, and an ``upgrade`` mark in force: the peers
        of a target with no upgrade), and a value of a source the rule reads no older than
        ``wait`` and the slowest of those sources' intervals (a target never observed there,
        or silent since, is no witness either way). It is judged at ``now`` from what has
        been folded in: once every observation of an instant is in, the order they came in
        changes nothing (``replay`` folds an instant whole before judging it, and judges a
        held target again when a peer reports: ``Engine.held_targets``).
        """
        fleet = self._fleet
        model = fleet.target_model(target)
        keys = self.config.match_labels
        wanted = [model.labels.get(key) for key in keys]
        sources = self._reads.get(rule_id, ())
        # A peer silent longer than the wait and one check is no witness (a host gone, a
        # recording that does not follow it): waiting for it would cost every rollback the
        # whole wait.
        stale = now - self.config.wait - max((fleet.floor(s) or 0.0 for s in sources), default=0.0)
        found: list[tuple[ids.TargetId, float]] = []
        for other in sorted(fleet.targets()):
            if other == target:
                continue
            if rule_id not in fleet.applying(other):
                continue
            if [fleet.target_model(other).labels.get(key) for key in keys] != wanted:
                continue
            recent = fleet.upgraded_since(other, now - self.config.not_upgraded_for, now)
            if recent is not upgraded:
                continue
            if upgraded and fleet.reference(other, now) is None:
                continue  # being upgraded, not yet done: not a witness of anything
            seen = self.newest(other, rule_id, now=now)
            if stale <= seen < math.inf:
                found.append((other, seen))
        return found

    def other_roles(
        self, target: ids.TargetId, rule_id: str, *, now: float
    ) -> list[tuple[ids.TargetId, str]]:
        """The hosts of other roles that may witness ``rule_id`` on ``target`` at ``now``,
        sorted, each with the probe of its own check read for it (round 9; held-out-8
        ``healthy-canary-then-fleet-network-event``).

        A network or shared-infrastructure event (a switch reconverging, a DNS resolver, a
        cloud zone) slows every host behind it at once, whatever its role; the peers of the
        target's own role may all be upgraded by then (a rollout's later waves), so the
        hosts left to witness are of other roles. Their presets differ, but a check's round
        trip (:data:`CHECK_FIELDS`), measured from the prober across the same network, is
        comparable: such a host witnesses when a regression rule of its own role on the same
        field (``_comparable``) applies to it, ``rule_id`` does not (a host it applies to is
        a peer of the same role, :meth:`peers`), it has the veto's ``match_labels`` values
        of ``target``, no upgrade mark (started or ended) in the last ``not_upgraded_for``
        (a host upgraded in that time may carry the very release, whose fault's onset its
        own mark sets, not the event), and a value of that probe no older than ``wait`` and
        its interval. It only witnesses (:meth:`_verdict`): never waited for."""
        others = self._comparable.get(rule_id, ())
        if not others:
            return []
        fleet = self._fleet
        keys = self.config.match_labels
        wanted = [fleet.target_model(target).labels.get(key) for key in keys]
        found: list[tuple[ids.TargetId, str]] = []
        for other in sorted(fleet.targets()):
            applying = fleet.applying(other)
            if other == target or rule_id in applying:
                continue
            own = next((rule for rule in others if rule in applying), None)
            if own is None:
                continue
            if [fleet.target_model(other).labels.get(key) for key in keys] != wanted:
                continue
            if fleet.upgraded_since(other, now - self.config.not_upgraded_for, now):
                continue
            probe = _probe(self._by_id[own])
            window = fleet.window(other, probe)
            newest = window.last(1, until=now) if window is not None else ()
            stale = now - self.config.wait - (fleet.floor(probe) or 0.0)
            if newest and newest[0].time >= stale:
                found.append((other, probe))
        return found

    def newest(self, target: ids.TargetId, rule_id: str, *, now: float) -> float:
        """When ``target`` was last observed for ``rule_id``: its newest value at or before
        ``now`` of the sources the rule reads, the oldest of them when it reads several
        (infinity: never observed there)."""
        seen = math.inf
        for source in self._reads.get(rule_id, ()):
            window = self._fleet.window(target, source)
            newest = window.last(1, until=now) if window is not None else ()
            if newest:
                seen = min(seen, newest[0].time)
        return seen

    def peer_regression(
        self,
        rule: models.RegressionRule,
        peer: ids.TargetId,
        reference: Reference,
        *,
        now: float,
    ) -> rules.Outcome:
        """A regression rule against its own past on ``peer``, with another target's upgrade
        as the reference (:meth:`why_held`): its own sequential state per reference, so the
        peer's own watch is never folded again for it. :func:`sources_needed` refused the
        other kinds of regression."""
        key = (peer, rule.id, reference)
        slots = rules.cached(self._peer_watches, key, list, limit=_PEER_WATCHES)
        # A peer is judged at ``now`` and at the target's newest check, a little earlier
        # (``_verdict``): a watch asked about an earlier time than its last folds again from
        # the start, so two are kept, each asked at times that only go forward.
        ahead = [slot for slot in slots if slot.at <= now]
        if ahead:
            slot = max(ahead, key=lambda kept: kept.at)
        elif len(slots) < 2:
            slot = _Slot(now)
            slots.append(slot)
        else:
            slot = min(slots, key=lambda kept: kept.at)
        slot.at = now
        state = slot.watch
        return sequential.judge_self(
            rule,
            self._fleet.window(peer, rule.probe),
            now=now,
            reference_at=reference[0],
            reference_end=reference[1],
            floor=self._fleet.floor(rule.probe),
            state=state,
            volume=volume.of(rule.volume, lambda source: self._fleet.window(peer, source)),
        )


def sources_needed(
    by_id: Mapping[str, models.RuleBase], listed: Sequence[str]
) -> dict[str, float | None]:
    """The sources whose windows the fleet veto needs longer (the leaves under the listed
    rules: judged ``wait`` ago, and on peers against another target's reference period),
    each with the longest reference period a rule on it reads beyond its own history (a
    peer has no pin at another target's mark), None when no rule on it reads one; a
    ConfigError for a rule it cannot hold soundly.

    Refused: an unknown id; a listed rule that one event can decide alone: a single-event
    leaf (an alert rule, or a threshold one failing check fires: ``consecutive: 1``, no
    ``for``, one episode) listed, or under composites that one firing child satisfies
    (``any``, ``at_least`` 1, ``all`` of one): a kernel panic on the upgraded host is its
    own, whatever its peers show (under ``at_least: 2`` it is one witness of two and may be
    listed); a cohort rule, or a regression rule against a cohort, anywhere below (they
    compare with peers themselves).
    """
    problems: list[str] = []
    sources: dict[str, float | None] = {}

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
        elif isinstance(
            rule,
            models.RegressionRule
            | models.BaselineRule
            | models.TrendRule
            | models.BurstRule
            | models.CeilingRule,
        ):
            sources[rule.probe] = max(sources.get(rule.probe) or 0.0, rule.before)
        elif alone and _one_event(rule):
            problems.append(
                f"policy.fleet_veto: {top!r} fires on one event of {rule_id!r} (one failing "
                "check or one alert); an event on the upgraded host is its own, never held"
            )
        elif isinstance(rule, rules.LeafRule):  # judged ``wait`` ago too
            if read := rules.reference_read(rule):  # a rate per unit pace: a reference too
                sources[rule.probe] = max(sources.get(rule.probe) or 0.0, read)
            else:
                sources.setdefault(rule.probe, None)

    for rule_id in listed:
        if rule_id not in by_id:
            problems.append(f"policy.fleet_veto: unknown rule {rule_id!r}")
        else:
            visit(rule_id, rule_id, alone=True)
    if problems:
        raise errors.ConfigError(problems[0], problems=problems)
    return sources


def holdable(by_id: Mapping[str, models.RuleBase]) -> list[str]:
    """``rules: auto``: every critical rule the veto can hold soundly (see
    :func:`sources_needed`), in configuration order."""
    found: list[str] = []
    for rule_id, rule in by_id.items():
        if rule.severity != "critical":
            continue
        try:
            sources_needed(by_id, [rule_id])
        except errors.ConfigError:
            continue  # one event decides it, or it compares with peers itself
        found.append(rule_id)
    return found


def _one_event(rule: models.RuleBase) -> bool:
    """True for a rule one event on the host fires, whatever else its window holds: the
    event is the upgraded host's own, never a fleet symptom that a peer's explains away.

    - an alert;
    - a threshold on one failing check (``consecutive: 1``, no ``for``, one episode: a
      kernel panic line);
    - a count of events that its first event fires (round 12): one event (an observation
      of value 1, as a log probe counts each OOM kill, stall, hang) over the whole window
      is a rate of ``per / window`` (a young source's is higher still), so one fires it
      when ``per / window > above``; with ``min_samples: 1`` (the event's own observation
      is enough) and no ``steady`` pace (at least three crashes). Every ``above: 0``
      count: the presets' ``oom-kill-now``, ``stall-now``, ``nic-hang-now``,
      ``unit-gave-up-now``, the database host's ``oom-kills``. Not ``above: 1`` over a
      window as long as ``per`` (two events), nor 10 lines a minute over 5 minutes (50: a
      sustained level).

    A ratio of failing health checks is not one of them, even one that one failed check
    fires (``check-failed-now``): a failed check is a symptom, which a network blip or a
    dependency under the whole fleet causes as well, and a peer failing at the same time
    says it did (round 12, docs/architecture.md).
    """
    if isinstance(rule, models.AlertRule):
        return True
    if isinstance(rule, models.ThresholdRule):
        return rule.consecutive <= 1 and not rule.for_ and rule.episodes <= 1
    if isinstance(rule, models.RateRule):
        return rule.min_samples <= 1 and rule.steady is None and rule.above * rule.window < rule.per
    return False


def _reads(by_id: Mapping[str, models.RuleBase], rule_id: str) -> tuple[str, ...]:
    """The sources the leaves under ``rule_id`` read, sorted (alert rules read none)."""
    found: set[str] = set()
    stack = [rule_id]
    while stack:
        rule = by_id[stack.pop()]
        if isinstance(rule, composites.CompositeRule):
            stack.extend(rule.rules)
        elif isinstance(
            rule, rules.LeafRule | models.RegressionRule | models.CohortRule | models.BurstRule
        ):
            found.add(rule.probe)
    return tuple(sorted(found))


def _comparable(by_id: Mapping[str, models.RuleBase], rule_id: str) -> tuple[str, ...]:
    """The rules of other roles that read the same symptom as ``rule_id`` on their own
    check (:meth:`Veto.other_roles`): for a regression rule against its own past on a
    check's field (:data:`CHECK_FIELDS`, aggregated as a quantile), every other such rule on
    the same field, in configuration order; () for any other rule."""
    rule = by_id[rule_id]
    if not _on_a_check(rule):
        return ()
    return tuple(
        other_id
        for other_id, other in by_id.items()
        if other_id != rule_id and _on_a_check(other) and other.field == rule.field
    )


def _on_a_check(rule: models.RuleBase) -> TypeGuard[models.RegressionRule]:
    return (
        isinstance(rule, models.RegressionRule)
        and rule.against == "self"
        and rule.aggregate == "quantile"
        and rule.field in CHECK_FIELDS
    )


def _probe(rule: models.RuleBase) -> str:
    if not isinstance(rule, models.RegressionRule):  # only these are comparable
        raise TypeError(f"not a regression rule: {rule.id!r}")
    return rule.probe


def _on_its_way(rule: models.RuleBase, outcome: rules.Outcome) -> bool:
    """True when a peer's outcome shows the rule's condition starting to hold: a threshold
    whose newest value fails it (``pending``: two of ``down``'s three failed checks), or a
    composite with a child firing (a second witness may follow). Not a regression test
    leaning that way, nor a baseline with some values failing: among many healthy peers one
    always does, and every rollback would wait the whole ``wait``."""
    if isinstance(rule, composites.CompositeRule):
        return bool(outcome.evidence.get("firing"))
    return isinstance(rule, models.ThresholdRule) and outcome.pending


def _discount_said(
    discounted: Mapping[str, Sequence[str]],
    awaited: Mapping[str, Sequence[str]],
    wait: float,
    *,
    waiting: bool,
) -> str:
    """A held composite's reason (:meth:`Veto._discount`), for a person: which children
    were not counted as witnesses of the upgrade's fault and why, which are waited for."""
    parts = [
        f"{child} also firing on {_names(peers)}, not upgraded: a fleet symptom, not counted"
        for child, peers in discounted.items()
    ]
    asked: dict[tuple[str, ...], list[str]] = {}  # the children awaited, by who may show them
    for child, peers in awaited.items():
        asked.setdefault(tuple(peers), []).append(child)
    parts += [
        f"waiting up to {durations.format_duration(wait)} for {_names(peers)} (not upgraded) "
        f"to show {', '.join(children)} or not"
        for peers, children in asked.items()
    ]
    left = "too few may be left" if waiting else "too few are left"
    return "; ".join(parts) + f"; {left} that only the upgraded host shows"


def _below(by_id: Mapping[str, models.RuleBase], rule_id: str) -> Iterator[str]:
    """The rules under ``rule_id`` through composites, depth first (none for a leaf)."""
    rule = by_id[rule_id]
    if isinstance(rule, composites.CompositeRule):
        for child in rule.rules:
            yield child
            yield from _below(by_id, child)


def _names(peers: Sequence[str]) -> str:
    shown = ", ".join(peers[:_PEERS_SHOWN])
    if len(peers) > _PEERS_SHOWN:
        shown += f" and {len(peers) - _PEERS_SHOWN} more"
    return shown
