"""Trend rules: a leak since the upgrade is projected to exhaustion; plateaus and noise are not.

Memory is read once a minute as the corpus and presets assume; noise is an AR(1) wander
(a value is close to the minute before's), the hard kind for a slope, drawn from a seeded
generator so every run sees the same series.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable

import pydantic
import pytest
from judge_helpers import CRITICAL, OK, config, decision, feed, obs, upgrade

from rollsafe.config import models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import engine, trend

HOUR = 3600.0
UP = 2 * HOUR  # the upgrade, two hours into every series
RULE = {
    "id": "leak",
    "kind": "trend",
    "probe": "memory",
    "severity": "critical",
    "capacity": 100,
    "within": "6h",
    "window": "2h",
    "before": "2h",
    "min_rate": 3,
    "unit": "%",
}


def _memory(
    curve: Callable[[float], float],
    *,
    hours: float,
    seed: int = 1,
    wander: float = 0.6,
    skip: Callable[[float], bool] = lambda t: False,
) -> list[observations.Observation]:
    """One value a minute for ``hours``: ``curve(t)`` plus an AR(1) wander, clipped 0..100."""
    rng = random.Random(seed)
    drift = 0.0
    out = []
    for minute in range(int(hours * 60)):
        t = minute * 60.0
        drift = 0.9 * drift + rng.gauss(0.0, wander)
        if not skip(t):
            out.append(obs(t, min(100.0, max(0.0, curve(t) + drift)), source="memory"))
    return out


def _leak(level: float, per_hour: float) -> Callable[[float], float]:
    return lambda t: level + max(0.0, t - UP) / HOUR * per_hour


def _judged(
    items: list[observations.Observation], *, now: float, rule: dict[str, object] = RULE
) -> verdicts.Decision:
    """The rule's decision at ``now``, having seen the values up to then (as live)."""
    judge = feed(config(rule), [o for o in items if o.time <= now], [upgrade(UP)])
    return decision(judge, "leak", now=now)


def _first_critical(
    items: list[observations.Observation], *, rule: dict[str, object] = RULE
) -> tuple[float, verdicts.Decision] | None:
    """(seconds after the upgrade of the first critical decision, that decision), or None.

    Judged every 5 minutes as values arrive, the way the daemon and a backtest do.
    """
    judge = engine.Engine(config(rule))
    judge.mark(upgrade(UP))
    pending = iter(items)
    upcoming = next(pending, None)
    now = UP
    while upcoming is not None:
        while upcoming is not None and upcoming.time <= now:
            judge.observe(upcoming)
            upcoming = next(pending, None)
        got = decision(judge, "leak", now=now)
        if got.severity == CRITICAL:
            return now - UP, got
        now += 300.0
    return None


def test_a_leak_is_rolled_back_hours_before_memory_runs_out() -> None:
    # 9 points an hour from 45%: memory would run out about 6.1 hours after the upgrade.
    found = _first_critical(_memory(_leak(45.0, 9.0), hours=8))
    assert found is not None
    delay, got = found
    # As soon as 90 minutes of growth (after a 10 min grace) show it, hours before the OOM.
    assert delay <= 2 * HOUR
    assert got.evidence["held_rate_per_h"] == pytest.approx(9.0, abs=2.0)
    assert 3 * HOUR < got.evidence["exhausted_in_s"] <= 6 * HOUR
    assert got.summary.startswith("memory grows ")
    assert "%/h since the upgrade (" in got.summary
    assert "at this rate it reaches 100% in " in got.summary
    assert got.evidence["rule"] == "leak"
    assert got.evidence["kind"] == "trend"


def test_a_release_that_caches_more_and_plateaus_is_not_a_leak() -> None:
    # +20 points over the first 40 minutes after the upgrade, then flat for hours.
    def cache(t: float) -> float:
        return 45.0 + 20.0 * min(1.0, max(0.0, t - UP) / 2400.0)

    assert _first_critical(_memory(cache, hours=8)) is None


def test_growth_that_slows_down_is_projected_to_level_off() -> None:
    # Caches warming: 25 points, approached with a 40-minute time constant.
    def warming(t: float) -> float:
        return 40.0 + (25.0 * (1 - math.exp(-(t - UP) / 2400.0)) if t >= UP else 0.0)

    assert _first_critical(_memory(warming, hours=8)) is None


def test_noisy_flat_memory_never_fires_even_near_capacity() -> None:
    # A database that keeps 92% of memory, wandering, for 8 hours after its upgrade: close to
    # capacity, so only the rate (not the time left) keeps noise from looking like a leak.
    for seed in range(5):
        assert _first_critical(_memory(lambda t: 92.0, hours=10, seed=seed)) is None


def test_a_trend_already_there_before_the_upgrade_is_not_the_upgrades() -> None:
    # The page cache fills 6 points an hour from the start, through the upgrade, up to 88%.
    def page_cache(t: float) -> float:
        return min(88.0, 30.0 + 6.0 * t / HOUR)

    got = _judged(_memory(page_cache, hours=9), now=UP + 2.5 * HOUR)
    assert got.severity == OK
    assert got.evidence["rising_before"] is True
    assert "already rising" in got.summary
    assert _first_critical(_memory(page_cache, hours=9)) is None


def test_before_the_window_has_filled_after_the_upgrade_there_is_no_data() -> None:
    early = _judged(_memory(_leak(45.0, 30.0), hours=4), now=UP + HOUR)
    assert early.severity == OK
    assert early.evidence["no_data"] is True
    assert "1.7 h after the upgrade" in early.summary  # grace 10 min + min_window 90 min
    without_mark = decision(
        feed(config(RULE), _memory(_leak(45.0, 30.0), hours=4)), "leak", now=UP + 3 * HOUR
    )
    assert without_mark.evidence["no_data"] is True
    assert "no upgrade mark" in without_mark.summary


def test_gaps_in_the_data_leave_a_leak_visible_and_too_few_values_are_no_data() -> None:
    # Prometheus down for 40 minutes in the middle of the window: the line is fitted through
    # the values there are.
    def outage(t: float) -> float:
        return UP + 1.5 * HOUR <= t < UP + 1.5 * HOUR + 2400.0

    found = _first_critical(_memory(_leak(50.0, 10.0), hours=6, skip=outage))
    assert found is not None
    # With almost nothing in the late half of the window, the rule does not guess.
    sparse = _memory(_leak(50.0, 10.0), hours=6, skip=lambda t: t > UP + HOUR and t % 900 != 0)
    got = _judged(sparse, now=UP + 3 * HOUR)
    assert got.severity == OK
    assert got.evidence["no_data"] is True
    assert "needed in each" in got.summary


def test_memory_already_at_capacity_and_still_growing_fires() -> None:
    found = _first_critical(_memory(_leak(80.0, 12.0), hours=5))
    assert found is not None


def test_project_is_linear_or_an_exponential_approach() -> None:
    eta, plateau = trend.project(level=46.0, capacity=100.0, rate=9.0, slowing=None)
    assert eta == pytest.approx(6.0 * HOUR)
    assert plateau is None
    # Halving every hour: tau = 1 / ln 2 hours, 10/h * tau = 14.4 points more at most.
    eta, plateau = trend.project(level=60.0, capacity=100.0, rate=10.0, slowing=(0.5, 1.0))
    assert eta is None
    assert plateau == pytest.approx(60.0 + 10.0 / math.log(2.0))
    eta, _ = trend.project(level=95.0, capacity=100.0, rate=10.0, slowing=(0.5, 1.0))
    assert eta == pytest.approx(-math.log(1 - 5.0 / (10.0 / math.log(2.0))) / math.log(2.0) * HOUR)
    assert trend.project(level=101.0, capacity=100.0, rate=1.0, slowing=None)[0] == 0.0


def test_fit_gives_the_error_a_wandering_series_really_has() -> None:
    # 300 series of two hours of AR(1) wander (no trend at all): the spread of their fitted
    # slopes is what the standard error must describe. Without the autocorrelation
    # correction it would be about four times too small, and noise would pass for trends.
    rates, errors = [], []
    for seed in range(300):
        rng = random.Random(seed)
        drift, points = 0.0, []
        for minute in range(300):
            drift = 0.9 * drift + rng.gauss(0.0, 0.6)
            if minute >= 180:  # start from the wander's steady state
                points.append((minute * 60.0, 50.0 + drift))
        fitted = trend.fit(points)
        assert fitted is not None
        rates.append(fitted.rate)
        errors.append(fitted.stderr)
    spread = statistics.pstdev(rates)
    assert 0.7 * spread < statistics.mean(errors) < 1.4 * spread
    assert trend.fit(points[:2]) is None
    assert trend.fit([(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)]) is None


def test_the_model_refuses_what_cannot_be_judged() -> None:
    with pytest.raises(pydantic.ValidationError):
        models.TrendRule.model_validate({**RULE, "min_rate": 0})
    with pytest.raises(pydantic.ValidationError):
        models.TrendRule.model_validate({**RULE, "within": "0s"})
    with pytest.raises(pydantic.ValidationError):
        models.TrendRule.model_validate({**RULE, "min_samples": 2})
    rule = models.TrendRule.model_validate({"id": "t", "kind": "trend", "probe": "memory"})
    assert (rule.capacity, rule.within, rule.window, rule.min_window, rule.min_rate) == (
        100.0,
        14400.0,
        7200.0,
        5400.0,
        3.0,
    )
    with pytest.raises(pydantic.ValidationError, match="min_window must not be longer"):
        models.TrendRule.model_validate({**RULE, "min_window": "3h"})


def test_decisions_are_the_same_whatever_the_order_values_arrive_in() -> None:
    items = _memory(_leak(45.0, 9.0), hours=6)
    shuffled = list(items)
    random.Random(3).shuffle(shuffled)
    now = UP + 3 * HOUR
    a = decision(
        feed(config(RULE), [o for o in items if o.time <= now], [upgrade(UP)]), "leak", now=now
    )
    b = decision(
        feed(config(RULE), [o for o in shuffled if o.time <= now], [upgrade(UP)]), "leak", now=now
    )
    assert (a.severity, a.summary) == (b.severity, b.summary)
    assert a.severity == CRITICAL


def test_growth_under_min_rate_is_ok_and_says_how_near_it_came() -> None:
    got = _judged(_memory(_leak(45.0, 1.5), hours=5, wander=0.1), now=UP + 2.5 * HOUR)
    assert got.severity == OK
    assert got.evidence["no_data"] is False
    assert "that counts as a trend" in got.summary
    assert 0.0 < got.evidence["closeness"] < 1.0
    assert got.evidence["exhausted_in_s"] is None


def test_a_daily_cycle_rising_through_the_upgrade_is_not_a_leak() -> None:
    # Memory follows traffic: 55% +- 20 over a day, upgraded on the rising side, where the
    # cycle climbs about 5 points an hour for hours (its steepest): the same climb was there
    # in the two hours before the upgrade.
    def daily(t: float) -> float:
        return 55.0 + 20.0 * math.sin(2 * math.pi * (t - UP + 3 * HOUR) / (24 * HOUR))

    for seed in range(3):
        assert _first_critical(_memory(daily, hours=9, seed=seed)) is None
    got = _judged(_memory(daily, hours=9), now=UP + 2 * HOUR)
    assert got.evidence["rising_before"] is True
