"""Scoring a replay against its labels: TP, FP, FN, TN, precision, recall, detection delay."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rollsafe.backtest import recordings, replaying, scoring
from rollsafe.domain import ids, verdicts

CRITICAL = verdicts.Severity.CRITICAL
WARNING = verdicts.Severity.WARNING


def _replay(
    faults: list[dict[str, object]],
    decisions: list[tuple[float, str, verdicts.Severity]],
    targets: tuple[str, ...] = ("a", "b"),
) -> replaying.Replay:
    header = {"type": "header", "start": 0, "labels": {"faults": faults}}
    lines = [json.dumps(header)] + [
        json.dumps({"t": 0, "target": t, "source": "s", "value": 1}) for t in targets
    ]
    recording = recordings.parse(lines, name="case")
    made = tuple(
        verdicts.Decision(
            time=when,
            target=ids.TargetId(target),
            rule=ids.RuleId("r"),
            severity=severity,
            summary="s",
        )
        for when, target, severity in decisions
    )
    return replaying.Replay(
        recording=recording, decisions=made, observations=0, unconfigured_targets=()
    )


def _outcomes(scored: scoring.ScenarioScore) -> dict[str, str]:
    return {t.target: t.outcome for t in scored.targets}


def test_each_target_is_one_case() -> None:
    scored = scoring.score(
        _replay(
            [{"target": "a", "t": 100, "kind": "crash"}, {"target": "c", "t": 50}],
            [(90, "b", WARNING), (130, "a", CRITICAL), (200, "a", CRITICAL)],
            targets=("a", "b", "c", "d"),
        )
    )
    assert _outcomes(scored) == {"a": "TP", "b": "TN", "c": "FN", "d": "TN"}
    assert scored.counts == scoring.Counts(tp=1, fp=0, fn=1, tn=2)
    assert scored.delays == [30.0]
    (a,) = [t for t in scored.targets if t.target == "a"]
    assert a.detection is not None
    assert a.detection.time == 130


def test_a_rollback_before_the_fault_or_of_a_healthy_target_is_a_false_positive() -> None:
    scored = scoring.score(
        _replay(
            [{"target": "a", "t": 100}],
            [(40, "a", CRITICAL), (150, "a", CRITICAL), (10, "b", CRITICAL)],
        )
    )
    assert _outcomes(scored) == {"a": "FP+TP", "b": "FP"}
    assert scored.counts == scoring.Counts(tp=1, fp=2)
    assert scored.counts.precision == pytest.approx(1 / 3)
    assert scored.counts.recall == 1.0
    early_only = scoring.score(_replay([{"target": "a", "t": 100}], [(40, "a", CRITICAL)]))
    assert _outcomes(early_only)["a"] == "FP+FN"


def test_totals_sum_cases_and_report_median_and_max_delay() -> None:
    first = scoring.score(_replay([{"target": "a", "t": 0}], [(60, "a", CRITICAL)]))
    second = scoring.score(
        _replay(
            [{"target": "a", "t": 0}, {"target": "b", "t": 0}],
            [(300, "a", CRITICAL), (30, "b", CRITICAL)],
        )
    )
    totals = scoring.total([first, second])
    assert totals.counts == scoring.Counts(tp=3, tn=1)
    assert totals.median_delay == 60.0
    assert totals.max_delay == 300.0
    body = totals.to_json()
    assert body["delay_s"] == {"count": 3, "median": 60.0, "max": 300.0}
    assert (body["precision"], body["recall"]) == (1.0, 1.0)


def test_ratios_are_none_without_a_denominator() -> None:
    empty = scoring.total([scoring.score(_replay([], []))])
    assert empty.counts == scoring.Counts(tn=2)
    assert (empty.counts.precision, empty.counts.recall) == (None, None)
    assert (empty.median_delay, empty.max_delay) == (None, None)


def test_scenario_json_lists_targets_with_their_decisions() -> None:
    scored = scoring.score(
        _replay(
            [{"target": "a", "t": 100, "kind": "crash"}], [(130, "a", CRITICAL), (5, "b", WARNING)]
        )
    )
    body = scored.to_json()
    assert (body["tp"], body["warnings"], body["criticals"]) == (1, 1, 1)
    a, b = body["targets"]
    assert a["fault"] == {"kind": "crash", "start": 100.0, "offset": 100.0}
    assert a["detection"]["offset"] == 130.0
    assert a["delay_s"] == 30.0
    assert b["outcome"] == "TN"
    assert b["false_alarms"] == []
    json.dumps(body, allow_nan=False)


def test_warnings_count_what_people_would_be_sent_not_the_quiet_leaves() -> None:
    replayed = _replay([{"target": "a", "t": 100, "kind": "crash"}], [(5, "b", WARNING)])
    assert scoring.score(replayed).to_json()["warnings"] == 1
    quiet = dataclasses.replace(replayed, quiet_rules=frozenset({"r"}))
    assert scoring.score(quiet).to_json()["warnings"] == 0
