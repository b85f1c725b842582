"""Rules: one pure function per leaf rule kind, from a window and ``now`` to an outcome.

Each function reads only its window and the times it is given, and answers with an
:class:`Outcome`: a severity, one human sentence, and the evidence that produced it. The engine
adds the rule's id, kind and version to the evidence and turns outcomes into decisions.

Shared semantics (the configuration models document the per-kind ones):

* only valid observations (no ``error``) are looked at: windows never hand out errors;
* too little data (fewer than ``min_samples`` / ``consecutive`` values, no value at all) is
  severity OK with ``evidence["no_data"] = True``. Missing data never raises a warning or a
  rollback by itself; a blind detector is reported separately (see ``blindness``);
* a threshold is measured on its probe's checks alone (valid observations up to ``now``):
  ``consecutive: N`` wants the newest N to breach, ``for: T`` wants the newest run of
  breaching checks to span at least T from its first to its last check. Not "until now": a
  rule changes only when its own probe reports, whatever else is folded in at the same time;
* windows are ``(now - window, now]``; a baseline's reference period is
  ``[ref - before, ref)`` with ``ref`` where the latest ``upgrade`` mark at or before ``now``
  began (its ``upgrade_started`` mark, else the mark itself: ``engine.Engine._reference_end``);
  with no such mark a baseline has no data: a target never upgraded has no "before the
  upgrade" (and nothing to roll back), and a symptom the whole fleet shows is not an upgrade's;
* a rate divides by the window, except for a source first seen less than a window ago, which
  divides by the time since its first value, but never by less than one ``per`` (at most the
  window) nor the probe's interval: a fresh probe's burst is not diluted by time nobody was
  looking, and a count is never extrapolated above what was seen (``_rate_floor``);
* a baseline limit is ``baseline * max_increase`` (for a negative baseline, the same distance
  above it: ``baseline + |baseline| * (max_increase - 1)``); a zero baseline is breached by
  any current value at least ``max(min_delta, 1e-9)``.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rollsafe.config import durations, models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import (
    ceiling,
    conditions,
    programs,
    trend,
    unit_pace,
    units,
    victims,
    windows,
)

__all__ = [
    "EPSILON",
    "BaselineState",
    "LeafRule",
    "Memo",
    "Outcome",
    "ThresholdState",
    "baseline",
    "cached",
    "decide",
    "evaluate_leaf",
    "history_needed",
    "rate",
    "ratio",
    "reads_reference",
    "reference_read",
    "threshold",
    "trending",
    "values_needed",
    "version",
]

LeafRule = (
    models.ThresholdRule
    | models.RatioRule
    | models.RateRule
    | models.BaselineRule
    | models.TrendRule
    | models.CeilingRule
)
EPSILON = 1e-9  # the smallest increase over a zero baseline that counts as one


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rule concluded: severity, one sentence, and the evidence behind it.

    ``pending``: the rule is not firing but its condition has started to hold (the newest
    value breaches, a test's evidence grows), so the target is worth looking at again soon.
    The engine carries it to ``Decision.pending``; it is not part of the evidence.
    """

    severity: verdicts.Severity
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    pending: bool = False


@dataclass(slots=True)
class Memo:
    """The last outcome of one rule on one target, and the inputs it was computed from.

    Re-judging a target after every observation mostly finds a rule's inputs unchanged (the
    observation was from another source): with a memo, such a rule answers the outcome it gave
    last time instead of rebuilding the same sentence and evidence. The key holds everything
    the outcome depends on (the values read, by :attr:`windows.Span.identity`, and the times
    and durations that appear in it), so a hit gives exactly what computing again would.
    """

    key: object = None
    outcome: Outcome | None = None
    trend: trend.Cache | None = None  # a trend rule's fits, which outlive a changed key

    def recall(self, key: object) -> Outcome | None:
        return self.outcome if self.key == key else None

    def keep(self, key: object, outcome: Outcome) -> Outcome:
        self.key = key
        self.outcome = outcome
        return outcome


_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


def cached(cache: dict[_K, _V], key: _K, make: Callable[[], _V], *, limit: int) -> _V:
    """``cache[key]``, made by ``make`` when absent; a cache that reached ``limit`` entries
    is emptied first (a state dropped is only folded again from its window)."""
    found = cache.get(key)
    if found is None:
        if len(cache) >= limit:
            cache.clear()
        found = cache[key] = make()
    return found


def version(rule: models.RuleBase) -> str:
    """A short fingerprint of the rule's definition, so evidence says which version decided."""
    return hashlib.sha256(rule.model_dump_json().encode()).hexdigest()[:12]


def history_needed(rule: models.RuleBase) -> float:
    """Seconds of history behind the newest value this rule reads (windows trim to the max)."""
    if isinstance(rule, models.ThresholdRule):
        return max(rule.for_ or 0.0, rule.within or 0.0)
    if isinstance(rule, models.RatioRule | models.RateRule | models.CohortRule):
        return rule.window + reference_read(rule)
    if isinstance(rule, models.BaselineRule | models.TrendRule):
        return rule.window + rule.before
    if isinstance(rule, models.RegressionRule):
        # The whole watch after the mark; and the reference period, pinned at the mark from
        # the values the window still holds then (a ``before`` longer than the watch).
        reference = rule.before if rule.against == "self" else 0.0
        if rule.against == "peers":
            # Its reference buckets are read when first judged after the mark, unpinned.
            return rule.watch + rule.bucket + rule.before + 3600.0  # the reference may end an
            # hour before the mark (an ``upgrade_started`` mark)
        return max(rule.watch + rule.bucket, reference)
    if isinstance(rule, models.BurstRule):
        return max(rule.watch + rule.bucket, rule.before)
    if isinstance(rule, models.CeilingRule):
        return rule.for_ + rule.bucket  # the reference is pinned at the mark (``before``)
    return 0.0


def reads_reference(rule: models.RuleBase) -> bool:
    """True for a leaf rule that reads the period before the upgrade (a baseline, a trend, a
    rate rule with ``unit_pace_before``): the engine hands it the ``upgrade`` mark in force."""
    return (
        isinstance(rule, models.BaselineRule | models.TrendRule | models.CeilingRule)
        or reference_read(rule) > 0
    )


def reference_read(rule: models.RuleBase) -> float:
    """Seconds before the upgrade a rate rule reads (its ``unit_pace_before``; 0: none)."""
    if isinstance(rule, models.RateRule) and rule.unit_pace_before is not None:
        return rule.unit_pace_before
    return 0.0


def values_needed(rule: models.RuleBase) -> int:
    """How many newest values the rule reads regardless of their age."""
    if isinstance(rule, models.ThresholdRule):
        if rule.for_ is not None and rule.consecutive > 2:  # a short run's pace (``_counts``)
            return rule.consecutive + PACE_SPACINGS
        return rule.consecutive
    return 1


def evaluate_leaf(
    rule: LeafRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None = None,
    reference_end: float | None = None,
    rate_floor: float | None = None,
    memo: Memo | None = None,
) -> Outcome:
    """Dispatch to the rule kind's function; ``window`` is None when the source never spoke.

    ``reference_at``: the latest ``upgrade`` mark; ``reference_end``: where a baseline's
    reference period ends (the upgrade's start when one was marked, see notes; None: at
    ``reference_at``). ``memo``, kept by the caller per (target, rule), saves recomputing an
    unchanged outcome.
    """
    if isinstance(rule, models.ThresholdRule):
        return threshold(rule, window, now=now, memo=memo)
    if isinstance(rule, models.RatioRule):
        return ratio(rule, window, now=now, memo=memo)
    if isinstance(rule, models.RateRule):
        return rate(
            rule,
            window,
            now=now,
            reference_at=reference_at,
            reference_end=reference_end,
            floor=rate_floor,
            memo=memo,
        )
    if isinstance(rule, models.TrendRule):
        return trending(rule, window, now=now, reference_at=reference_at, memo=memo)
    if isinstance(rule, models.CeilingRule):
        return above_ceiling(rule, window, now=now, reference_at=reference_at)
    return baseline(
        rule,
        window,
        now=now,
        reference_at=reference_at,
        reference_end=reference_end,
        floor=rate_floor,
        memo=memo,
    )


# --------------------------------------------------------------------------- helpers


def _breach_severity(rule: models.RuleBase, breached: bool) -> verdicts.Severity:
    return verdicts.Severity.parse(rule.severity) if breached else verdicts.Severity.OK


def _span_of(values: Sequence[observations.Observation]) -> dict[str, Any]:
    return {
        "samples": len(values),
        "first_time": values[0].time if values else None,
        "last_time": values[-1].time if values else None,
    }


def _range_of(span: windows.Span) -> dict[str, Any]:
    return {"samples": len(span), "first_time": span.first_time, "last_time": span.last_time}


def _range(window: windows.Window | None, start: float, end: float) -> windows.Span:
    return windows.EMPTY if window is None else window.range(start, end)


def _no_data(
    probe: str, reason: str, evidence: dict[str, Any], *, pending: bool = False
) -> Outcome:
    evidence = {**evidence, "no_data": True, "reason": reason}
    return Outcome(verdicts.Severity.OK, f"{probe}: no data ({reason})", evidence, pending)


def _duration(seconds: float) -> str:
    return durations.format_duration(seconds)


def _covered(end: float, length: float, first_value_time: float | None, floor: float) -> float:
    """Seconds a period of ``length`` ending at ``end`` was actually watched (see notes)."""
    if first_value_time is None or first_value_time <= end - length:
        return length
    return min(length, max(end - first_value_time, floor))


def _sum_values(span: windows.Span) -> tuple[float, int]:
    # Read from the window's running totals: exactly fsum over the span (see ``windows``).
    return span.total("value"), span.present("value")


# --------------------------------------------------------------------------- threshold


def threshold(
    rule: models.ThresholdRule,
    window: windows.Window | None,
    *,
    now: float,
    memo: Memo | None = None,
) -> Outcome:
    """The failing checks of the probe: ``consecutive`` in a row, spanning ``for`` (see notes).

    The outcome depends on the values up to ``now`` and the target's upgrade marks, and on
    nothing else: not on ``now`` itself (a streak's length is measured between its own checks,
    and it starts at the latest ``upgrade`` mark before its newest check), so not on which
    other source's observation at the same time was folded in first.
    """
    if rule.episodes > 1:
        return _episodic(rule, window, now=now, memo=memo)
    if memo is None or window is None:
        return _threshold(rule, window, now=now)
    key = (window.range(-math.inf, now).identity, window.holds.version)
    known = memo.recall(key)
    if known is not None:
        return known
    return memo.keep(key, _threshold(rule, window, now=now))


def _streak(
    rule: models.ThresholdRule, window: windows.Window, *, now: float, most: int | None = None
) -> tuple[int, int]:
    """The newest run of failing checks up to ``now``: (how many, the index just after its
    newest check in the window's values; its checks are the ``count`` before it).

    Walks back from the newest value while it fails (``_counts_as_failing``). Errors are not
    values: they neither break nor extend a streak. A run longer than the window remembers
    stops at the oldest value kept, which lies at least ``for`` before the newest (see
    ``windows``): the count and first time are then "at least" figures, and the decision is
    the same. Whether it counts is :func:`_counts`'s to say. With ``most``, the walk stops
    there (without ``for``, ``consecutive`` is all a streak can need).
    """
    series = window.series
    end = bisect.bisect_right(series.times, now)
    if not end:
        return 0, end
    items = series.items
    cut = window.holds.cut(items[end - 1].time)  # the upgrade mark before the newest check
    count = 0
    for index in range(end - 1, -1 if most is None else max(-1, end - 1 - most), -1):
        if not _counts_as_failing(rule, window, items[index], cut):
            break
        count += 1
    return count, end


def _lasting(rule: models.ThresholdRule) -> bool:
    """A rule about how long or how often something lasted (``consecutive`` > 1, ``for``,
    ``episodes``), not about one event: a check failing through an upgrade's own restart is
    not what it measures."""
    return rule.consecutive > 1 or rule.for_ is not None or rule.episodes > 1


def _counts_as_failing(
    rule: models.ThresholdRule,
    window: windows.Window,
    obs: observations.Observation,
    cut: float,
) -> bool:
    """``obs`` breaches and, for a lasting rule, was made after the upgrade: not before the
    latest ``upgrade`` mark at or before the newest check (``cut``: ``Holds.cut`` of its
    time; a run of failing checks never spans an upgrade mark), not while its target was
    being upgraded (from ``upgrade_started`` to ``upgrade``, see ``engine.mark``)."""
    if not _breaches(rule, obs):
        return False
    holds = window.holds
    if not holds.ends and not holds.intervals:  # the common case: never upgraded here
        return True
    if not _lasting(rule):
        return True
    return obs.time >= cut and not holds.covers(obs.time)


def _breaches(rule: models.ThresholdRule, obs: observations.Observation) -> bool:
    """``obs`` meets the condition and, with ``units``, is about a guarded unit."""
    if not conditions.compare(conditions.field_of(obs, rule.field), rule.op, rule.value):
        return False
    return rule.units is None or units.guards(obs.text, rule.units)[0]


def _lasted(
    rule: models.ThresholdRule, times: Sequence[float], end: int, checks: int, steady: Steady
) -> float:
    """How long a run of ``checks`` failing checks ending at ``times[end - 1]`` lasted, as
    ``for`` reads it (``times``, ``steady``: as :func:`_counts` has them): its span, from its
    first failing check to its last; or, with ``for_over: checks``, what the run stands for:
    its span and the time before its first check since the check before it, the last that
    did not fail (the outage began after it, so by the run's last check it has lasted at
    least the span and at most the span and that time). That time counts for at most
    ``PACE_SLACK`` times the probe's pace read from the checks before the run (:func:`_pace`:
    a monitoring gap is not an outage), and for at most the span (a run stands for at most
    twice its span: one check for 0 s, and a probe whose steady checks show no pace has only
    the run to go by); with no check before the run (the probe's first), for nothing. Every
    15 s after a passing check, 6 failing checks span 75 s and stand for 90 s; after a 60 s
    monitoring gap, 97.5 s (75 + 1.5 x 15); as the probe's first checks, 75 s.

    Monotone in evidence: a failing check added inside the run or after it changes neither
    its first check, the check before it nor the checks the pace is read from; one added
    between the check before and the run moves the start back by as much as the time before
    can lose; a check before the run that comes to fail joins it, the span growing by all of
    the time before, at least what it counted; and the pace never falls (:func:`_pace`; the
    checks it reads are those the window holds, fewer only when more came). Only the probe's
    own checks enter, never its configured interval nor "now". (A run's own mean spacing,
    ``span * checks / (checks - 1)`` until round 11, falls when a failing check is added
    inside it: two checks 30 s apart stood for 60 s, three across the same 30 s for 45 s.)
    """
    first = end - checks
    span = times[end - 1] - times[first] if checks else 0.0
    if rule.for_over != "checks" or first < 1 or checks < 2:
        return span
    pace = _pace(rule, times, first, steady)
    bound = span if pace is None else min(span, PACE_SLACK * pace)
    return span + min(times[first] - times[first - 1], bound)


PACE_SPACINGS = 8
"""Checks read before a run's newest (beyond ``consecutive``) to know the probe's own pace:
its interval as its steady checks show it (never the configured one, never "now")."""

PACE_SLACK = 1.5
"""Failing checks came at the probe's pace when no gap between them is longer than this many
times its pace: a lost check or two (errors, a monitoring gap) is not a pace."""

Steady = Callable[[int], bool]
"""Whether the probe's check at an index of its times does not count as failing."""


def _counts(
    rule: models.ThresholdRule, times: Sequence[float], end: int, checks: int, steady: Steady
) -> bool:
    """Whether a run of failing checks meets ``consecutive`` and ``for``: what a streak is,
    for every path that judges one (the full evaluation, :func:`decide`,
    :class:`ThresholdState`, the runs ``episodes`` counts).

    ``times`` are the probe's check times, oldest first (errors are not checks); the run is
    its ``checks`` ending at ``times[end - 1]``; ``steady`` tells the checks that do not fail.
    ``consecutive`` asks for checks *at the probe's pace* spanning ``for``: ``consecutive``
    failing checks whose span (or, with ``for_over: checks``, what they stand for,
    :func:`_lasted`) is at least ``for``; or, with ``for``, as few as 2 of the run's checks in
    a row that came at the probe's pace and span ``for`` themselves (:func:`_paced`). For a
    probe every 30 or 60 s, ``consecutive: 3, for: 30s`` would otherwise ask 60 to 120 s of a
    service refused for 30; with a fast probe nothing changes (``consecutive`` checks span
    ``for`` before fewer could). Two checks far apart across a monitoring gap are not at a
    pace, and need ``consecutive``.
    """
    if checks < 1:
        return False
    span = times[end - 1] - times[end - checks]
    if checks >= rule.consecutive:
        return rule.for_ is None or _lasted(rule, times, end, checks, steady) >= rule.for_
    return (
        rule.for_ is not None
        and span >= rule.for_  # the span itself, even under ``for_over: checks``
        and _paced(rule, times, end, checks, steady) is not None
    )


def _pace(
    rule: models.ThresholdRule, times: Sequence[float], end: int, steady: Steady
) -> float | None:
    """The probe's pace (seconds) as the checks up to ``times[end - 1]`` show it: the
    shortest spacing above 0 between successive steady checks (those that do not fail)
    among its newest ``consecutive + PACE_SPACINGS``; None when they show none.

    Only steady checks, and the shortest of their spacings, so that worse evidence can never
    make the pace look faster: a failing check added anywhere is not steady (it can only push
    the oldest check read out), and a steady check that comes to fail drops out, joining the
    two spacings beside it into one longer than either. Fewer steady checks, or fewer of their
    spacings, never make the shortest one shorter."""
    read = range(max(0, end - rule.consecutive - PACE_SPACINGS), end)
    steadies = [times[i] for i in read if steady(i)]
    return min((b - a for a, b in itertools.pairwise(steadies) if b > a), default=None)


def _paced(
    rule: models.ThresholdRule,
    times: Sequence[float],
    end: int,
    checks: int,
    steady: Steady,
    *,
    spanning: float | None = None,
) -> float | None:
    """The pace a run of ``checks`` ending at ``times[end - 1]`` came at when 2 or more of its
    checks in a row came at the probe's pace (:func:`_pace`: no gap between them longer than
    ``PACE_SLACK`` times it) and span ``for`` (or ``spanning``), else None. A probe whose
    steady checks show no pace (new, or failing or flapping as far back as it is read) shows
    none faster than the run: its pace is then the widest gap of those checks.

    Monotone in evidence: a failing check added into the run (or after it) only splits a gap,
    a check that comes to fail before it only lengthens the run, and the pace never falls
    (:func:`_pace`), so checks in a row that counted still do."""
    if rule.for_ is None or checks < 2:
        return None
    least = rule.for_ if spanning is None else spanning
    pace = _pace(rule, times, end, steady)
    limit = math.inf if pace is None else PACE_SLACK * pace
    first = end - checks
    widest = 0.0
    for index in range(end - checks + 1, end):
        gap = times[index] - times[index - 1]
        if gap > limit:  # a monitoring gap: checks in a row start again after it
            first, widest = index, 0.0
            continue
        widest = max(widest, gap)
        if times[index] - times[first] >= least:
            return widest if pace is None else pace
    return None


def _checks_needed(
    rule: models.ThresholdRule, times: Sequence[float], end: int, checks: int, steady: Steady
) -> int:
    """The failing checks ``consecutive`` asks of a run (see :func:`_counts`): 2 for one of
    fewer than ``consecutive`` checks with 2 in a row at the probe's pace (the rest is
    ``for``'s to ask), else ``consecutive`` (one check has no pace yet)."""
    paced = _paced(rule, times, end, checks, steady, spanning=0.0)
    if 2 <= checks < rule.consecutive and paced is not None:
        return 2
    return rule.consecutive


def _steady(rule: models.ThresholdRule, window: windows.Window, end: int) -> Steady:
    """Which of the window's checks do not fail, read as a streak ending at ``end`` reads
    them (``_counts_as_failing``, the upgrade mark before its newest check)."""
    items = window.series.items
    cut = window.holds.cut(items[end - 1].time) if end else -math.inf
    return lambda index: not _counts_as_failing(rule, window, items[index], cut)


def _upgrade_words(
    raw: Sequence[bool],
    hits: Sequence[bool],
    last: Sequence[observations.Observation],
    cut: float,
    *,
    from_mark: bool,
) -> str | None:
    """Why failing checks did not count, when an upgrade is why (see ``_counts_as_failing``);
    None when it is not (the newest check passes, or nothing was left out)."""
    if all(raw):
        if from_mark:
            since = _duration(last[-1].time - cut)
            return (
                "failing since before the upgrade ended: judged from its end "
                f"(its newest check {since} after it)"
            )
        if raw != hits:
            return "while the target was being upgraded (its own restarts and reboots do not count)"
    if raw[-1] and not hits[-1]:
        return "but during the upgrade (its own restarts and reboots do not count)"
    return None


def _threshold_terms(rule: models.ThresholdRule) -> dict[str, Any]:
    """A threshold rule's own terms, first in its evidence (a streak's or its episodes')."""
    return {
        "probe": rule.probe,
        "field": rule.field,
        "op": rule.op,
        "threshold": rule.value,
        "consecutive": rule.consecutive,
        "for_s": rule.for_,
    }


def _threshold(rule: models.ThresholdRule, window: windows.Window | None, *, now: float) -> Outcome:
    evidence = _threshold_terms(rule)
    last = [] if window is None else window.last(rule.consecutive, until=now)
    if not last or window is None:
        return _no_data(rule.probe, "no valid observation", {**evidence, **_span_of(last)})
    numbers = [conditions.field_of(o, rule.field) for o in last]
    evidence.update(_span_of(last), value=numbers[-1], values=numbers)
    if len(last) < rule.consecutive:
        reason = f"{len(last)} of the {rule.consecutive} values needed in a row"
        # Too few values to decide; if the newest breaches, more are worth getting soon.
        pending = conditions.compare(numbers[-1], rule.op, rule.value)
        return _no_data(rule.probe, reason, evidence, pending=pending)

    raw = [_breaches(rule, o) for o in last]
    cut = window.holds.cut(last[-1].time)
    hits = [_counts_as_failing(rule, window, o, cut) for o in last]
    during_upgrade = raw != hits
    # Failing since before the upgrade mark in force: judged from that mark.
    from_mark = _lasting(rule) and any(r and o.time < cut for r, o in zip(raw, last, strict=True))
    in_a_row = all(hits)
    breached, pace = _measure_streak(rule, window, evidence, now=now, in_a_row=in_a_row)

    head = (
        f"{rule.probe} {rule.field} {conditions.number(numbers[-1])} "
        f"{rule.op} {conditions.number(rule.value)}"
    )
    if breached:
        tail = []
        if pace is not None:
            tail.append(
                f"{evidence['streak_checks']} times in a row, a check every {_duration(pace)}"
            )
        elif rule.consecutive > 1:
            tail.append(f"{rule.consecutive} times in a row")
        if rule.for_ is not None:
            tail.append(_streak_words(rule, evidence))
        summary = head + (f" ({', '.join(tail)})" if tail else "")
    elif (words := _upgrade_words(raw, hits, last, cut, from_mark=from_mark)) is not None:
        summary = f"{head}, {words}"
    elif (outside := _unguarded(rule, last[-1], numbers[-1])) is not None:
        summary = f"{head}, {outside}"
    elif not hits[-1]:
        summary = (
            f"{rule.probe} {rule.field} {conditions.number(numbers[-1])}, "
            f"not {rule.op} {conditions.number(rule.value)}"
        )
    elif not in_a_row:
        summary = f"{head}, but only {sum(hits)} of the last {rule.consecutive} values"
    else:
        summary = f"{head}, but {_streak_words(rule, evidence, short=True)}"
    evidence["breached"] = breached
    evidence["no_data"] = False
    if during_upgrade:
        evidence["during_upgrade"] = sum(r and not h for r, h in zip(raw, hits, strict=True))
    if rule.units is not None:
        evidence.update(units=rule.units, named_units=list(units.named(last[-1].text)))
    if from_mark:
        evidence["judged_from"] = cut  # the upgrade mark: failing checks before it not counted
    # The newest value breaches but the rule needs more of them: worth looking again soon.
    pending = hits[-1] and not breached
    return Outcome(_breach_severity(rule, breached), summary, evidence, pending)


def _measure_streak(
    rule: models.ThresholdRule,
    window: windows.Window,
    evidence: dict[str, Any],
    *,
    now: float,
    in_a_row: bool,
) -> tuple[bool, float | None]:
    """Whether the newest streak counts (:func:`_counts`; without ``for``, whether the last
    ``consecutive`` checks fail, ``in_a_row``) and, for one of fewer than ``consecutive``
    checks that counts, the probe's pace; with ``for``, the streak into ``evidence``, with
    the checks ``consecutive`` asks of it (``checks_needed``)."""
    if rule.for_ is None:
        return in_a_row, None
    count, end = _streak(rule, window, now=now)
    times = window.series.times
    since, until = (times[end - count], times[end - 1]) if count else (None, None)
    span = None if since is None or until is None else until - since
    evidence.update(streak_since=since, streak_until=until, streak_checks=count, streak_s=span)
    steady = _steady(rule, window, end)
    if rule.for_over == "checks":
        evidence["lasted_s"] = None if span is None else _lasted(rule, times, end, count, steady)
    needed = _checks_needed(rule, times, end, count, steady)
    evidence["checks_needed"] = needed
    counts = _counts(rule, times, end, count, steady)
    pace = _paced(rule, times, end, count, steady) if counts and count < rule.consecutive else None
    if pace is not None:
        evidence["paced_s"] = pace
    return counts, pace


def _streak_words(
    rule: models.ThresholdRule, evidence: dict[str, Any], *, short: bool = False
) -> str:
    """The streak measured against ``for``, in words (see ``_lasted``)."""
    span = _duration(evidence["streak_s"] or 0.0)
    limit = f" of {_duration(rule.for_ or 0.0)}" if short else ""
    if rule.for_over == "checks":
        lasted = _duration(evidence.get("lasted_s") or 0.0)
        checks = evidence["streak_checks"]
        only = "only " if short else ""
        return f"{checks} failing checks spanning {span}, standing for {only}{lasted}{limit}"
    if short:
        return f"the failing checks span only {span}{limit}"
    return f"failing checks spanning {span}"


def _unguarded(
    rule: models.ThresholdRule, obs: observations.Observation, number: float | None
) -> str | None:
    """Why the newest value does not count when ``units`` is why: it meets the condition
    but names only units outside the rule's (None otherwise)."""
    if rule.units is None or not conditions.compare(number, rule.op, rule.value):
        return None
    guarded, named = units.guards(obs.text, rule.units)
    if guarded:
        return None
    listed = ", ".join(rule.units) or "none declared"
    return f"but about {', '.join(named)}, not a guarded unit ({listed})"


# --------------------------------------------------------------------------- episodes

# The raw condition of a threshold as a windows condition (its prefix counts are kept).
_CONDITIONS: dict[tuple[str, str, float], models.Condition] = {}


def _condition(rule: models.ThresholdRule) -> models.Condition:
    key = (rule.field, rule.op, rule.value)
    found = _CONDITIONS.get(key)
    if found is None:
        found = _CONDITIONS[key] = models.Condition(field=rule.field, op=rule.op, value=rule.value)
    return found


def _within(rule: models.ThresholdRule) -> float:
    # The model requires ``within`` with ``episodes`` above 1, the only case that reads it.
    return rule.within or 0.0


def _runs(
    rule: models.ThresholdRule, window: windows.Window, *, now: float, quick: bool = True
) -> list[tuple[float, float, int]] | None:
    """The runs of failing checks in ``(now - within, now]`` that meet ``consecutive`` and
    ``for``, oldest first: (first check's time, last check's time, checks). None when the
    checks there could not hold ``episodes`` such runs even if every failing one counted
    (read from the window's running counts, without walking the checks: a healthy probe),
    unless not ``quick`` (the evidence lists the runs there are).

    A run is cut at the span's start (only the checks inside count), and a check that does
    not fail ends it; errors are not checks (see ``_streak``). Checks during an upgrade, and
    before the latest ``upgrade`` mark at or before ``now``, do not fail
    (``_counts_as_failing``): the outages counted are the upgrade's own.
    """
    span = window.range(now - _within(rule), now)
    if quick and span.matching(_condition(rule)) < rule.episodes * _fewest_checks(rule):
        return None
    runs: list[tuple[float, float, int]] = []
    first = last = 0.0
    count = 0
    cut = window.holds.cut(now)  # as a streak: runs before the upgrade in force are not its
    times: list[float] = []  # every check's time, for a short run's pace (``_counts``)
    steadies: list[bool] = []  # and whether it did not fail
    for obs in (*span.values(), None):
        if obs is not None and _counts_as_failing(rule, window, obs, cut):
            if not count:
                first = obs.time
            last = obs.time
            count += 1
            times.append(obs.time)
            steadies.append(False)
            continue
        if _counts(rule, times, len(times), count, steadies.__getitem__):
            runs.append((first, last, count))
        count = 0
        if obs is not None:
            times.append(obs.time)
            steadies.append(True)
    return runs


def _fewest_checks(rule: models.ThresholdRule) -> int:
    """The fewest failing checks a run can meet ``consecutive`` with (``_counts``)."""
    return min(rule.consecutive, 2) if rule.for_ is not None else rule.consecutive


def _episodes_breached(
    rule: models.ThresholdRule, runs: list[tuple[float, float, int]] | None
) -> bool:
    return runs is not None and len(runs) >= rule.episodes


def _episodic(
    rule: models.ThresholdRule, window: windows.Window | None, *, now: float, memo: Memo | None
) -> Outcome:
    """A threshold with ``episodes``: how many separate runs of failing checks, each meeting
    ``consecutive`` and ``for``, lie in the last ``within`` (see :func:`_runs`)."""
    within = _within(rule)
    if window is None:
        return _no_data(rule.probe, "no valid observation", {"probe": rule.probe})
    span = window.range(now - within, now)
    key = (span.identity, window.holds.version)
    if memo is not None:
        known = memo.recall(key)
        if known is not None:
            return known
    runs = _runs(rule, window, now=now, quick=False)
    found = runs or []
    breached = _episodes_breached(rule, runs)
    evidence: dict[str, Any] = {
        **_threshold_terms(rule),
        "episodes": rule.episodes,
        "within_s": rule.within,
        "runs": [{"since": a, "until": b, "checks": n} for a, b, n in found],
        "breached": breached,
        "no_data": not len(span),
        **_range_of(span),
    }
    head = f"{rule.probe} {rule.field} {rule.op} {conditions.number(rule.value)}"
    each = []
    if rule.consecutive > 1:
        each.append(f"{rule.consecutive} checks in a row")
    if rule.for_ is not None:
        verb = "standing for" if rule.for_over == "checks" else "spanning"
        each.append(f"{verb} {_duration(rule.for_)}")
    lasting = f" ({', '.join(each)} each)" if each else ""
    summary = (
        f"{head} {len(found)} separate times{lasting} in the last {_duration(within)}"
        f"{'' if breached else f', of the {rule.episodes} that count'}"
    )
    outcome = Outcome(_breach_severity(rule, breached), summary, evidence)
    return outcome if memo is None else memo.keep(key, outcome)


# --------------------------------------------------------------------------- ratio


def ratio(
    rule: models.RatioRule,
    window: windows.Window | None,
    *,
    now: float,
    memo: Memo | None = None,
) -> Outcome:
    """Share of the window's values meeting ``when``, against ``above``."""
    values = _range(window, now - rule.window, now)
    key = values.identity
    known = None if memo is None else memo.recall(key)
    if known is not None:
        return known
    outcome = _ratio(rule, values)
    return outcome if memo is None else memo.keep(key, outcome)


def _ratio_breached(rule: models.RatioRule, share: float) -> bool:
    return share > rule.above


def _ratio(rule: models.RatioRule, values: windows.Span) -> Outcome:
    evidence: dict[str, Any] = {
        "probe": rule.probe,
        "when": conditions.describe(rule.when),
        "window_s": rule.window,
        "above": rule.above,
        "min_samples": rule.min_samples,
        **_range_of(values),
    }
    if len(values) < rule.min_samples:
        reason = f"{len(values)} of {rule.min_samples} samples in {_duration(rule.window)}"
        return _no_data(rule.probe, reason, {**evidence, "ratio": None, "matching": None})
    matching = values.matching(rule.when)
    share = matching / len(values)
    breached = _ratio_breached(rule, share)
    verb = ">" if breached else "<="
    summary = (
        f"{rule.probe} share with {conditions.describe(rule.when)} {conditions.number(share)} "
        f"{verb} {conditions.number(rule.above)} over {_duration(rule.window)} "
        f"({len(values)} samples)"
    )
    evidence.update(
        ratio=share,
        matching=matching,
        breached=breached,
        no_data=False,
    )
    pending = matching > 0 and not breached  # some values fail: look again soon
    return Outcome(_breach_severity(rule, breached), summary, evidence, pending)


# --------------------------------------------------------------------------- rate


def rate(
    rule: models.RateRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None = None,
    reference_end: float | None = None,
    floor: float | None = None,
    memo: Memo | None = None,
) -> Outcome:
    """Sum of ``value`` over the window, per ``per`` seconds, against ``above``; with
    ``unit_pace_before`` and an ``upgrade`` mark in force (``reference_at``, its reference
    ending at ``reference_end`` as a baseline's), only the failures of units failing faster
    than before the upgrade (``judge.unit_pace``)."""
    values = _range(window, now - rule.window, now)
    first = None if window is None else window.first_value_time
    covered = _covered(now, rule.window, first, _rate_floor(rule, floor))
    before = _units_before(
        rule, window, now=now, reference_at=reference_at, reference_end=reference_end, floor=floor
    )
    key = (values.identity, covered, None if before is None else before.key)
    known = None if memo is None else memo.recall(key)
    if known is not None:
        return known
    outcome = _rate(rule, values, covered, before)
    return outcome if memo is None else memo.keep(key, outcome)


@dataclass(frozen=True, slots=True)
class _Before:
    """The reference period a rate rule with ``unit_pace_before`` sets each unit against:
    its values, the seconds of it watched, its bounds."""

    values: windows.Span
    covered: float
    start: float
    end: float

    @property
    def key(self) -> tuple[object, ...]:
        return (self.values.identity, self.covered, self.start, self.end)


def _units_before(
    rule: models.RateRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    reference_end: float | None,
    floor: float | None,
) -> _Before | None:
    """The period before the upgrade ``rule`` compares each unit's pace with; None when it
    has no ``unit_pace_before`` or no ``upgrade`` mark is in force (every failure counts)."""
    length = rule.unit_pace_before
    if length is None or reference_at is None or reference_at > now:
        return None
    end = _end_of(reference_at, reference_end)
    start = end - length
    first = None if window is None else window.first_value_time
    covered = _covered(end, length, first, min(floor or 60.0, length))
    return _Before(_reference_values(window, start, end), covered, start, end)


def _reference_values(window: windows.Window | None, start: float, end: float) -> windows.Span:
    """The values of ``[start, end)``, a reference period ending at a mark: as the engine
    pinned them there when it did, else as the window holds them."""
    if window is None:
        return windows.EMPTY
    pinned = window.pinned_range(end, start=start)
    return pinned if pinned is not None else window.range(start, end, closed="left")


def _paced_units(
    rule: models.RateRule, values: windows.Span, before: _Before, covered: float
) -> unit_pace.Counted:
    """The window's failures that count: those of units failing faster than before."""
    return unit_pace.counted(
        unit_pace.failures(values.values()),
        unit_pace.failures(before.values.values()),
        covered=covered,
        before_covered=before.covered,
        increase=rule.unit_pace_increase,
    )


def _rate_floor(rule: models.RateRule, interval: float | None) -> float:
    """The least a rate divides by for a source first seen less than a window ago: one
    ``per`` (at most the window), or the probe's interval if longer.

    The events a young source reported are a count; dividing them by less than one ``per``
    would raise them above what was seen. "More than 1 in 30 minutes" after 25 minutes of
    watching is one failure, not 1.2: a timer failing once an hour would be a repeat offender
    as soon as a log probe starts. So a partial window is never scaled up beyond its count:
    with ``per`` equal to the window (every preset's count rules) the rule compares the
    count seen, and only a rate per a shorter period (lines per minute over 10 minutes) is
    still averaged over the time actually watched, so a fresh probe's burst is not diluted.
    """
    return min(max(interval or 0.0, rule.per), rule.window)


def _rate_per_period(
    rule: models.RateRule, total: float, counted: int, covered: float
) -> float | None:
    """The rate the rule compares with ``above``; None: too little data to say."""
    if counted < rule.min_samples or covered <= 0:
        return None
    return total / covered * rule.per


def _rate(
    rule: models.RateRule, values: windows.Span, covered: float, before: _Before | None
) -> Outcome:
    total, counted = _sum_values(values)
    left_out: list[str] = []
    program: str | None = None
    paced: unit_pace.Counted | None = None
    if rule.processes is not None:
        total, left_out = _guarded_total(rule.processes, values)
    elif rule.same_program:
        total, program = _busiest_program(rule, values)
    elif before is not None:
        paced = _paced_units(rule, values, before, covered)
        total = paced.total
    evidence: dict[str, Any] = {
        "probe": rule.probe,
        "window_s": rule.window,
        "per_s": rule.per,
        "above": rule.above,
        "min_samples": rule.min_samples,
        **_range_of(values),
        "samples": counted,
    }
    per_period = _rate_per_period(rule, total, counted, covered)
    if per_period is None:
        reason = f"{counted} of {rule.min_samples} samples in {_duration(rule.window)}"
        return _no_data(rule.probe, reason, {**evidence, "rate": None, "sum": total})
    breached = per_period > rule.above
    verb = ">" if breached else "<="
    summary = (
        f"{rule.probe} rate {conditions.number(per_period)} per {_duration(rule.per)} {verb} "
        f"{conditions.number(rule.above)} over {_duration(covered)} ({counted} samples)"
    )
    evidence.update(rate=per_period, sum=total, covered_s=covered, breached=breached, no_data=False)
    if rule.processes is not None:
        evidence.update(processes=rule.processes, not_guarded=left_out)
        if left_out:
            summary += f"; not counted, kills of {', '.join(left_out)} (not in processes)"
    if rule.same_program:
        evidence.update(program=program, steady=rule.steady)
        pace = "" if rule.steady is None else " at a steady pace"
        if program is None:
            summary += f"; no program crashed{pace}"
        else:
            summary += f"; crashes of {program or 'an unnamed program'}{pace}"
    if before is not None and paced is not None:
        summary += _as_before(rule, paced, before, evidence)
    return Outcome(_breach_severity(rule, breached), summary, evidence)


def _as_before(
    rule: models.RateRule, paced: unit_pace.Counted, before: _Before, evidence: dict[str, Any]
) -> str:
    """Evidence and words for the units a rule with ``unit_pace_before`` left out."""
    evidence.update(
        unit_pace_before_s=rule.unit_pace_before,
        unit_pace_increase=rule.unit_pace_increase,
        reference_start=before.start,
        reference_end=before.end,
        reference_covered_s=before.covered,
        units_as_before={
            unit: {"now": number, "before": earlier}
            for unit, (number, earlier) in paced.as_before.items()
        },
    )
    if not paced.as_before:
        return ""
    listed = ", ".join(
        f"{unit} ({conditions.number(number)}; {conditions.number(earlier)} in the "
        f"{_duration(before.covered)} before the upgrade)"
        for unit, (number, earlier) in paced.as_before.items()
    )
    return f"; not counted, failing no faster than before the upgrade: {listed}"


def _busiest_program(rule: models.RateRule, values: windows.Span) -> tuple[float, str | None]:
    """The span's crashes of the program that crashed most (``judge.programs``), among those
    whose crashes came at a steady pace when the rule asks for one; (0, None) when none."""
    totals: dict[str, float] = {}
    times: dict[str, list[float]] = {}
    for obs in values.values():
        number = conditions.field_of(obs, "value")
        if number is None or number <= 0:
            continue
        name = programs.named(obs.text)
        totals[name] = totals.get(name, 0.0) + number
        # Several crashes in one observation share its time (a gap of 0: not steady).
        times.setdefault(name, []).extend([obs.time] * max(1, int(number)))
    steady = rule.steady
    eligible = [
        (total, name)
        for name, total in totals.items()
        if steady is None or programs.steady(sorted(times[name]), steady)
    ]
    if not eligible:
        return 0.0, None
    # The busiest; among as busy, the first name in order, so the outcome never depends on
    # the order observations came in.
    total, name = min(eligible, key=lambda item: (-item[0], item[1]))
    return total, name


def _guarded_total(patterns: Sequence[str], values: windows.Span) -> tuple[float, list[str]]:
    """The span's sum over the observations about a guarded process (``victims``), and the
    victims of the others, each once."""
    total = 0.0
    left_out: dict[str, None] = {}
    for obs in values.values():
        number = conditions.field_of(obs, "value")
        if number is None:
            continue
        guarded, named = victims.guards(obs.text, patterns)
        if guarded:
            total += number
        elif number > 0:
            left_out.update(dict.fromkeys(named))
    return total, list(left_out)


# --------------------------------------------------------------------------- baseline


def _aggregate(
    rule: models.BaselineRule,
    values: windows.Span,
    *,
    covered: float,
) -> tuple[float | None, int]:
    """The rule's aggregate over one period, and how many samples it rests on.

    ``covered`` is the seconds of the period somebody was watching (read by ``rate`` only).
    """
    if rule.aggregate == "mean":
        present = values.present(rule.field)
        return (values.total(rule.field) / present if present else None), present
    if rule.aggregate == "rate":
        total, counted = _sum_values(values)
        return (total / covered * 60.0 if counted and covered > 0 else None), counted
    when = rule.when
    if when is None:  # the model rejects aggregate=ratio without `when`; stay total anyway
        return None, 0
    return (values.matching(when) / len(values) if len(values) else None), len(values)


def _limit(base: float, max_increase: float) -> float:
    return base + abs(base) * (max_increase - 1.0)


def baseline(
    rule: models.BaselineRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None = None,
    reference_end: float | None = None,
    floor: float | None = None,
    memo: Memo | None = None,
) -> Outcome:
    """The window's aggregate now against the same aggregate before the upgrade; no data
    while no ``upgrade`` mark is in force (nothing was upgraded: nothing to compare with)."""
    if reference_at is None or reference_at > now:
        known = None if memo is None else memo.recall(_NO_MARK)
        if known is not None:
            return known
        outcome = _no_upgrade(rule)
        return outcome if memo is None else memo.keep(_NO_MARK, outcome)
    (
        reference,
        ref_start,
        ref_end,
        current_values,
        ref_values,
        current_covered,
        ref_covered,
    ) = _baseline_inputs(
        rule, window, now=now, reference_at=reference_at, reference_end=reference_end, floor=floor
    )
    key = (
        reference,
        ref_start,
        ref_end,
        # -0.0 == 0.0, but they read differently in evidence: tell them apart.
        math.copysign(1.0, ref_start),
        math.copysign(1.0, ref_end),
        current_values.identity,
        ref_values.identity,
        current_covered,
        ref_covered,
    )
    known = None if memo is None else memo.recall(key)
    if known is not None:
        return known
    outcome = _baseline(
        rule,
        current_values,
        ref_values,
        reference=reference,
        ref_start=ref_start,
        ref_end=ref_end,
        current_covered=current_covered,
        ref_covered=ref_covered,
    )
    return outcome if memo is None else memo.keep(key, outcome)


_NO_MARK = ("no upgrade mark",)  # a baseline's memo key while no upgrade mark is in force


def _no_upgrade(rule: models.BaselineRule) -> Outcome:
    """A baseline before any upgrade: it compares with "before the upgrade", and a target
    never upgraded has none (nor anything to roll back); a fleet-wide symptom on it is not
    an upgrade's."""
    evidence: dict[str, Any] = {
        "probe": rule.probe,
        "aggregate": rule.aggregate,
        "reference": None,
        "baseline": None,
        "current": None,
    }
    return _no_data(rule.probe, "no upgrade mark yet", evidence)


def _baseline_inputs(
    rule: models.BaselineRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float,
    reference_end: float | None,
    floor: float | None,
) -> tuple[str, float, float, windows.Span, windows.Span, float, float]:
    """What a baseline reads at ``now``, with the ``upgrade`` mark at ``reference_at`` in
    force: its reference period's bounds, the current and reference values, and the seconds
    each was watched."""
    ref_end, reference = _end_of(reference_at, reference_end), "upgrade"
    ref_start = ref_end - rule.before
    current_values = ref_values = windows.EMPTY
    if window is not None:
        current_values = window.range(now - rule.window, now)
        ref_values = _reference_values(window, ref_start, ref_end)
    current_covered = ref_covered = 0.0
    if rule.aggregate == "rate":
        first = None if window is None else window.first_value_time
        floor_s = floor or 60.0
        current_covered = _covered(now, rule.window, first, min(floor_s, rule.window))
        ref_covered = _covered(ref_end, rule.before, first, min(floor_s, rule.before))
    return (
        reference,
        ref_start,
        ref_end,
        current_values,
        ref_values,
        current_covered,
        ref_covered,
    )


def _end_of(reference_at: float, reference_end: float | None) -> float:
    """Where the reference period before the upgrade marked at ``reference_at`` ends: at the
    upgrade's start when one was marked (never after the mark), else at the mark."""
    return reference_at if reference_end is None else min(reference_end, reference_at)


def _baseline_breached(
    rule: models.BaselineRule,
    current: float | None,
    current_n: int,
    base: float | None,
    base_n: int,
) -> bool | None:
    """Whether the current aggregate breaches the baseline; None: too little data."""
    if current is None or base is None or min(current_n, base_n) < rule.min_samples:
        return None
    if base == 0:
        return current > 0 and current >= max(rule.min_delta, EPSILON)
    return current > _limit(base, rule.max_increase) and current - base >= rule.min_delta


def _baseline(
    rule: models.BaselineRule,
    current_values: windows.Span,
    ref_values: windows.Span,
    *,
    reference: str,
    ref_start: float,
    ref_end: float,
    current_covered: float,
    ref_covered: float,
) -> Outcome:
    current, current_n = _aggregate(rule, current_values, covered=current_covered)
    base, base_n = _aggregate(rule, ref_values, covered=ref_covered)
    what = {
        "mean": f"mean {rule.field}",
        "rate": "rate per 1m",
        "ratio": f"share with {conditions.describe(rule.when) if rule.when else ''}",
    }[rule.aggregate]
    evidence: dict[str, Any] = {
        "probe": rule.probe,
        "aggregate": rule.aggregate,
        "field": rule.field,
        "when": None if rule.when is None else conditions.describe(rule.when),
        "window_s": rule.window,
        "before_s": rule.before,
        "max_increase": rule.max_increase,
        "min_delta": rule.min_delta,
        "min_samples": rule.min_samples,
        "reference": reference,
        "reference_start": ref_start,
        "reference_end": ref_end,
        "current": current,
        "baseline": base,
        "current_samples": current_n,
        "baseline_samples": base_n,
        **_range_of(current_values),
        "samples": current_n,
    }
    breached = _baseline_breached(rule, current, current_n, base, base_n)
    if current is None or base is None or breached is None:
        reason = f"{current_n} samples now and {base_n} before, {rule.min_samples} needed in each"
        return _no_data(rule.probe, reason, evidence)
    evidence["increase"] = current / base if base else None
    evidence.update(breached=breached, no_data=False)
    period = (
        "before the upgrade" if reference == "upgrade" else f"the {_duration(rule.before)} before"
    )
    head = f"{rule.probe} {what} {conditions.number(current)} vs {conditions.number(base)} {period}"
    if base:
        factor = f"x{conditions.number(current / base)}"
    else:
        factor = "up from zero" if current > 0 else "still zero"
    limit = f"x{conditions.number(rule.max_increase)}"
    if breached:
        summary = f"{head}: {factor}, over the {limit} limit"
    elif base != 0 and current > _limit(base, rule.max_increase):
        summary = (
            f"{head}: {factor}, but the change {conditions.number(current - base)} is under "
            f"min_delta {conditions.number(rule.min_delta)}"
        )
    else:
        summary = f"{head}: {factor}, within the {limit} limit"
    return Outcome(_breach_severity(rule, breached), summary, evidence)


# --------------------------------------------------------------------------- trend


def trending(
    rule: models.TrendRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    memo: Memo | None = None,
) -> Outcome:
    """Growth since the upgrade projected to ``capacity`` (:func:`trend.judge`)."""
    key: object = None
    # A steady rule's outcome also moves with its thirds, the day before's blocks and the
    # end of its watch: it is not memoised (its fits still are, in ``trend.Cache``).
    if memo is not None and window is not None and reference_at is not None and not rule.steady:
        # The fit reads from the first mark of its watch (``trend.watch_start``).
        watched = trend.watch_start(rule, window, reference_at, now=now)
        # The fit's span grows with ``now`` up to ``window`` (and is in the evidence), and its
        # halves split at the middle of it (``trend.judge``): the key holds the span and what
        # those ranges hold, not only the values; once the span is whole, only the values.
        span = min(rule.window, now - watched - rule.grace)
        ready = span >= rule.min_window
        after = window.range(now - span, now).identity if ready else None
        late = window.range(now - span / 2.0, now).identity if ready else None
        start = watched - rule.before
        pinned = window.pinned_range(watched, start=start)
        before = pinned if pinned is not None else window.range(start, watched, closed="left")
        key = (reference_at, watched, span if ready else ready, after, late, before.identity)
        known = memo.recall(key)
        if known is not None:
            return known
    cache = None
    if memo is not None:
        cache = memo.trend = memo.trend or trend.Cache()
    severity, summary, evidence = trend.judge(
        rule, window, now=now, reference_at=reference_at, cache=cache
    )
    outcome = Outcome(severity, summary, evidence)
    return outcome if memo is None or key is None else memo.keep(key, outcome)


# --------------------------------------------------------------------------- ceiling


def _ceiling_reading(
    rule: models.CeilingRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
) -> ceiling.Reading | None:
    """:func:`ceiling.read` on the window (None: no upgrade mark in force yet, or no data)."""
    if reference_at is None or reference_at > now or window is None:
        return None
    start = reference_at + rule.grace
    first, last = ceiling.recent_span(rule, start, now)
    reference = _reference_values(window, reference_at - rule.before, reference_at)
    recent = window.range(max(first, start), last, closed="left")
    profile = next((p for p in window.profiles if p.field == rule.field), None)
    return ceiling.read(
        rule,
        reference=reference.values(),
        reference_end=reference_at,
        recent=recent.values(),
        start=start,
        now=now,
        profile=profile,
    )


def above_ceiling(
    rule: models.CeilingRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
) -> Outcome:
    """Every bucket of the last ``for`` far above the reference's worst (:mod:`ceiling`)."""
    reading = _ceiling_reading(rule, window, now=now, reference_at=reference_at)
    evidence: dict[str, Any] = {
        "probe": rule.probe,
        "field": rule.field,
        "max_increase": rule.max_increase,
        "min_delta": rule.min_delta,
        "for_s": rule.for_,
        "bucket_s": rule.bucket,
        "before_s": rule.before,
    }
    if reading is None:
        return _no_data(rule.probe, "no upgrade mark yet or no values", evidence)
    evidence.update(
        reference_worst=reading.worst,
        day_before=reading.day,
        bar=reading.bar,
        lowest=reading.lowest,
        buckets_closed=reading.closed,
        breached=reading.breached,
    )
    if reading.reason:
        return _no_data(rule.probe, reading.reason, evidence)
    num = conditions.number
    day = (
        "no day before"
        if reading.day is None
        else f"the day before's worst near this hour {num(reading.day)}"
    )
    head = (
        f"{rule.probe} {rule.field}: every {_duration(rule.bucket)} median of the last "
        f"{_duration(rule.for_)} at least {num(reading.lowest)}, bar {num(reading.bar)} "
        f"(x{num(rule.max_increase)} the worst before the upgrade {num(reading.worst)}; {day})"
    )
    words = "over the bar" if reading.breached else "not all over the bar"
    evidence["no_data"] = False
    return Outcome(_breach_severity(rule, reading.breached), f"{head}: {words}", evidence)


def _decide_ceiling(
    rule: models.CeilingRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
) -> tuple[verdicts.Severity, float]:
    """:func:`above_ceiling`'s severity, until the next bucket closes or a value arrives."""
    reading = _ceiling_reading(rule, window, now=now, reference_at=reference_at)
    if window is None:
        return verdicts.Severity.OK, math.inf
    if reference_at is None or reference_at > now:
        return verdicts.Severity.OK, window.next_value_after(now)
    breached = reading is not None and reading.breached
    start = reference_at + rule.grace
    return _decided(rule, breached), ceiling.until(rule, start, now, window.next_value_after(now))


# --------------------------------------------------------------------------- severity first


def decide(
    rule: LeafRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None = None,
    reference_end: float | None = None,
    rate_floor: float | None = None,
    memo: Memo | None = None,
) -> tuple[verdicts.Severity, float]:
    """The severity :func:`evaluate_leaf` gives, without its sentence and evidence, and until
    when it holds: the same severity for every later ``now`` before that time, as long as
    nothing is folded into ``window`` and the latest upgrade mark stays the same.

    This is how a replay judges a week quickly: most re-judgements find a rule's inputs
    unchanged, and the evidence is built only for the decisions that are output (see
    ``engine.replay``). The severity is computed by the same predicates as the full path
    (``_counts``, ``_ratio_breached``, ``_rate_per_period``, ``_baseline_breached``); a
    property test pins the two paths equal on random streams.
    """
    if isinstance(rule, models.ThresholdRule):
        return _decide_threshold(rule, window, now=now)
    if isinstance(rule, models.RatioRule):
        if window is None:
            return _decided(rule, _ratio_share(rule, windows.EMPTY)), math.inf
        share = _ratio_share(rule, window.range(now - rule.window, now))
        return _decided(rule, share), window.steady(now, rule.window, closed="right")
    if isinstance(rule, models.RateRule):
        return _decide_rate(
            rule,
            window,
            now=now,
            reference_at=reference_at,
            reference_end=reference_end,
            floor=rate_floor,
        )
    if isinstance(rule, models.TrendRule):
        return _decide_trend(rule, window, now=now, reference_at=reference_at, memo=memo)
    if isinstance(rule, models.CeilingRule):
        return _decide_ceiling(rule, window, now=now, reference_at=reference_at)
    return _decide_baseline(
        rule,
        window,
        now=now,
        reference_at=reference_at,
        reference_end=reference_end,
        floor=rate_floor,
    )


def _decide_trend(
    rule: models.TrendRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    memo: Memo | None,
) -> tuple[verdicts.Severity, float]:
    """:func:`trend.decide`: the fits change only when a value enters the span, leaves it or
    crosses its middle; the rule's memo (shared with the daemon's path) keeps them."""
    cache = None
    if memo is not None:
        cache = memo.trend = memo.trend or trend.Cache()
    return trend.decide(rule, window, now=now, reference_at=reference_at, cache=cache)


def _decided(rule: LeafRule, breached: bool | None) -> verdicts.Severity:
    return _breach_severity(rule, breached is True)


def _ratio_share(rule: models.RatioRule, values: windows.Span) -> bool | None:
    if len(values) < rule.min_samples:
        return None
    return _ratio_breached(rule, values.matching(rule.when) / len(values))


def _decide_threshold(
    rule: models.ThresholdRule, window: windows.Window | None, *, now: float
) -> tuple[verdicts.Severity, float]:
    if window is None:
        return verdicts.Severity.OK, math.inf  # nothing to read until the source speaks
    # Values up to ``now`` only (see ``threshold``): time changes nothing until the next one.
    until = window.next_value_after(now)
    if rule.episodes > 1:  # ... or until the oldest check slides out of ``within``
        until = min(until, window.steady(now, _within(rule), closed="right"))
        return _decided(rule, _episodes_breached(rule, _runs(rule, window, now=now))), until
    most = None if rule.for_ is not None else rule.consecutive
    count, end = _streak(rule, window, now=now, most=most)
    if end < rule.consecutive:  # too few values to decide (``_threshold``'s no data)
        return verdicts.Severity.OK, until
    if not _counts(rule, window.series.times, end, count, _steady(rule, window, end)):
        return verdicts.Severity.OK, until
    return _breach_severity(rule, True), until


def _fresh(first: float | None, end: float, length: float) -> bool:
    """True while ``_covered`` still depends on ``end`` (a source first seen recently)."""
    return first is not None and not first <= end - length


def _decide_rate(
    rule: models.RateRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    reference_end: float | None,
    floor: float | None,
) -> tuple[verdicts.Severity, float]:
    values = _range(window, now - rule.window, now)
    first = None if window is None else window.first_value_time
    covered = _covered(now, rule.window, first, _rate_floor(rule, floor))
    total, counted = _sum_values(values)
    if rule.processes is not None:  # the same sum ``_rate`` describes
        total, _ = _guarded_total(rule.processes, values)
    elif rule.same_program:
        total, _ = _busiest_program(rule, values)
    elif rule.unit_pace_before is not None and (
        # Units left out only ever lower the sum: a sum within ``above`` stays so.
        (_rate_per_period(rule, total, counted, covered) or 0.0) > rule.above
    ):
        before = _units_before(
            rule,
            window,
            now=now,
            reference_at=reference_at,
            reference_end=reference_end,
            floor=floor,
        )
        if before is not None:
            total = _paced_units(rule, values, before, covered).total
    per_period = _rate_per_period(rule, total, counted, covered)
    severity = _decided(rule, None if per_period is None else per_period > rule.above)
    if window is None:
        return severity, math.inf
    if _fresh(first, now, rule.window):
        return severity, math.nextafter(now, math.inf)  # covered moves with ``now``
    return severity, window.steady(now, rule.window, closed="right")


def _decide_baseline(
    rule: models.BaselineRule,
    window: windows.Window | None,
    *,
    now: float,
    reference_at: float | None,
    reference_end: float | None,
    floor: float | None,
) -> tuple[verdicts.Severity, float]:
    if reference_at is None or reference_at > now:
        # Nothing until a mark comes into force, which the engine watches itself.
        return verdicts.Severity.OK, math.inf
    _, _, _, current_values, ref_values, current_covered, ref_covered = _baseline_inputs(
        rule,
        window,
        now=now,
        reference_at=reference_at,
        reference_end=reference_end,
        floor=floor,
    )
    current, current_n = _aggregate(rule, current_values, covered=current_covered)
    base, base_n = _aggregate(rule, ref_values, covered=ref_covered)
    severity = _decided(rule, _baseline_breached(rule, current, current_n, base, base_n))
    if window is None:
        return severity, math.inf
    until = window.steady(now, rule.window, closed="right")
    if rule.aggregate == "rate" and _fresh(window.first_value_time, now, rule.window):
        return severity, math.nextafter(now, math.inf)
    return severity, until


# --------------------------------------------------------------------------- running state


class ThresholdState:
    """A threshold's severity kept as running state over one window (``engine.replay``).

    :func:`decide` walks back the newest values at every call; here the length of the newest
    run of breaching values is kept and moved by the values appended since the last call
    (one, mostly), and read back from the window's values only when one was placed out of
    order. The window's own run is ``min(run, values held)``: trimming drops only the oldest
    values. Same severity and ``until`` as :func:`decide` (a property test pins them).
    """

    __slots__ = ("_appended", "_cut", "_holds", "_placed", "_run", "rule", "window")

    def __init__(self, rule: models.ThresholdRule, window: windows.Window) -> None:
        self.rule = rule
        self.window = window
        self._appended = -1  # nothing read yet
        self._placed = -1
        self._holds = -1  # the version of the target's upgrade holds read
        self._cut = -math.inf  # the upgrade mark before the newest check when read
        self._run = 0

    def _breaches(self, obs: observations.Observation) -> bool:
        return _counts_as_failing(self.rule, self.window, obs, self._cut)

    def decide(self, now: float) -> tuple[verdicts.Severity, float]:
        window = self.window
        series = window.series
        times = series.times
        held = len(times)
        if self.rule.episodes > 1:  # counted over a span that slides with ``now``
            return _decide_threshold(self.rule, window, now=now)
        if not held or times[-1] > now:  # values after ``now``: read it the long way
            self._appended = -1
            return _decide_threshold(self.rule, window, now=now)
        new = series.appended - self._appended
        holds = window.holds.version
        cut = window.holds.cut(times[-1])
        recount = cut != self._cut  # a check after another upgrade mark: which checks count
        self._cut = cut
        if (
            series.placed != self._placed
            or new > held
            or self._appended < 0
            or recount
            or (
                holds != self._holds  # an upgrade began or ended: which checks count changed
            )
        ):
            newest = enumerate(reversed(series.items))
            run = next((i for i, obs in newest if not self._breaches(obs)), held)
        else:
            run = self._run
            for obs in series.items[held - new :]:
                run = run + 1 if self._breaches(obs) else 0
        self._run = run
        self._appended = series.appended
        self._placed = series.placed
        self._holds = holds
        rule = self.rule
        run = min(run, held)
        # No value after ``now``: time changes nothing until the next one (``math.inf``).
        steady = _steady(rule, window, held)
        if held < rule.consecutive or not _counts(rule, times, held, run, steady):
            return verdicts.Severity.OK, math.inf  # (too few values: ``_threshold``'s no data)
        return _breach_severity(rule, True), math.inf


def _from_totals(
    aggregate: str,
    series: windows.Series,
    field: models.Field_,
    lists: tuple[list[int], ...],
    *,
    lo: int,
    hi: int,
    covered: float,
) -> tuple[float | None, int]:
    """A baseline's aggregate over ``series[lo:hi]`` read from running-total prefix lists
    ``(matching counts, present, units, large)``: what ``_aggregate`` gives over a span."""
    if hi <= lo:
        return None, 0
    counts, present_before, units, large = lists
    if aggregate == "ratio":
        return (counts[hi] - counts[lo]) / (hi - lo), hi - lo
    present = present_before[hi] - present_before[lo]
    if not present:
        return None, 0
    if large[hi] != large[lo]:
        total = windows.Span(series, lo, hi).total(field)
    else:
        total = (units[hi] - units[lo]) / series.field_totals(field).unit  # (its units)
    if aggregate == "mean":
        return total / present, present
    return (total / covered * 60.0 if covered > 0 else None), present


class BaselineState:
    """A baseline's severity at ``now`` over one window (``engine.replay``), as :func:`decide`
    gives it, reading the window's running totals directly (no spans) and keeping the
    reference period's aggregate while the period and its pinned values stay the same."""

    __slots__ = (
        "_base",
        "_base_key",
        "_breach",
        "_counts",
        "_field",
        "_large",
        "_present",
        "_times",
        "_totals",
        "_units",
        "floor",
        "rule",
        "window",
    )

    def __init__(
        self, rule: models.BaselineRule, window: windows.Window, *, floor: float | None
    ) -> None:
        self.rule = rule
        self.window = window
        self.floor = floor
        self._field: models.Field_ = rule.field if rule.aggregate == "mean" else "value"
        self._base_key: object = None
        self._base: tuple[float | None, int] = (None, 0)
        self._breach = _breach_severity(rule, True)
        # The window's lists themselves (kept up to date in place, see ``windows``): the
        # current period's aggregate is read from them without a call per total.
        series = window.series
        self._times = series.times
        self._counts: list[int] = []
        self._present: list[int] = []
        self._units: list[int] = []
        self._large: list[int] = []
        if rule.aggregate == "ratio":
            if rule.when is not None:
                self._counts = series.match_counts(rule.when).counts
        else:
            totals = series.field_totals(self._field)
            self._totals = totals
            self._present, self._units, self._large = totals.present, totals.units, totals.large

    def _aggregate(
        self, series: windows.Series, lo: int, hi: int, covered: float
    ) -> tuple[float | None, int]:
        """``_aggregate`` over ``series[lo:hi]``."""
        rule = self.rule
        if rule.aggregate == "ratio":
            if rule.when is None:
                return None, 0
            lists: tuple[list[int], ...] = (series.match_counts(rule.when).counts, [], [], [])
        else:
            totals = series.field_totals(self._field)
            lists = ([], totals.present, totals.units, totals.large)
        return _from_totals(
            rule.aggregate, series, self._field, lists, lo=lo, hi=hi, covered=covered
        )

    def _reference(
        self, ref_end: float, first: float | None, *, rate: bool
    ) -> tuple[float | None, int]:
        """The reference period's aggregate: kept while its bounds and values stay the same."""
        rule = self.rule
        window = self.window
        times = self._times
        before = rule.before
        pin = window.pin_series(ref_end)
        if pin is not None:
            key: object = (ref_end, pin.stamp, first)
            if key != self._base_key:
                ref_covered = (
                    _covered(ref_end, before, first, min(self.floor or 60.0, before))
                    if rate
                    else 0.0
                )
                ref_lo = bisect.bisect_left(pin.times, ref_end - before)
                self._base = self._aggregate(pin, ref_lo, len(pin.times), ref_covered)
                self._base_key = key
        else:
            ref_covered = (
                _covered(ref_end, before, first, min(self.floor or 60.0, before)) if rate else 0.0
            )
            ref_lo = bisect.bisect_left(times, ref_end - before)
            ref_hi = max(ref_lo, bisect.bisect_left(times, ref_end))
            self._base = self._aggregate(window.series, ref_lo, ref_hi, ref_covered)
            self._base_key = None
        return self._base

    def decide(
        self, now: float, reference_at: float | None, reference_end: float | None = None
    ) -> tuple[verdicts.Severity, float]:
        rule = self.rule
        times = self._times
        length = rule.window
        if reference_at is None or reference_at > now:
            # No upgrade: no data (``baseline``) until a mark comes into force.
            return verdicts.Severity.OK, math.inf
        ref_end = reference_at if reference_end is None else min(reference_end, reference_at)
        first = self.window.first_value_time
        aggregate = rule.aggregate
        rate = aggregate == "rate"
        lo = bisect.bisect_right(times, now - length)
        hi = bisect.bisect_right(times, now)
        # The current period's aggregate (``_current``, ``_from_totals`` inlined: the hot path
        # of a replay; the same operations in the same order, so the same floats).
        current: float | None = None
        current_n = 0
        if hi > lo:
            if aggregate == "ratio":
                counts = self._counts
                if counts:
                    current_n = hi - lo
                    current = (counts[hi] - counts[lo]) / current_n
            else:
                present_before = self._present
                present = present_before[hi] - present_before[lo]
                if present:
                    large = self._large
                    if large[hi] != large[lo]:
                        total = windows.Span(self.window.series, lo, hi).total(self._field)
                    else:
                        units = self._units
                        total = (units[hi] - units[lo]) / self._totals.unit
                    current_n = present
                    if not rate:
                        current = total / present
                    else:
                        covered = _covered(now, length, first, min(self.floor or 60.0, length))
                        current = total / covered * 60.0 if covered > 0 else None
        base, base_n = self._reference(ref_end, first, rate=rate)
        # ``_baseline_breached``, inlined (only whether it breached matters here).
        breached = False
        if (
            current is not None
            and base is not None
            and current_n >= rule.min_samples
            and base_n >= rule.min_samples
        ):
            if base == 0:
                breached = current > 0 and current >= max(rule.min_delta, EPSILON)
            else:
                breached = (
                    current > base + abs(base) * (rule.max_increase - 1.0)
                    and current - base >= rule.min_delta
                )
        severity = self._breach if breached else verdicts.Severity.OK
        # ``Window.steady(now, window, closed="right")``, from the bounds found above.
        count = len(times)
        until = math.inf
        if lo < count:
            at = times[lo] + length
            until = at - (abs(at) * 1e-12 + 1e-9)  # ``windows.early``
        if hi < count:
            until = min(until, times[hi] - (abs(times[hi]) * 1e-12 + 1e-9))
        if rate and first is not None and not first <= now - length:  # ``_fresh``
            return severity, math.nextafter(now, math.inf)
        return severity, until
