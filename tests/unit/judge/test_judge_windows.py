"""Windows: ordering, trimming, bounded memory, errors kept apart, pinned reference periods."""

from __future__ import annotations

import random

import pytest
from judge_helpers import obs

from rollsafe.judge import windows


def test_out_of_order_observations_are_placed_in_time_order() -> None:
    window = windows.Window(span=100)
    for t in [5, 1, 3, 2, 4]:
        window.insert(obs(t, float(t)))
    assert [o.time for o in window.between(0, 10)] == [1, 2, 3, 4, 5]


def test_between_is_right_closed_or_left_closed() -> None:
    window = windows.Window(span=100)
    for t in range(10):
        window.insert(obs(t, 1.0))
    assert [o.time for o in window.between(2, 5)] == [3, 4, 5]
    assert [o.time for o in window.between(2, 5, closed="left")] == [2, 3, 4]


def test_trimming_keeps_only_the_span_behind_the_newest_value() -> None:
    window = windows.Window(span=60)
    for t in range(10_000):
        window.insert(obs(float(t), 1.0))
    # 60 s behind the newest (t=9999) at one value per second: 9939..9999 inclusive, and
    # 9938, the newest value before that horizon (so streaks know they reach past it).
    assert window.retained == 62
    assert window.between(0, 10_000)[0].time == 9938
    assert window.first_value_time == 0  # remembered even though trimmed


def test_trimming_keeps_the_last_values_however_old() -> None:
    window = windows.Window(span=10, keep=5)
    for t in range(0, 10_000, 1000):
        window.insert(obs(float(t), 1.0))
    assert [o.time for o in window.last(5, until=1e9)] == [5000, 6000, 7000, 8000, 9000]
    assert window.retained == 5


def test_max_samples_caps_a_flood() -> None:
    window = windows.Window(span=1e9, max_samples=100)
    for t in range(1000):
        window.insert(obs(float(t), 1.0))
    assert window.retained == 100
    assert window.last(1, until=1e9)[0].time == 999


def test_errors_are_not_values() -> None:
    window = windows.Window(span=100)
    window.insert(obs(1, 1.0))
    window.insert(obs(2, error="timeout"))
    window.insert(obs(3, error="timeout"))
    assert [o.time for o in window.between(0, 10)] == [1]
    streak = window.streak()
    assert (streak.count, streak.saturated) == (2, False)
    assert streak.last is not None
    assert streak.last.time == 3


def test_a_newer_value_ends_the_error_streak_and_frees_its_errors() -> None:
    window = windows.Window(span=100)
    for t in range(1, 6):
        window.insert(obs(t, error="refused"))
    window.insert(obs(6, 1.0))
    assert window.streak().count == 0
    assert window.retained == 1
    window.insert(obs(4.5, error="late report of an old error"))
    assert window.streak().count == 0


def test_error_memory_is_bounded_and_says_so() -> None:
    window = windows.Window(span=100, error_memory=10)
    for t in range(1000):
        window.insert(obs(float(t), error="down"))
    streak = window.streak()
    assert (streak.count, streak.saturated) == (10, True)
    assert window.retained == 10


def test_streak_is_the_same_whatever_the_arrival_order() -> None:
    items = [obs(float(t), error="x") for t in range(20)] + [obs(7.0, 1.0), obs(3.0, 2.0)]
    counts = set()
    for seed in range(20):
        random.Random(seed).shuffle(items)
        window = windows.Window(span=100, error_memory=8)
        for item in items:
            window.insert(item)
        counts.add((window.streak().count, window.streak().saturated))
    assert counts == {(8, True)}


def test_pins_keep_the_reference_period_after_it_slides_out() -> None:
    window = windows.Window(span=60)
    for t in range(100):
        window.insert(obs(float(t), 1.0))
    window.pin(100.0, start=40.0)
    window.insert(obs(50.5, 9.0))  # a late arrival inside the pinned period joins it
    for t in range(100, 5000):
        window.insert(obs(float(t), 2.0))
    assert window.between(40, 99) == []  # trimmed from the values, but pinned
    pinned = window.pinned(100.0, start=40.0)
    assert pinned is not None
    assert len(pinned) == 61  # 40..99, and the late 50.5
    assert {o.value for o in pinned} == {1.0, 9.0}
    assert window.pinned(100.0, start=90.0) == pinned[-10:]
    window.unpin(100.0)
    assert window.pinned(100.0, start=40.0) is None


def test_invalid_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="window bounds"):
        windows.Window(span=10, keep=5, max_samples=2)


def test_order_key_is_total_over_odd_values() -> None:
    items = [
        obs(1, float("nan")),
        obs(1, None, status=500),
        obs(1, 2.0),
        obs(1, error="e"),
        obs(1, float("inf")),
    ]
    keys = sorted(windows.order_key(o) for o in items)
    assert len(set(keys)) == len(items)
    assert keys[-1][1] == 1  # errors sort after values at the same time
