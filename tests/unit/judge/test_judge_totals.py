"""A window's running field totals (``Span.total`` / ``present``) against sums from scratch.

Totals are kept as integers in units fitted to the values held (``2**-bits``, the finest any
value needed so far), shifted when a value needs finer ones. Whatever the magnitudes, the
arrival order and the trimming, a range's total must be exactly ``conditions.exact_sum`` of its
values (fsum, correctly rounded), and the count of values having the field exact too; so is
the count of values meeting a condition (the running counts trimmed with the values).
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import obs

from rollsafe.config import models
from rollsafe.judge import conditions, windows

BASE = 1_700_000_000.0
AT_LEAST_50 = models.Condition(field="value", op=">=", value=50.0)

_values = st.one_of(
    st.integers(min_value=-5, max_value=500).map(float),
    st.floats(min_value=0.0, max_value=100.0).map(lambda x: round(x, 1)),
    st.floats(allow_nan=True, allow_infinity=True),  # every magnitude: subnormal to 1e308
    st.sampled_from([None, 1.0, 5e-324, 2.0**970, -(2.0**970), 1e-300]),
)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.tuples(st.booleans(), _values), min_size=1, max_size=80),
    span=st.sampled_from([30.0, 200.0, 10_000.0]),
    reads=st.lists(st.tuples(st.floats(0, 400), st.floats(0, 400)), max_size=4),
)
def test_a_ranges_total_is_the_exact_sum_of_its_values(
    steps: list[tuple[bool, float | None]],
    span: float,
    reads: list[tuple[float, float]],
) -> None:
    window = windows.Window(span=span)
    now = BASE
    for late, value in steps:
        now += 10.0
        window.insert(obs(now - 35.0 if late else now, value))
        # A total is asked for at once, so later values are folded into running totals.
        for back, length in [(0.0, span), (0.0, 20.0), *reads]:
            part = window.range(now - back - length, now - back)
            numbers = [
                x for o in part.values() if (x := conditions.field_of(o, "value")) is not None
            ]
            assert part.present("value") == len(numbers)
            assert part.matching(AT_LEAST_50) == sum(
                conditions.meets(o, AT_LEAST_50) for o in part.values()
            )
            got, want = part.total("value"), conditions.exact_sum(numbers)
            assert got == want or (math.isnan(got) and math.isnan(want))


def test_totals_hold_small_integers_for_everyday_values() -> None:
    # Percentages with one decimal: units of 2**-47 or so, not of the smallest float.
    window = windows.Window(span=3600.0)
    for k in range(400):
        window.insert(obs(BASE + 10.0 * k, round(40.0 + (k % 17) * 0.3, 1)))
    # The last 50 minutes: values 100 to 399 (time in (BASE + 990, BASE + 3990]).
    assert window.range(BASE + 990.0, BASE + 3990.0).total("value") == math.fsum(
        round(40.0 + (k % 17) * 0.3, 1) for k in range(100, 400)
    )
    totals = window.series.field_totals("value")
    assert totals.bits <= 52
    assert max(abs(u) for u in totals.units).bit_length() < 80
