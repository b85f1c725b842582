"""Baseline rules: now against before the upgrade (no data without one), limits, zero."""

from __future__ import annotations

import pytest
from judge_helpers import CRITICAL, OK, config, decision, feed, obs, upgrade

from rollsafe.domain import observations

LATENCY = {
    "id": "slower",
    "kind": "baseline",
    "probe": "http",
    "field": "latency",
    "window": "1m",
    "before": "10m",
    "max_increase": 2.0,
    "severity": "critical",
}


def _http(time: float, latency: float) -> observations.Observation:
    return obs(time, 1.0, source="http", status=200, latency=latency)


def _series(start: int, end: int, latency: float) -> list[observations.Observation]:
    return [_http(float(t), latency) for t in range(start, end, 10)]


def test_a_target_never_upgraded_has_no_before_the_upgrade() -> None:
    # A step with no upgrade mark (a fleet-wide outage seen by a host nobody upgraded): the
    # rule has nothing to compare with, and there is no upgrade to roll back.
    items = _series(0, 900, 0.1) + _series(900, 1000, 0.3)
    got = decision(feed(config(LATENCY), items), "slower", now=1000)
    assert got.severity == OK
    assert got.evidence["no_data"] is True
    assert got.evidence["reference"] is None
    assert got.summary == "http: no data (no upgrade mark yet)"
    marked = decision(feed(config(LATENCY), items, marks=[upgrade(900)]), "slower", now=1000)
    assert marked.severity == CRITICAL
    assert (marked.evidence["reference_start"], marked.evidence["reference_end"]) == (300, 900)
    assert marked.evidence["current"] == pytest.approx(0.3)
    assert marked.evidence["baseline"] == pytest.approx(0.1)
    assert "over the x2 limit" in marked.summary


def test_a_slow_drift_under_the_factor_is_ok() -> None:
    items = _series(0, 900, 0.1) + _series(900, 1000, 0.15)
    got = decision(feed(config(LATENCY), items, marks=[upgrade(900)]), "slower", now=1000)
    assert got.severity == OK
    assert got.evidence["no_data"] is False


def test_with_an_upgrade_mark_the_reference_is_before_the_upgrade_for_good() -> None:
    # Healthy at 0.1 until the upgrade at t=1000, then 0.3 for hours. A sliding reference
    # would have got used to 0.3; the mark keeps comparing with before the upgrade, even
    # though that period slid out of the window long ago.
    items = _series(0, 1000, 0.1) + _series(1000, 20_000, 0.3)
    judge = feed(config(LATENCY), items[:100], marks=[])
    judge.mark(upgrade(1000))
    for item in items[100:]:
        judge.observe(item)
    got = decision(judge, "slower", now=20_000)
    assert got.severity == CRITICAL
    assert got.evidence["reference"] == "upgrade"
    assert (got.evidence["reference_start"], got.evidence["reference_end"]) == (400, 1000)
    assert got.evidence["baseline"] == pytest.approx(0.1)
    assert got.evidence["baseline_samples"] == 60
    assert "before the upgrade" in got.summary


def test_a_mark_registered_before_the_data_still_pins_it() -> None:
    items = _series(0, 1000, 0.1) + _series(1000, 5000, 0.3)
    judge = feed(config(LATENCY), items, marks=[upgrade(1000)])
    assert decision(judge, "slower", now=5000).evidence["baseline"] == pytest.approx(0.1)


def test_a_mark_after_now_is_not_the_reference_yet() -> None:
    items = _series(0, 900, 0.1) + _series(900, 1000, 0.3)
    got = decision(feed(config(LATENCY), items, marks=[upgrade(5000)]), "slower", now=1000)
    assert got.evidence["reference"] is None
    assert got.severity == OK


def test_the_latest_mark_at_or_before_now_wins() -> None:
    items = _series(0, 1000, 0.1) + _series(1000, 2000, 0.2) + _series(2000, 3000, 0.4)
    judge = feed(config(LATENCY), items, marks=[upgrade(1000), upgrade(2000)])
    assert decision(judge, "slower", now=1500).evidence["baseline"] == pytest.approx(0.1)
    assert decision(judge, "slower", now=2500).evidence["baseline"] == pytest.approx(0.2)


def test_min_delta_ignores_big_factors_on_tiny_numbers() -> None:
    rule = {**LATENCY, "min_delta": 0.5}
    items = _series(0, 900, 0.1) + _series(900, 1000, 0.3)
    got = decision(feed(config(rule), items, marks=[upgrade(900)]), "slower", now=1000)
    assert got.severity == OK
    assert "under min_delta 0.5" in got.summary


def test_empty_reference_is_no_data() -> None:
    judge = feed(config(LATENCY), _series(950, 1000, 5.0), marks=[upgrade(950)])
    got = decision(judge, "slower", now=1000)
    assert got.severity == OK
    assert got.evidence["no_data"] is True
    assert got.evidence["baseline_samples"] == 0


def test_rate_aggregate_from_a_zero_baseline() -> None:
    rule = {
        "id": "new-errors",
        "kind": "baseline",
        "probe": "log",
        "aggregate": "rate",
        "window": "5m",
        "before": "30m",
        "min_delta": 1,
        "severity": "warning",
    }
    quiet = [obs(float(t), 0.0, source="log") for t in range(0, 2100, 15)]
    marks = [upgrade(2100)]
    got = decision(feed(config(rule), quiet, marks=marks), "new-errors", now=2100)
    assert got.severity == OK
    assert got.evidence["baseline"] == 0
    assert "still zero" in got.summary
    noisy = quiet + [obs(float(t), 1.0, source="log") for t in range(2115, 2401, 15)]
    got = decision(feed(config(rule), noisy, marks=marks), "new-errors", now=2400)
    assert got.evidence["current"] == pytest.approx(4.0)  # 20 lines in 5 minutes
    assert got.severity.label == "warning"
    assert "up from zero" in got.summary


def test_ratio_aggregate_compares_shares() -> None:
    rule = {
        "id": "more-5xx",
        "kind": "baseline",
        "probe": "http",
        "aggregate": "ratio",
        "when": {"field": "status", "op": ">=", "value": 500},
        "window": "1m",
        "before": "10m",
        "max_increase": 3,
        "severity": "critical",
    }
    before = [
        obs(float(t), 1.0, source="http", status=500 if t % 100 == 0 else 200)
        for t in range(0, 1000, 10)
    ]
    after = [
        obs(float(t), 1.0, source="http", status=500 if t % 20 == 0 else 200)
        for t in range(1000, 1100, 10)
    ]
    got = decision(feed(config(rule), before + after, marks=[upgrade(1000)]), "more-5xx", now=1090)
    assert got.evidence["baseline"] == pytest.approx(0.1)
    assert got.evidence["current"] == pytest.approx(0.5)
    assert got.severity == CRITICAL
