"""The trend's running sums (``windows.Moments`` over a window's ranges) against fits from scratch.

A window keeps exact sums only for the few ranges a trend reads, moving each range's ends one
value at a time (adding what enters, subtracting what leaves). Whatever path a range took (it
slid, it jumped, it grew backwards, the window trimmed under it, a late value or a value in
finer units reset it), its fit must be the fit of its points computed from scratch, to the bit.
"""

from __future__ import annotations

import fractions
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import obs

from rollsafe.domain import observations
from rollsafe.judge import trend, windows

BASE = 1_700_000_000.0


def _points(span: windows.Span) -> list[tuple[float, float]]:
    return [
        (o.time, o.value) for o in span.values() if o.value is not None and math.isfinite(o.value)
    ]


def _check(window: windows.Window, start: float, end: float) -> None:
    span = window.range(start, end)
    points = _points(span)
    sums = span.moments("value")
    assert sums.n == len(points)
    if points:  # the ends, in the sums' units: their distance is that of the end points
        gap = fractions.Fraction(sums.last[0] - sums.first[0], 1 << sums.time_bits)
        assert gap == fractions.Fraction(points[-1][0]) - fractions.Fraction(points[0][0])
        scale = 1 << sums.value_bits
        assert fractions.Fraction(sums.first[1], scale) == fractions.Fraction(points[0][1])
        assert fractions.Fraction(sums.last[1], scale) == fractions.Fraction(points[-1][1])
    assert trend.fit_moments(sums) == trend.fit(points)
    # The slope alone (what ``trend.decide`` settles a flat host on) too.
    line = trend._line(sums)
    scratch = trend._line(windows.moments_of(points))
    assert (line is None) == (scratch is None)
    if line is not None and scratch is not None:
        assert line[0] == scratch[0]


_values = st.one_of(
    st.floats(min_value=0.0, max_value=100.0, allow_nan=False).map(lambda x: round(x, 1)),
    st.floats(min_value=0.0, max_value=100.0, allow_nan=False),  # finer units
    st.sampled_from([None, math.nan, math.inf, 50.0]),
)


@settings(max_examples=120, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from([10.0, 10.0, 10.0, 0.25, 0.0, 30.0]),  # time step
            st.booleans(),  # arrives late (out of order)
            _values,
            st.lists(  # ranges read after it: (back, length) in seconds, some sliding
                st.tuples(st.sampled_from([0.0, 5.0, 60.0, 300.0, 900.0]), st.floats(0, 1000)),
                max_size=3,
            ),
        ),
        min_size=1,
        max_size=120,
    ),
    span=st.sampled_from([120.0, 600.0, 3600.0]),
)
def test_moments_of_any_range_are_those_of_its_points_from_scratch(
    steps: list[tuple[float, bool, float | None, list[tuple[float, float]]]], span: float
) -> None:
    window = windows.Window(span=span)
    now = BASE
    for step, late, value, reads in steps:
        now += step
        when = now - 45.0 if late else now
        item: observations.Observation = obs(when, value, source="memory")
        window.insert(item)
        # The ranges a trend reads as time moves (whole, early and late half), and others.
        for length in (span / 2.0, span):
            _check(window, now - length, now)
            _check(window, now - length, now - length / 2.0)
        for back, length in reads:
            _check(window, now - back - length, now - back)


def test_a_range_far_from_every_kept_one_is_summed_afresh_and_memory_stays_bounded() -> None:
    # Eight hours of 10 s values through a 4 h window, three sliding ranges read now and
    # then: the sums kept do not grow with the values (no per-value prefix sums), stay exact.
    window = windows.Window(span=4 * 3600.0)
    for k in range(8 * 360):
        now = BASE + 10.0 * k
        window.insert(obs(now, round(40.0 + 5 * math.sin(k / 50.0), 1), source="memory"))
        if k % 50 == 0:
            for length in (3600.0, 7200.0):
                _check(window, now - length, now)
            _check(window, now - 7200.0, now - 3600.0)
    kept = window.series.moments["value"]
    assert len(kept.cursors) <= 5
    _check(window, BASE, BASE + 3600.0)  # long slid out: empty
    _check(window, now - 100.0, now - 50.0)
