"""Explaining misses: for a labelled fault no rule rolled back, which rules came closest?

A backtest that says "FN" leaves the policy's author guessing. :func:`near_misses` replays the
recording again through a fresh judge and, for the missed target, evaluates every rule that
could roll it back (configured ``critical``) at each of its observations from the fault's
start on (``every`` thins that for long recordings). From each rule's own evidence it reads
how far the rule got towards its limit, as a share of the limit, and keeps the peak:

* ``threshold`` with ``>``/``>=``: value / threshold; with ``<``/``<=``: the run of breaching
  checks against the checks and the ``for`` it needs (the mean of the two shares). The checks
  it needs are the judge's (its evidence's ``checks_needed``): ``consecutive``, or 2 for a run
  at a slow probe's own pace, which needs only to span ``for``.
  A threshold with ``units`` (``unit-gave-up``) cannot count an event about a unit outside
  them, so such an event is 0%, with the units it named in words (with no units listed, as
  the presets ship, the rule can only count events naming no unit at all);
* ``baseline``: the current aggregate against the limit it had to pass, the larger of
  ``baseline x max_increase`` and ``baseline + min_delta``;
* ``rate``: the rate against ``above``;
* composites (``all``, ``at_least``, ``any``): the mean of the closest children it needs;
* ``regression``: the highest e-value reached against ``1 / alpha``, on a log scale (evidence
  grows multiplicatively), with the effect in words: the signal now and before the upgrade (or
  in the baseline cohort), and the margin it had to pass, the larger of ``x min_ratio`` and
  ``+ min_delta``. An e-value that never rose above 1 is 0%; the moment shown is then the one
  where the signal was furthest towards its margin. With late starts (fresh tests begun every
  10 minutes after the holds, each against its own bar ``late_e_threshold``), the best late
  test counts too, with the highest e-value it reached so far, and the words say which test
  came closest: the one from the upgrade or the late start. A rule with tiers (``slow``)
  is shown by the tier nearer its bar, with that tier's margin and share of alpha.
  Regression rules that ran a test are
  listed even when ``limit`` other rules came closer: a small share on the log scale often
  hides a real shift, and the rule built for the fault is the one a person looks for;
* any other kind: its evidence's ``closeness`` when it gives one, else 1.0 when it breached
  and 0 otherwise.

Of two moments with the same share, one with data beats one without (a rule that said "no data"
at the fault's start and measured later is shown measuring). The result reads like
``latency-up: mean 0.31 vs limit 0.40 (78%)``. It is an aid for people, not a score: nothing
here changes a decision, and the judge runs exactly as in the replay.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollsafe.backtest import recordings, replaying
from rollsafe.config import models
from rollsafe.domain import ids, verdicts
from rollsafe.judge import engine, units, windows

__all__ = ["Near", "closeness", "near_misses"]


@dataclass(frozen=True, slots=True)
class Near:
    """How close one rule came to rolling the target back, at its peak."""

    rule: str
    kind: str
    closeness: float  # 1.0 is the rule's limit
    time: float  # when the peak was reached
    detail: str  # what was compared, in numbers
    summary: str  # the rule's own sentence at the peak

    def to_json(self, *, start: float | None) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "closeness": round(self.closeness, 4),
            "time": self.time,
            "offset": None if start is None else round(self.time - start, 6),
            "detail": self.detail,
            "summary": self.summary,
        }

    def line(self) -> str:
        return f"{self.rule}: {self.detail} ({self.closeness:.0%})"


def near_misses(
    config: models.RollsafeConfig,
    recording: recordings.Recording,
    *,
    target: str,
    since: float,
    every: float = 0.0,
    limit: int = 5,
) -> list[Near]:
    """The ``limit`` critical rules that came closest on ``target`` from ``since`` on, then
    the regression rules that tested it and were not among them (module notes)."""
    critical = {
        rule.id: rule for rule in config.rules if rule.severity == verdicts.Severity.CRITICAL.label
    }
    judge = engine.Engine(config)
    fed = sorted(
        replaying.observations_of(config, recording),
        key=lambda o: (o.time, o.target, o.source, windows.order_key(o)),
    )
    marks = sorted(recording.marks, key=lambda m: (m.time, m.target, m.name))
    who = ids.TargetId(target)
    best: dict[str, tuple[tuple[float, bool, float], Near]] = {}
    next_mark = 0
    last_evaluated = -math.inf
    for obs in fed:
        while next_mark < len(marks) and marks[next_mark].time <= obs.time:
            judge.mark(marks[next_mark])
            next_mark += 1
        judge.observe(obs)
        if obs.target != who or obs.time < since or obs.time - last_evaluated < every:
            continue
        last_evaluated = obs.time
        decisions = {d.rule: d for d in judge.evaluate(target, now=obs.time)}
        for rule_id in critical:
            decision = decisions.get(ids.RuleId(rule_id))
            if decision is None:
                continue
            share, detail = closeness(decision.evidence, decisions)
            rank = (share, *_standing(decision.evidence))
            known = best.get(rule_id)
            if known is None or rank > known[0]:
                best[rule_id] = (
                    rank,
                    Near(
                        rule=rule_id,
                        kind=str(decision.evidence.get("kind", "")),
                        closeness=share,
                        time=obs.time,
                        detail=detail,
                        summary=decision.summary,
                    ),
                )
    ranked = sorted((near for _, near in best.values()), key=lambda n: (-n.closeness, n.rule))
    tested = {
        rule_id for rule_id, (rank, near) in best.items() if near.kind == "regression" and rank[1]
    }
    return ranked[:limit] + [near for near in ranked[limit:] if near.rule in tested]


def closeness(
    evidence: Mapping[str, Any], siblings: Mapping[Any, verdicts.Decision] | None = None
) -> tuple[float, str]:
    """How far a rule got towards its limit (1.0 = the limit), and the numbers compared."""
    kind = evidence.get("kind")
    if evidence.get("no_data"):
        return 0.0, "no data"
    if kind == "threshold":
        outside = _outside_units(evidence)
        if outside is not None:
            return 0.0, outside
        return _threshold(evidence)
    if kind == "baseline":
        return _baseline(evidence)
    if kind == "rate":
        rate, above = _num(evidence.get("rate")), _num(evidence.get("above"))
        if rate is None or above is None:
            return 0.0, "no rate"
        share = (1.0 if rate > 0 else 0.0) if above <= 0 else rate / above
        return share, f"rate {_fmt(rate)} vs limit {_fmt(above)}"
    if kind in {"all", "any", "at_least"}:
        return _composite(evidence, siblings or {})
    if kind == "regression":
        return _regression(evidence)
    given = _num(evidence.get("closeness"))
    if given is not None:
        return given, str(evidence.get("detail") or f"closeness {_fmt(given)}")
    breached = bool(evidence.get("breached"))
    return (1.0 if breached else 0.0), "breached" if breached else "not breached"


def _threshold(evidence: Mapping[str, Any]) -> tuple[float, str]:
    op = str(evidence.get("op", ""))
    value, threshold = _num(evidence.get("value")), _num(evidence.get("threshold"))
    if value is None or threshold is None:
        return 0.0, "no value"
    if op in {"<", "<="}:
        # Failing checks: how long the run of them got, against what the rule needs.
        # The checks the judge asks of this run (``checks_needed``, the judge's own definition
        # of a streak): ``consecutive``, or 2 for a run at a slow probe's own pace.
        consecutive = max(1, int(_num(evidence.get("consecutive")) or 1))
        needed = max(1, int(_num(evidence.get("checks_needed")) or consecutive))
        values = [v for v in evidence.get("values") or [] if isinstance(v, int | float)]
        run = 0
        for item in reversed(values):
            if (item < threshold) if op == "<" else (item <= threshold):
                run += 1
            else:
                break
        shares = [run / needed]
        for_s = _num(evidence.get("for_s"))
        # ``lasted_s``: what a `for_over: checks` rule measures against `for` (the span if not).
        streak_s = _num(evidence.get("lasted_s", evidence.get("streak_s")))
        if for_s and streak_s is not None:
            shares.append(streak_s / for_s)
        # Both bounds must be met; the mean of the two shares (each capped at the limit) says
        # how far the run got without hiding a first failed check behind a zero duration.
        share = sum(min(1.0, x) for x in shares) / len(shares) if run else 0.0
        text = f"{run} of {needed} checks {op} {_fmt(threshold)} in a row"
        if needed < consecutive:
            text += f" at the probe's pace (of {consecutive} otherwise)"
        if for_s:
            text += f", {_fmt(streak_s or 0.0)} s of {_fmt(for_s)} s"
        return share, text
    if threshold <= 0:
        return (1.0 if value > threshold else 0.0), f"value {_fmt(value)} vs {_fmt(threshold)}"
    return value / threshold, f"value {_fmt(value)} vs limit {_fmt(threshold)}"


def _outside_units(evidence: Mapping[str, Any]) -> str | None:
    """Why a threshold with ``units`` could not count its newest event, in words: it names
    only units the rule does not guard (None when it could, or has no ``units``)."""
    listed, named = evidence.get("units"), evidence.get("named_units")
    if not isinstance(listed, list) or not isinstance(named, list) or not named:
        return None
    if units.covers([str(u) for u in named], [str(p) for p in listed]):
        return None
    guarded = ", ".join(str(p) for p in listed) or "none listed"
    value = _num(evidence.get("value"))
    said = f"value {_fmt(value)}, " if value is not None else ""
    return f"{said}about {', '.join(map(str, named))}: not a unit the rule guards ({guarded})"


def _regression(evidence: Mapping[str, Any]) -> tuple[float, str]:
    # Evidence grows multiplicatively: the share is on a log scale, 100% at 1/alpha. The
    # e-value of this moment, not the watch's peak: the peak may predate the fault.
    e_value = _num(evidence.get("e_value"))
    limit = _num(evidence.get("e_threshold"))
    if e_value is None or not limit or limit <= 1:
        return 0.0, "no test yet"
    share = _log_share(e_value, limit)
    at_most = "" if evidence.get("e_value_exact", True) else "at most "
    alpha = _num(evidence.get("alpha"))
    of_alpha = f" (alpha {alpha:g})" if alpha is not None else ""
    tier, tier_alpha = evidence.get("tier"), _num(evidence.get("tier_alpha"))
    if tier and tier_alpha is not None and alpha is not None:
        # A rule with tiers (sequential.tiers): the one nearer its bar, on its share of alpha.
        of_alpha = f" (the {tier} tier: alpha {tier_alpha:g} of the rule's {alpha:g})"
    test = f"e-value {at_most}{e_value:.3g} of {limit:.3g} needed{of_alpha}"
    late = _late(evidence)
    if late is not None:
        late_share, late_words = late
        start_words = f"the test from the upgrade: {test} ({share:.0%})"
        if late_share > share:
            test = f"closest: {late_words} ({late_share:.0%}); {start_words}"
            share = late_share
        else:
            test = f"closest: {start_words}; {late_words} ({late_share:.0%})"
    elif evidence.get("late_starts_s"):
        test += "; no late start's test above 1 yet"
    effect = _effect(evidence)
    return share, test if effect is None else f"{effect[1]}; {test}"


def _late(evidence: Mapping[str, Any]) -> tuple[float, str] | None:
    """The best late start's test (``sequential.late_starts``) against its own bar: (share on
    the log scale, the test in words); None when none has gathered evidence. Its e-value is
    the highest it reached so far (the judge computes a late test's e-value only where it can
    grow), so it may predate the moment shown."""
    peak = _num(evidence.get("late_best_e_value"))
    bar = _num(evidence.get("late_e_threshold"))
    start = _num(evidence.get("late_best_start_s"))
    if peak is None or bar is None or bar <= 1 or start is None:
        return None
    words = (
        f"the test started {_minutes(start)} after the upgrade (a late start): e-value up to "
        f"{peak:.3g} of {bar:.3g} needed"
    )
    return _log_share(peak, bar), words


def _log_share(e_value: float, bar: float) -> float:
    return math.log(e_value) / math.log(bar) if e_value > 1 else 0.0


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds % 60 == 0 else f"{seconds:g} s"


def _effect(evidence: Mapping[str, Any]) -> tuple[float, str] | None:
    """A regression's effect: (the signal's share of its margin, the comparison in words)."""
    current, base = _num(evidence.get("current")), _num(evidence.get("baseline"))
    if current is None or base is None:
        return None
    ratio = _num(evidence.get("min_ratio")) or 1.0
    delta = _num(evidence.get("min_delta")) or 0.0
    # The margin as the test applies it to a reference level (sequential.margin).
    needed = max(base * ratio, base + delta)
    side = "the baseline cohort" if evidence.get("against") == "cohort" else "before the upgrade"
    times = f"x{_fmt(current / base)}; " if base > 0 else ""
    words = (
        f"{evidence.get('effect') or 'value'} {_fmt(current)} vs {_fmt(base)} {side} "
        f"({times}worse above {_fmt(needed)}, the larger of x{_fmt(ratio)} and +{_fmt(delta)})"
    )
    share = current / needed if needed > 0 else (1.0 if current > needed else 0.0)
    return share, words


def _standing(evidence: Mapping[str, Any]) -> tuple[bool, float]:
    """What orders two moments of one rule with the same share: measured beats no data, and a
    regression further towards its margin beats one less far (every moment is 0% while its
    e-value stays at or below 1)."""
    if evidence.get("no_data"):
        return False, 0.0
    if evidence.get("kind") != "regression":
        return True, 0.0
    effect = _effect(evidence)
    if effect is None or _num(evidence.get("e_threshold")) is None:
        return False, 0.0
    return True, effect[0]


def _baseline(evidence: Mapping[str, Any]) -> tuple[float, str]:
    current, base = _num(evidence.get("current")), _num(evidence.get("baseline"))
    if current is None or base is None:
        return 0.0, "no baseline yet"
    factor = _num(evidence.get("max_increase")) or 1.0
    delta = _num(evidence.get("min_delta")) or 0.0
    limit = max(base * factor, base + delta)
    aggregate = str(evidence.get("aggregate", "value"))
    if limit <= 0:
        return (1.0 if current > 0 else 0.0), f"{aggregate} {_fmt(current)} vs {_fmt(base)}"
    return current / limit, (
        f"{aggregate} {_fmt(current)} vs limit {_fmt(limit)} (before the upgrade {_fmt(base)})"
    )


def _composite(
    evidence: Mapping[str, Any], siblings: Mapping[Any, verdicts.Decision]
) -> tuple[float, str]:
    children: Sequence[Mapping[str, Any]] = evidence.get("children") or []
    needed = max(1, int(_num(evidence.get("needed")) or len(children) or 1))
    shares: list[tuple[float, str]] = []
    for child in children:
        decision = siblings.get(child.get("rule"))
        share = closeness(decision.evidence, siblings)[0] if decision is not None else 0.0
        if child.get("severity") in {"warning", "critical"}:
            share = max(share, 1.0)
        shares.append((min(share, 1.0), str(child.get("rule", "?"))))
    shares.sort(reverse=True)
    top = shares[:needed]
    if not top:
        return 0.0, "no children"
    share = sum(s for s, _ in top) / needed
    firing = int(_num(evidence.get("firing")) or 0)
    names = ", ".join(f"{name} {s:.0%}" for s, name in top)
    return share, f"{firing} of {needed} needed firing; closest: {names}"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt(value: float) -> str:
    return f"{value:.4g}"
