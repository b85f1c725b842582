"""The trend's float pre-check (``judge/quick_slope.py``) answers only as the exact test does.

Values are drawn so that the slope sits within a few units in the last place of the
threshold (the hard case: a float slope there can round either way), and the float answer,
whenever it gives one, is compared with the exact test on the integer sums
(``trend._line``). Running sums are moved back and forth over a series that appends and
trims, as a replay moves them.
"""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import obs

from rollsafe.config import models
from rollsafe.judge import quick_slope, trend, windows

HOUR = 3600.0


def _exact_under(points: list[tuple[float, float]], rate: float) -> bool:
    line = trend._line(windows.moments_of(points))
    return line is None or line[0] * HOUR < rate


def _float_under(points: list[tuple[float, float]], rate: float) -> bool | None:
    series = windows.Series()
    for t, y in points:
        series.insert(obs(t, y, source="memory"))
    return quick_slope.Running("value").below(series, 0, len(points), rate)[1]


def _near_line(
    rate: float, start: float, step: float, count: int, wiggle: tuple[list[int], list[float]]
) -> list[tuple[float, float]]:
    """Points on a line of ``rate`` per hour, each value moved by a few units in the last
    place and by a ``jitter`` (``wiggle``: the two, cycled through)."""
    ulps, jitter = wiggle
    slope = rate / HOUR
    points = []
    for i in range(count):
        t = start + i * step
        y = 50.0 + slope * (t - start) + jitter[i % len(jitter)]
        for _ in range(abs(ulps[i % len(ulps)])):
            y = math.nextafter(y, math.inf if ulps[i % len(ulps)] > 0 else -math.inf)
        points.append((t, y))
    return points


@settings(max_examples=400, deadline=None)
@given(
    rate=st.floats(min_value=1e-6, max_value=1e3, allow_nan=False),
    start=st.sampled_from([0.0, 60.0, 1_700_000_000.0, 1_700_000_002.5, -3600.0]),
    step=st.sampled_from([1.0, 10.0, 15.0, 60.0, 0.1]),
    count=st.integers(min_value=3, max_value=60),
    wiggle=st.tuples(
        st.lists(st.integers(min_value=-3, max_value=3), min_size=1, max_size=5),
        st.lists(st.sampled_from([0.0, 1e-12, -1e-12, 1e-9]), min_size=1, max_size=3),
    ),
)
def test_every_answer_near_the_threshold_is_the_exact_one(
    rate: float, start: float, step: float, count: int, wiggle: tuple[list[int], list[float]]
) -> None:
    points = _near_line(rate, start, step, count, wiggle)
    answer = _float_under(points, rate)
    if answer is not None:
        assert answer == _exact_under(points, rate)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    rate=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
    moves=st.lists(
        st.tuples(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=120)),
        min_size=1,
        max_size=25,
    ),
)
def test_running_sums_moved_about_answer_as_the_exact_sums(
    seed: int, rate: float, moves: list[tuple[int, int]]
) -> None:
    """A series of 10 s memory values, with stretches rising at about ``rate`` an hour,
    some values without a reading, and its front trimmed as it grows: the sums are moved to
    each range in turn (forwards, backwards, far), and each answer given is the exact one."""
    rng = random.Random(seed)
    series = windows.Series()
    running = quick_slope.Running("value")
    value, t = 40.0, 1_700_000_000.0
    for end, width in moves:
        while series.appended < end + 1:
            t += 10.0
            value += rng.choice([rate / 360.0, rate / 360.0, 0.0, rng.gauss(0, 0.05)])
            reading = None if rng.random() < 0.05 else round(value, rng.choice([1, 3, 12]))
            series.insert(obs(t, reading, source="memory"))
            if len(series) > 300:
                series.drop_front(1)
        offset = series.appended + series.placed - len(series)
        hi = min(len(series), max(1, end + 1 - offset))
        lo = max(0, hi - width)
        count, answer = running.below(series, lo, hi, rate)
        values = series.items[lo:hi]
        points = [(o.time, o.value) for o in values if o.value is not None]
        assert count == len(points)
        if answer is not None:
            assert answer == _exact_under(points, rate)


def test_the_floats_answer_far_from_the_line_and_abstain_on_it() -> None:
    """Not a check that never answers (which would pass the tests above): flat noise and
    steep growth are answered, a slope exactly at the threshold is not."""
    rng = random.Random(3)
    flat = [(1.7e9 + 10.0 * i, round(45 + rng.gauss(0, 1), 1)) for i in range(540)]
    steep = [(1.7e9 + 10.0 * i, 45 + 0.01 * i) for i in range(540)]  # 3.6 an hour
    on_line = [(600.0 * i, 0.5 * i) for i in range(20)]  # exactly 3.0 an hour
    assert _float_under(flat, 2.0) is True
    assert _float_under(steep, 2.0) is False
    assert _float_under(steep, 3.6) is None
    assert _float_under(on_line, 3.0) is None
    assert _exact_under(on_line, 3.0) is False


def test_surely_ok_with_the_float_check_is_the_exact_shortcut() -> None:
    """``trend._surely_ok`` with a cache (floats first) and without (exact sums only) agree
    at every step of a replay-like walk over a sine-wave memory series whose slope crosses
    ``min_rate`` back and forth, for a sliding span and one that grows from a fixed start."""
    rule = models.TrendRule.model_validate(
        {
            "id": "leak",
            "kind": "trend",
            "probe": "memory",
            "severity": "critical",
            "capacity": 100,
            "within": "1h",
            "window": "90m",
            "min_window": "90m",
            "before": "2h",
            "min_rate": 3,
            "min_samples": 3,
        }
    )
    rng = random.Random(5)
    series = windows.Series()
    cache, growing = trend.Cache(), trend.Cache()
    results = {True: 0, False: 0}
    for k in range(3000):
        t = 1_700_000_000.0 + 10.0 * k
        series.insert(obs(t, round(45 + 5 * math.sin(k / 300) + rng.gauss(0, 0.2), 1)))
        if len(series) > 800:
            series.drop_front(1)
        hi = len(series)
        first = 1500 - (series.appended - len(series))  # the growing span's start, kept
        for lo, store in ((max(0, hi - 540), cache), (max(0, min(first, hi)), growing)):
            mid = (lo + hi) // 2
            exact = trend._surely_ok(rule, series, lo, mid, hi)
            assert trend._surely_ok(rule, series, lo, mid, hi, cache=store) == exact
            results[exact] += 1
    assert results[True] > 1000  # both answers were exercised
    assert results[False] > 100
