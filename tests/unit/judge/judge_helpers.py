"""Builders shared by the judge's tests: configs written the way users write YAML, the
hypothesis strategies that draw rules, and the by-hand reference of ``engine.replay``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from rollsafe.config import models
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine, windows
from support import shipped_rules

TARGET = ids.TargetId("web-1")
OK = verdicts.Severity.OK
WARNING = verdicts.Severity.WARNING
CRITICAL = verdicts.Severity.CRITICAL

# A warning baseline on a 5xx probe: the witness the fleet veto tests pair with a critical rule.
FIVES: dict[str, Any] = {
    "id": "5xx-up",
    "kind": "baseline",
    "severity": "warning",
    "probe": "5xx",
    "field": "value",
    "window": "1m",
    "before": "10m",
    "max_increase": 2.0,
    "min_samples": 3,
}


def config(*rules: dict[str, Any], **extra: Any) -> models.RollsafeConfig:
    """A config with ``rules`` (dicts, as in YAML) and one target ``web-1`` unless given."""
    data: dict[str, Any] = {"targets": [{"id": TARGET}], "rules": list(rules)}
    data.update(extra)
    return models.RollsafeConfig.model_validate(data)


def obs(
    time: float,
    value: float | None = None,
    *,
    source: str = "cpu",
    target: str = TARGET,
    status: int | None = None,
    latency: float | None = None,
    error: str | None = None,
) -> observations.Observation:
    return observations.Observation(
        time=time,
        target=ids.TargetId(target),
        source=source,
        value=value,
        status=status,
        latency_s=latency,
        error=error,
    )


def upgrade(time: float, target: str = TARGET) -> observations.Mark:
    return observations.Mark(time=time, target=ids.TargetId(target), name="upgrade")


def mark(time: float, name: str = "upgrade") -> observations.Mark:
    """A mark on ``web-1``: ``upgrade`` or ``upgrade_started``."""
    return observations.Mark(time=time, target=ids.TargetId(TARGET), name=name)


HEALTH_DOWN = shipped_rules.HEALTH_DOWN  # the shipped `down`'s shape (tests/support)


def health(down: tuple[float, float], *, until: float) -> list[observations.Observation]:
    """A health check every 10 s from 0 to ``until``, failing inside ``down`` (inclusive)."""
    return [
        obs(t, 0.0 if down[0] <= t <= down[1] else 1.0, source="health")
        for t in range(0, int(until) + 1, 10)
    ]


def feed(
    cfg: models.RollsafeConfig,
    items: list[observations.Observation],
    marks: list[observations.Mark] | None = None,
) -> engine.Engine:
    """A fresh engine that has seen ``marks`` then ``items``."""
    judge = engine.Engine(cfg)
    for mark in marks or []:
        judge.mark(mark)
    for item in items:
        judge.observe(item)
    return judge


def decision(
    judge: engine.Engine, rule: str, *, now: float, target: str = TARGET
) -> verdicts.Decision:
    """The decision of ``rule`` on ``target`` at ``now`` (fails if the rule did not apply)."""
    found = [d for d in judge.evaluate(target, now=now) if d.rule == rule]
    assert len(found) == 1, f"expected one decision for {rule}, got {found}"
    return found[0]


@st.composite
def threshold_rules(
    draw: st.DrawFn,
    *,
    probe: str | st.SearchStrategy[str] = "cpu",
    ops: Sequence[str] = (">", ">=", "<"),
    fields: Sequence[str] = ("value",),
    longest_for: int = 60,
    for_over: Sequence[str] = ("span", "checks"),
    episodes: bool = False,
) -> dict[str, Any]:
    """A threshold rule ``t`` as a YAML dict: what the property tests of the judge draw.

    Its levels mix round ones (0, 1, 3, 50: observed values tie with them, where ``>`` and
    ``>=`` differ) with any level up to 100; ``consecutive`` 1 to 3; a ``for`` of 0 to
    ``longest_for`` seconds half the time (over the span or the checks: ``for_over``); either
    severity. A test narrows ``ops`` where its property needs it (worse evidence is higher
    only for ``>``/``>=``), or ``for_over``, and widens ``fields``
    to what its observations carry. With ``episodes``, half the rules count runs of failing
    checks over a sliding ``within`` (2 or 3 runs in 31 s or more, longer than ``for``)."""
    rule: dict[str, Any] = {
        "id": "t",
        "kind": "threshold",
        "probe": probe if isinstance(probe, str) else draw(probe),
        "field": draw(st.sampled_from(fields)),
        "op": draw(st.sampled_from(ops)),
        "value": draw(
            st.one_of(
                st.sampled_from([0.0, 1.0, 3.0, 50.0]),
                st.floats(min_value=0, max_value=100, allow_nan=False),
            )
        ),
        "consecutive": draw(st.integers(1, 3)),
        "severity": draw(st.sampled_from(["warning", "critical"])),
    }
    if draw(st.booleans()):
        rule["for"] = draw(st.integers(0, longest_for))
        rule["for_over"] = draw(st.sampled_from(list(for_over)))
    if episodes and draw(st.booleans()):
        rule["episodes"] = draw(st.integers(2, 3))
        longest = rule.get("for", 0)  # a run must fit in the span it is counted over
        rule["within"] = draw(st.integers(max(31, longest + 1), max(60, longest + 30)))
    return rule


def judged_in_full(
    cfg: models.RollsafeConfig,
    items: list[observations.Observation],
    marks: list[observations.Mark],
    *,
    step: float | None = None,
) -> list[verdicts.Decision]:
    """Every rule judged in full (``evaluate``) after every instant, the changes kept: what
    ``engine.replay`` must decide (the severity-first, trend and property tests). At each
    instant the targets that reported are judged, then those the fleet veto holds.

    With ``step``, what ``replay(..., step=step)`` promises instead: from the first
    observation on, every ``step`` seconds, the observations up to then folded in (each with
    the marks up to its time) and every target judged (``evaluate_all``)."""
    judge = engine.Engine(cfg)
    ordered = sorted(items, key=lambda o: (o.time, o.target, o.source, windows.order_key(o)))
    pending = sorted(marks, key=lambda m: (m.time, m.target, m.name))
    seen: dict[tuple[ids.TargetId, ids.RuleId], verdicts.Severity] = {}
    out: list[verdicts.Decision] = []

    def keep_changes(decisions: list[verdicts.Decision]) -> None:
        for d in decisions:
            if d.severity != seen.get((d.target, d.rule), OK):
                out.append(d)
            seen[(d.target, d.rule)] = d.severity

    def marks_until(when: float) -> None:
        while pending and pending[0].time <= when:
            judge.mark(pending.pop(0))

    if step is None:
        # Every observation of an instant is folded in, then each target it touched is judged.
        while ordered:
            now = ordered[0].time
            marks_until(now)
            touched: set[str] = set()
            while ordered and ordered[0].time == now:
                item = ordered.pop(0)
                judge.observe(item)
                touched.add(item.target)
            for target in sorted(touched):
                keep_changes(judge.evaluate(target, now=now))
            # Then the targets the fleet veto holds, whose peer may just have reported.
            for target in judge.held_targets():
                if target not in touched:
                    keep_changes(judge.evaluate(target, now=now))
        return out
    start = ordered[0].time if ordered else 0.0
    tick = 0
    while ordered:
        now = start + tick * step
        while ordered and ordered[0].time <= now:
            marks_until(ordered[0].time)
            judge.observe(ordered.pop(0))
        marks_until(now)
        keep_changes(judge.evaluate_all(now=now))
        tick += 1
    return out


# The fleet veto tests' rules (test_judge_fleet_veto*.py): a latency regression against its
# own past (its p90, 30 s buckets), and three failed checks in a row spanning 30 s.
REGRESSED: dict[str, Any] = {
    "id": "regressed",
    "kind": "regression",
    "severity": "critical",
    "probe": "http",
    "field": "latency",
    "before": "30m",
    "watch": "2h",
    "grace": "1m",
    "settle_max": "1m",
    "bucket": "30s",
    "quantiles": [0.9],
    "top": False,
}
DOWN: dict[str, Any] = {
    "id": "down",
    "kind": "threshold",
    "severity": "critical",
    "probe": "http",
    "op": "<",
    "value": 1,
    "consecutive": 3,
    "for": "30s",
}


def criticals_both_ways(
    rule: dict[str, Any], items: list[observations.Observation], upgrade_at: float
) -> list[float]:
    """When ``rule`` (alone, on web-1 upgraded at ``upgrade_at``) decides critical, after
    checking that ``engine.replay`` and :func:`judged_in_full` agree on all its decisions."""
    cfg = config(rule)
    marks = [upgrade(upgrade_at)]
    replayed = [d for d in engine.replay(cfg, items, marks) if d.rule == rule["id"]]
    in_full = [d for d in judged_in_full(cfg, items, marks) if d.rule == rule["id"]]
    assert [(d.time, d.severity) for d in replayed] == [(d.time, d.severity) for d in in_full]
    return [d.time for d in replayed if d.severity is CRITICAL]
