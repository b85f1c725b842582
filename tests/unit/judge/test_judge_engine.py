"""The engine: which decisions, in which order, with which evidence; worst; replay."""

from __future__ import annotations

import re
from typing import Any

import pytest
from judge_helpers import CRITICAL, OK, WARNING, config, decision, feed, obs, upgrade

from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine, rules

CPU = {"id": "cpu-high", "kind": "threshold", "probe": "cpu", "op": ">", "value": 90}
DOWN = {
    "id": "down",
    "kind": "threshold",
    "probe": "http",
    "op": "<",
    "value": 1,
    "severity": "critical",
    "targets": {"labels": {"role": "web"}},
}
TARGETS = [
    {"id": "web-1", "labels": {"role": "web"}},
    {"id": "db-1", "labels": {"role": "db"}},
]


def test_one_decision_per_applicable_rule_in_config_order_then_blindness() -> None:
    cfg = config(DOWN, CPU, targets=TARGETS)
    judge = feed(cfg, [obs(1, 0.0, source="http"), obs(1, 50.0, source="cpu")])
    assert [d.rule for d in judge.evaluate("web-1", now=2)] == [
        "down",
        "cpu-high",
        "blind:cpu",
        "blind:http",
    ]
    assert [d.rule for d in judge.evaluate("db-1", now=2)] == ["cpu-high"]
    for d in judge.evaluate("web-1", now=2):
        assert d.time == 2
        assert d.target == "web-1"


def test_evaluate_all_covers_configured_then_observed_targets() -> None:
    cfg = config(CPU, targets=TARGETS)
    judge = feed(cfg, [obs(1, 95.0, target="zz-9"), obs(1, 95.0, target="aa-0")])
    targets = [d.target for d in judge.evaluate_all(now=2) if d.rule == "cpu-high"]
    assert targets == ["web-1", "db-1", "aa-0", "zz-9"]
    assert decision(judge, "cpu-high", now=2, target="aa-0").severity == WARNING


def test_evidence_names_the_rule_and_its_version() -> None:
    judge = feed(config(CPU), [obs(1, 95.0)])
    got = decision(judge, "cpu-high", now=2)
    assert got.evidence["rule"] == "cpu-high"
    assert got.evidence["kind"] == "threshold"
    assert re.fullmatch(r"[0-9a-f]{12}", got.evidence["version"])
    changed = feed(config({**CPU, "value": 80}), [obs(1, 95.0)])
    assert decision(changed, "cpu-high", now=2).evidence["version"] != got.evidence["version"]
    assert got.to_json()["severity"] == "warning"


def test_no_data_is_never_a_warning_or_worse_for_any_rule_kind() -> None:
    every_kind: list[dict[str, Any]] = [
        {**CPU, "severity": "critical"},
        {
            "id": "r",
            "kind": "ratio",
            "probe": "http",
            "above": 0,
            "when": {"field": "status", "op": ">=", "value": 500},
            "severity": "critical",
        },
        {"id": "e", "kind": "rate", "probe": "log", "above": 0, "severity": "critical"},
        {"id": "b", "kind": "baseline", "probe": "http", "severity": "critical"},
        {"id": "any", "kind": "any", "rules": ["cpu-high", "r", "e", "b"], "severity": "critical"},
    ]
    judge = feed(config(*every_kind), [], marks=[upgrade(0)])
    for now in (0.0, 1.0, 1e6):
        decisions = judge.evaluate("web-1", now=now)
        assert len(decisions) == 5
        assert {d.severity for d in decisions} == {OK}
        assert all(d.evidence["no_data"] for d in decisions)


def test_worst_picks_the_most_severe_and_the_first_among_equals() -> None:
    def make(rule: str, severity: verdicts.Severity) -> verdicts.Decision:
        return verdicts.Decision(1.0, ids.TargetId("t"), ids.RuleId(rule), severity, "")

    decisions = [make("a", OK), make("b", CRITICAL), make("c", WARNING), make("d", CRITICAL)]
    assert engine.worst(decisions) == decisions[1]
    assert engine.Engine.worst(decisions) == decisions[1]
    assert engine.worst([]) is None


def test_other_marks_are_accepted_and_ignored() -> None:
    judge = feed(config(CPU), [obs(1, 95.0)])
    judge.mark(observations.Mark(time=1, target=ids.TargetId("web-1"), name="deploy"))
    assert decision(judge, "cpu-high", now=2).severity == WARNING


def test_replay_returns_only_changes_per_target_and_rule() -> None:
    cfg = config({**CPU, "consecutive": 2, "severity": "critical"})
    values = [10, 95, 95, 95, 10, 10, 95, 95]
    changes = engine.replay(cfg, [obs(float(t), float(v)) for t, v in enumerate(values)], [])
    assert [(d.time, d.rule, d.severity) for d in changes] == [
        (2.0, "cpu-high", CRITICAL),
        (4.0, "cpu-high", OK),
        (7.0, "cpu-high", CRITICAL),
    ]


def test_replay_sorts_its_input_by_time() -> None:
    cfg = config({**CPU, "consecutive": 2})
    items = [obs(float(t), 95.0) for t in range(5)]
    assert engine.replay(cfg, items[::-1], []) == engine.replay(cfg, items, [])


def test_replay_with_a_step_sees_time_pass_between_observations() -> None:
    cfg = config({**CPU, "for": "30s", "severity": "critical"})
    items = [obs(0.0, 95.0), obs(20.0, 95.0), obs(35.0, 95.0), obs(100.0, 10.0)]
    # ``for`` spans the failing checks (0 to 35), so the breach shows at the check at 35;
    # stepping every 10 s sees it at the first tick after that check.
    plain = engine.replay(cfg, items, [])
    assert [(d.time, d.rule, d.severity) for d in plain] == [
        (35.0, "cpu-high", CRITICAL),
        (100.0, "cpu-high", OK),
    ]
    stepped = engine.replay(cfg, items, [], step=10)
    assert [(d.time, d.rule, d.severity) for d in stepped] == [
        (40.0, "cpu-high", CRITICAL),
        (100.0, "cpu-high", OK),
    ]


def test_replay_applies_marks_in_time() -> None:
    rule = {
        "id": "slower",
        "kind": "baseline",
        "probe": "cpu",
        "window": "1m",
        "before": "5m",
        "severity": "critical",
    }
    items = [obs(float(t), 10.0) for t in range(0, 600, 10)]
    items += [obs(float(t), 50.0) for t in range(600, 3000, 10)]
    with_mark = engine.replay(config(rule), items, [upgrade(600)])
    assert [(d.rule, d.severity) for d in with_mark] == [("slower", CRITICAL)]
    assert with_mark[0].time == 610  # the window (1m) holds enough of 50 by then
    # A mark not in force yet is not the reference: nothing before it, then from it on.
    later = engine.replay(config(rule), items, [upgrade(620)])
    assert [(d.time, d.severity) for d in later][:1] == [(620.0, CRITICAL)]
    assert engine.replay(config(rule), items, []) == []  # never upgraded: no "before"


def test_replay_refuses_a_non_positive_step() -> None:
    with pytest.raises(ValueError, match="step"):
        engine.replay(config(CPU), [], [], step=0)


def test_rule_helpers_report_what_windows_must_keep() -> None:
    cfg = config(
        {**CPU, "consecutive": 4, "for": "2m"},
        {"id": "b", "kind": "baseline", "probe": "http", "window": "5m", "before": "1h"},
    )
    threshold, baseline = cfg.rules
    # 4 checks, and the probe's pace before a shorter run (rules._paced: a slow probe's two
    # checks spanning `for`): PACE_SPACINGS more.
    paced = 4 + rules.PACE_SPACINGS
    assert (rules.history_needed(threshold), rules.values_needed(threshold)) == (120, paced)
    assert (rules.history_needed(baseline), rules.values_needed(baseline)) == (3900, 1)
    judge = feed(cfg, [obs(1, 1.0), obs(1, 1.0, source="http")])
    cpu_window = judge.window("web-1", "cpu")
    http_window = judge.window("web-1", "http")
    assert cpu_window is not None
    assert http_window is not None
    assert (cpu_window.span, cpu_window.keep) == (180, paced)
    assert http_window.span == 3960
    assert judge.window("web-1", "nothing") is None


def test_memory_stays_bounded_over_a_long_run() -> None:
    cfg = config(
        {
            "id": "r",
            "kind": "ratio",
            "probe": "http",
            "window": "1m",
            "above": 0.5,
            "when": {"field": "status", "op": ">=", "value": 500},
        },
    )
    judge = engine.Engine(cfg)
    for t in range(20_000):
        judge.observe(obs(float(t), 1.0, source="http", status=200))
        judge.observe(
            obs(float(t), source="flaky", error="timeout")
            if t % 2
            else obs(float(t), 1.0, source="flaky")
        )
    http_window = judge.window("web-1", "http")
    flaky_window = judge.window("web-1", "flaky")
    assert http_window is not None
    assert flaky_window is not None
    # The 1m window plus the 60 s margin at 1 per second, and one value before that.
    assert http_window.retained == 122
    assert flaky_window.retained <= 63
