"""Ratio and rate rules: window bounds, ``min_samples``, and the fresh-probe rate span (a
count never scaled above what was seen)."""

from __future__ import annotations

import pytest
from judge_helpers import CRITICAL, OK, config, decision, feed, obs

from rollsafe.domain import observations

RATIO = {
    "id": "http-5xx",
    "kind": "ratio",
    "probe": "http",
    "when": {"field": "status", "op": ">=", "value": 500},
    "window": "30s",
    "above": 0.2,
    "min_samples": 5,
    "severity": "critical",
}
RATE = {
    "id": "errors",
    "kind": "rate",
    "probe": "log",
    "window": "5m",
    "per": "1m",
    "above": 10,
    "severity": "critical",
}


def _http(time: float, status: int | None) -> observations.Observation:
    return obs(time, 1.0 if status else 0.0, source="http", status=status)


def test_ratio_over_above_with_enough_samples_is_critical() -> None:
    statuses = [500, 200, 200, 503, 200, 200, 500, 200, 200, 502, 200, 200]
    judge = feed(config(RATIO), [_http(100 + 2 * i, s) for i, s in enumerate(statuses)])
    got = decision(judge, "http-5xx", now=125)
    assert got.severity == CRITICAL
    assert got.evidence["ratio"] == pytest.approx(4 / 12)
    assert got.evidence["matching"] == 4
    assert got.summary == "http share with status >= 500 0.3333 > 0.2 over 30s (12 samples)"


def test_ratio_at_or_under_above_is_ok() -> None:
    statuses = [500, 200, 200, 200, 200]
    got = decision(
        feed(config(RATIO), [_http(i, s) for i, s in enumerate(statuses)]), "http-5xx", now=5
    )
    assert got.severity == OK
    assert got.evidence["ratio"] == pytest.approx(0.2)


def test_ratio_with_too_few_samples_is_no_data_even_when_all_fail() -> None:
    judge = feed(config(RATIO), [_http(i, 500) for i in range(4)])
    got = decision(judge, "http-5xx", now=5)
    assert got.severity == OK
    assert got.evidence["no_data"] is True
    judge.observe(_http(4.5, 500))
    assert decision(judge, "http-5xx", now=5).severity == CRITICAL


def test_ratio_window_is_open_on_the_left() -> None:
    # now=40, window 30 s: (10, 40]. The five failures at t<=10 are outside.
    items = [_http(t, 500) for t in range(6, 11)] + [_http(t, 200) for t in range(11, 16)]
    got = decision(feed(config(RATIO), items), "http-5xx", now=40)
    assert got.evidence["samples"] == 5
    assert got.evidence["first_time"] == 11
    assert got.severity == OK


def test_ratio_ignores_errors_and_counts_refused_connections_as_not_5xx() -> None:
    items = [_http(i, 500) for i in range(3)] + [_http(3, None), _http(4, None)]
    items += [obs(t, source="http", error="probe crashed") for t in (5, 6, 7)]
    got = decision(feed(config(RATIO), items), "http-5xx", now=8)
    assert got.evidence["samples"] == 5
    assert got.evidence["ratio"] == pytest.approx(0.6)


def test_rate_is_the_sum_per_period_over_the_window() -> None:
    # 5 minutes of a log probe reporting every 15 s; 60 lines in all = 12 per minute.
    # The window is (0, 300]: the report at t=0 is outside, the one at t=300 inside.
    items = [obs(float(t), 0.0, source="log") for t in range(-600, 1, 15)]
    items += [obs(float(t), 3.0, source="log") for t in range(15, 301, 15)]
    got = decision(feed(config(RATE), items), "errors", now=300)
    assert got.evidence["sum"] == 60
    assert got.evidence["covered_s"] == 300
    assert got.evidence["rate"] == pytest.approx(12.0)
    assert got.severity == CRITICAL
    assert got.summary == "log rate 12 per 1m > 10 over 5m (20 samples)"


def test_rate_under_above_is_ok() -> None:
    items = [obs(float(t), 1.0, source="log") for t in range(-600, 301, 15)]
    got = decision(feed(config(RATE), items), "errors", now=300)
    assert got.evidence["rate"] == pytest.approx(4.0)
    assert got.severity == OK


def test_a_fresh_probe_is_not_diluted_by_time_nobody_watched() -> None:
    # First seen 60 s ago with 15 lines: 15 per minute, not 3 per minute over 5m.
    items = [obs(float(t), 3.0, source="log") for t in range(240, 300, 12)]
    got = decision(feed(config(RATE), items), "errors", now=300)
    assert got.evidence["covered_s"] == 60
    assert got.evidence["rate"] == pytest.approx(15.0)
    assert got.severity == CRITICAL


def test_a_fresh_probe_span_never_drops_under_its_interval() -> None:
    cfg = config(
        RATE,
        probes=[
            {
                "name": "log",
                "kind": "log",
                "path": "/var/log/app.log",
                "presets": ["oom"],
                "interval": "30s",
            }
        ],
    )
    got = decision(feed(cfg, [obs(299.0, 4.0, source="log")]), "errors", now=300)
    # Not 1 s, nor the 30 s interval: 4 lines seen are 4 per minute, never 8 (see below).
    assert got.evidence["covered_s"] == 60
    assert got.evidence["rate"] == pytest.approx(4.0)


COUNT = {**RATE, "window": "30m", "per": "30m", "above": 1}


@pytest.mark.parametrize(("events", "severity"), [(1, OK), (2, CRITICAL)])
def test_a_count_in_a_partly_watched_window_is_the_count_seen(events: int, severity: str) -> None:
    # "More than 1 in 30 minutes", the log probe first seen 24m45s ago: a timer that fails
    # once an hour (fwupd-refresh) is 1 failure, not 1 * 30 / 24.75 = 1.21 > 1. A second one
    # is a repeat, however young the probe.
    items = [obs(float(t), 0.0, source="log") for t in range(315, 1800, 15)]
    items += [obs(1800.0 - 60.0 * k, 1.0, source="log") for k in range(events)]
    got = decision(feed(config(COUNT), items), "errors", now=1800)
    assert got.evidence["covered_s"] == 1800
    assert got.evidence["rate"] == pytest.approx(events)
    assert got.severity == severity


def test_a_rate_per_a_shorter_period_still_averages_over_the_time_watched() -> None:
    # Per minute over 5 minutes, first seen 2 minutes ago: 30 lines are 15 a minute, as
    # before; only a count (per = window) is kept from being scaled up.
    items = [obs(float(t), 3.0, source="log") for t in range(192, 301, 12)]
    got = decision(feed(config(RATE), items), "errors", now=300)
    assert got.evidence["covered_s"] == 108
    assert got.evidence["sum"] == 30
    assert got.evidence["rate"] == pytest.approx(30 / 108 * 60)


def test_rate_min_samples_and_missing_values() -> None:
    rule = {**RATE, "min_samples": 3}
    items = [obs(1, 100.0, source="log"), obs(2, None, source="log"), obs(3, 100.0, source="log")]
    got = decision(feed(config(rule), items), "errors", now=4)
    assert got.severity == OK
    assert got.evidence["no_data"] is True
    assert got.evidence["samples"] == 2


def test_absurd_values_saturate_instead_of_crashing_the_judge() -> None:
    items = [obs(float(t), 1e308, source="log") for t in range(1, 4)]
    got = decision(feed(config(RATE), items), "errors", now=4)
    assert got.severity == CRITICAL
    assert got.evidence["sum"] == float("inf")
