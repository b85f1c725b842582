"""Trend rules: a leak since the upgrade is projected to exhaustion; plateaus and noise are not.

Memory is read once a minute as the corpus and presets assume; noise is an AR(1) wander
(a value is close to the minute before's), the hard kind for a slope, drawn from a seeded
generator so every run sees the same series.
"""

from __future__ import annotations

import fractions
import math
import random
import statistics
from collections.abc import Callable

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import CRITICAL, OK, config, decision, feed, judged_in_full, obs, upgrade

from rollsafe.config import models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import engine, trend, windows

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


# --------------------------------------------------------------------------- exact and incremental

BASE = 1_700_000_000.0


def _two_pass_fit(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(rate per hour, its error, level): the plain floating-point two-pass fit, to compare."""
    n = len(points)
    mean_t = math.fsum(t for t, _ in points) / n
    mean_y = math.fsum(y for _, y in points) / n
    sxx = math.fsum((t - mean_t) ** 2 for t, _ in points)
    slope = math.fsum((t - mean_t) * (y - mean_y) for t, y in points) / sxx
    residuals = [y - (mean_y + slope * (t - mean_t)) for t, y in points]
    squares = math.fsum(r * r for r in residuals)
    lagged = math.fsum(residuals[i] * residuals[i - 1] for i in range(1, n))
    rho = min(0.95, max(0.0, lagged / squares))
    bias = 0.68 / math.sqrt(n)
    effective = max(3.0, n * (1.0 - rho - bias) / (1.0 + rho + bias))
    variance = squares / (n - 2) / sxx * (n / effective if effective < n else 1.0)
    level = mean_y + slope * (points[-1][0] - mean_t)
    return slope * HOUR, math.sqrt(variance) * HOUR, level


def test_a_fit_from_a_windows_running_sums_is_the_fit_of_its_points() -> None:
    # Values arrive mostly in order, some late, some without a number or not finite, and the
    # window trims its oldest: the fit of any range read from the running sums is exactly
    # (to the bit) the fit of that range's points computed from scratch, and agrees with a
    # floating-point two-pass fit to far better than anything a decision looks at.
    rng = random.Random(7)
    window = windows.Window(span=900.0)
    seen: list[observations.Observation] = []
    drift = 0.0
    for k in range(600):
        drift = 0.9 * drift + rng.gauss(0.0, 0.5)
        when = BASE + k * 7.3 + rng.choice([0.0, 0.0, 0.0, -20.0])  # some arrive late
        value: float | None = round(40.0 + 0.002 * k + drift, rng.choice([1, 2, 6]))
        if k % 97 == 5:
            value = None if k % 2 else math.nan
        item = obs(when, value, source="memory")
        window.insert(item)
        seen.append(item)
        if k % 23 != 0:
            continue
        newest = max(o.time for o in seen)
        for back in (60.0, 300.0, 850.0):
            span = window.range(newest - back, newest)
            points = [
                (o.time, o.value)
                for o in span.values()
                if o.value is not None and math.isfinite(o.value)
            ]
            assert span.moments("value").n == len(points)
            fitted = trend.fit_moments(span.moments("value"))
            assert fitted == trend.fit(points)
            if fitted is not None and len(points) > 20:
                rate, stderr, level = _two_pass_fit(points)
                assert fitted.rate == pytest.approx(rate, rel=1e-9, abs=1e-9)
                assert fitted.stderr == pytest.approx(stderr, rel=1e-6)
                assert fitted.level == pytest.approx(level, rel=1e-9)


def test_the_fit_is_the_exact_least_squares_line_rounded_once() -> None:
    # Against rational arithmetic: the level and the slope are the exact ones, rounded once
    # (the two-pass float fit above loses up to 1e-9 of the level to rounding the mean time).
    rng = random.Random(5)
    for _ in range(40):
        n = rng.randint(3, 80)
        drift, points = 0.0, []
        for i in range(n):
            drift = 0.9 * drift + rng.gauss(0.0, 0.5)
            when = BASE + i * 7.3 + rng.random()
            points.append((when, round(40 + 0.01 * i + drift, rng.choice([1, 2, 6]))))
        times = [fractions.Fraction(t) for t, _ in points]
        values = [fractions.Fraction(y) for _, y in points]
        mean_t, mean_y = sum(times) / n, sum(values) / n
        slope = sum((t - mean_t) * (y - mean_y) for t, y in zip(times, values, strict=True))
        slope /= sum((t - mean_t) ** 2 for t in times)
        fitted = trend.fit(points)
        assert fitted is not None
        assert fitted.level == float(mean_y + slope * (times[-1] - mean_t))
        assert fitted.rate == float(slope) * HOUR


TREND_RULE: dict[str, object] = {
    "id": "m",
    "kind": "trend",
    "probe": "m",
    "capacity": 100,
    "window": 120,
    "min_window": 40,
    "before": 120,
    "min_samples": 3,
    "severity": "critical",
}


def _series(draw: st.DrawFn, *, until: float) -> list[observations.Observation]:
    """Values every 0.7 to 10 s (tenths), flat, leaking or levelling off, noisy or not."""
    level = draw(st.floats(0, 90))
    per_s = draw(st.sampled_from([0.0, 0.01, 0.05, 0.3, 1.0]))
    tau = draw(st.sampled_from([math.inf, 30.0, 200.0]))
    noise = draw(st.sampled_from([0.0, 0.2, 2.0]))
    every = draw(st.sampled_from([0.7, 2.5, 5.0, 10.0]))
    rng = random.Random(draw(st.integers(0, 1000)))
    items, t = [], draw(st.integers(0, 9)) / 10
    while t <= until:
        grown = per_s * (t if tau == math.inf else tau * (1 - math.exp(-t / tau)))
        value = round(level + grown + rng.uniform(-noise, noise), 2)
        if rng.random() > 0.1:  # and gaps
            items.append(obs(BASE + t, value, source="m"))
        t = round(t + every, 1)
    return items


@st.composite
def trend_cases(
    draw: st.DrawFn,
) -> tuple[dict[str, object], list[observations.Observation], float]:
    rule = {
        **TREND_RULE,
        "within": draw(st.sampled_from([60, 600, 3600])),
        "window": draw(st.integers(60, 200)),
        "grace": draw(st.sampled_from([0, 10, 25])),
        "min_rate": draw(st.sampled_from([1, 100, 1000])),
        "steady": draw(st.booleans()),
    }
    return rule, _series(draw, until=600.0), draw(st.integers(0, 300)) + 0.05


def _ranges(rule: models.TrendRule, window: windows.Window, now: float, mark: float) -> object:
    """What the fits at ``now`` read: the span, its late half, the phase (growing or whole);
    a steady rule's thirds too, and whether its watch is over."""
    span = now - mark - rule.grace if rule.steady else min(rule.window, now - mark - rule.grace)
    if span < rule.min_window:
        return None
    if rule.steady and span > rule.window:
        return "over"
    whole = window.range(now - span, now).identity
    late = window.range(now - span / 2.0, now).identity
    if rule.steady:
        thirds = [window.range(now - span * k / 3.0, now).identity for k in (1, 2)]
        return whole, late, thirds
    return whole, late, span == rule.window


@settings(max_examples=150, deadline=None)
@given(trend_cases(), st.data())
def test_decide_holds_until_when_it_says_and_agrees_with_the_full_judgement(
    case: tuple[dict[str, object], list[observations.Observation], float], data: st.DataObject
) -> None:
    # ``trend.decide`` at a drawn instant gives judge's severity, and until ``until`` the
    # ranges the fits read do not change (except for one instant, where a slowing
    # projection depends on the span's length), so neither does the severity. Checked at
    # every instant where a range could change: a value entering, leaving, crossing the
    # middle of a growing span, the span turning whole; and at random instants.
    raw, items, mark_at = case
    rule = models.TrendRule.model_validate(raw)
    mark = BASE + mark_at
    window = windows.Window(span=rule.window + rule.before + 60.0)
    window.pin(mark, start=mark - rule.before)
    cache = trend.Cache()
    for item in items:
        window.insert(item)
    newest = items[-1].time if items else BASE
    start = mark + rule.grace
    for _ in range(12):
        now = data.draw(st.floats(mark - 30.0, newest))
        severity, until = trend.decide(rule, window, now=now, reference_at=mark, cache=cache)
        assert until > now
        assert severity == trend.judge(rule, window, now=now, reference_at=mark)[0]
        later = [now + (until - now) * data.draw(st.floats(0, 1, exclude_max=True))]
        for o in items:
            t = o.time
            later += [t, 2.0 * t - start, t + rule.window, t + rule.window / 2.0]
            later += [start + 3.0 * (t - start), start + 1.5 * (t - start)]  # thirds
        later += [start + rule.min_window, start + rule.window, math.nextafter(until, now)]
        read = _ranges(rule, window, now, mark)
        for t in later:
            for instant in (t, math.nextafter(t, math.inf), math.nextafter(t, -math.inf)):
                if not now <= instant < until:
                    continue
                judged = trend.judge(rule, window, now=instant, reference_at=mark)[0]
                assert judged == severity, (now, until, instant)
                if until > math.nextafter(now, math.inf):
                    assert _ranges(rule, window, instant, mark) == read, (now, until, instant)


@settings(max_examples=150, deadline=None)
@given(trend_cases(), st.data())
def test_an_answer_that_read_only_the_marks_holds_whatever_is_folded_in(
    case: tuple[dict[str, object], list[observations.Observation], float], data: st.DataObject
) -> None:
    # ``decide_reading`` says an answer read no value (before the mark, before the fit can
    # start, a steady watch over): the engine then skips the rule's folds until ``until``.
    # So with only the values up to ``now`` folded, or none, or every one, judge gives the
    # same severity at every instant from ``now`` to ``until``.
    raw, items, mark_at = case
    rule = models.TrendRule.model_validate(raw)
    mark = BASE + mark_at
    now = data.draw(st.floats(BASE, BASE + 600.0))
    seen = windows.Window(span=rule.window + rule.before + 60.0)
    full = windows.Window(span=rule.window + rule.before + 60.0)
    for window in (seen, full):
        window.pin(mark, start=mark - rule.before)
    for item in items:
        full.insert(item)
        if item.time <= now:
            seen.insert(item)
    severity, until, reads = trend.decide_reading(rule, seen, now=now, reference_at=mark)
    assert (severity, until) == trend.decide(rule, seen, now=now, reference_at=mark)
    values_read = (
        now >= mark
        and now >= windows.early(mark + rule.grace + rule.min_window)
        and not (rule.steady and now - mark - rule.grace > rule.window)
        and now - mark - rule.grace >= rule.min_window
    )
    assert reads is values_read or (reads and now >= mark)  # rounding at the span's start
    if reads:
        return
    instants = [now, math.nextafter(now, math.inf), math.nextafter(until, now)]
    instants += [o.time for o in items] + [now + (until - now) * data.draw(st.floats(0, 1))]
    for instant in instants:
        if now <= instant < until:
            assert trend.judge(rule, full, now=instant, reference_at=mark)[0] == severity


@settings(max_examples=60, deadline=None)
@given(trend_cases(), st.lists(st.integers(0, 500), max_size=2))
def test_replay_decides_a_trend_exactly_as_judging_it_in_full_every_time(
    case: tuple[dict[str, object], list[observations.Observation], float],
    more_marks: list[int],
) -> None:
    # Another source reports in between, so time moves the trend's ranges between its values.
    raw, items, mark_at = case
    cfg = config(raw)
    others = [obs(BASE + t + 0.35, 1.0, source="o") for t in range(0, 600, 3)]
    marks = [upgrade(BASE + mark_at)] + [upgrade(BASE + t + 0.05) for t in more_marks]
    replayed = [d for d in engine.replay(cfg, items + others, marks) if d.rule == "m"]
    assert replayed == [d for d in judged_in_full(cfg, items + others, marks) if d.rule == "m"]


def test_a_leak_that_slows_down_fires_while_its_span_still_grows() -> None:
    # 90 points approached with a 400 s time constant after the upgrade at 100 s: judged
    # on a span still growing (under 200 s), slowing, its projection reaches capacity
    # within 10 minutes; replay fires at the very observation judging in full fires at.
    rule = {**TREND_RULE, "within": 600, "window": 200, "grace": 10, "min_rate": 100}

    def level(t: float) -> float:
        return round(20.0 + 90.0 * (1 - math.exp(-max(0.0, t - 100.0) / 400.0)), 2)

    items = [obs(BASE + t, level(t), source="m") for t in range(0, 900, 5)]
    items += [obs(BASE + t + 0.35, 1.0, source="o") for t in range(0, 900, 3)]
    marks = [upgrade(BASE + 100.05)]
    replayed = [d for d in engine.replay(config(rule), items, marks) if d.rule == "m"]
    assert replayed == [d for d in judged_in_full(config(rule), items, marks) if d.rule == "m"]
    first = replayed[0]
    assert first.severity == CRITICAL
    assert first.evidence["span_s"] < 200
    assert first.evidence["slowing"] is True
    assert "at this slowing pace it reaches 100 in " in first.summary
