"""Running state (``rules.ThresholdState``, ``rules.BaselineState``) decides what
``rules.decide`` decides, on windows fed out of order.

A replay feeds windows in time order, so the property test of ``engine.replay`` never sees a
value placed among older ones, nor values after ``now``: here each state is asked after
every fold, at a ``now`` before or after the newest value, while values arrive late, errors
come in between, a short window trims and an upgrade pins a reference period. Its severity
and ``until`` must be exactly those of :func:`rules.decide`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import config, obs, threshold_rules

from rollsafe.config import models
from rollsafe.judge import rules, windows

BASE = 1_700_000_000.0


@st.composite
def folds(draw: st.DrawFn) -> list[tuple[float, float | None, float]]:
    """(time, value or None for an error, ``now`` offset after the fold)."""
    out = []
    t = 0.0
    for _ in range(draw(st.integers(1, 60))):
        late = draw(st.integers(0, 5)) == 0
        when = t - draw(st.integers(1, 40)) if late else t
        value = None if draw(st.integers(0, 7)) == 0 else draw(st.sampled_from([0.0, 1.0, 5.0]))
        out.append((round(when, 1), value, draw(st.sampled_from([-3.0, 0.0, 0.0, 4.0, 25.0]))))
        t = round(t + draw(st.sampled_from([1.0, 2.5, 10.0])), 1)
    return out


def _rules(draw: st.DrawFn) -> tuple[models.ThresholdRule, models.BaselineRule]:
    threshold = draw(threshold_rules(episodes=True))
    aggregate = draw(st.sampled_from(["mean", "rate", "ratio"]))
    baseline: dict[str, Any] = {
        "id": "b",
        "kind": "baseline",
        "probe": "cpu",
        "aggregate": aggregate,
        "window": draw(st.integers(5, 40)),
        "before": draw(st.integers(5, 60)),
        "max_increase": draw(st.floats(1, 3)),
        "min_delta": draw(st.sampled_from([0.0, 0.5])),
        "min_samples": draw(st.integers(1, 3)),
    }
    if aggregate == "ratio":
        baseline["when"] = {"field": "value", "op": ">", "value": 0.5}
    cfg = config(threshold, baseline)
    first, second = cfg.rules
    assert isinstance(first, models.ThresholdRule)
    assert isinstance(second, models.BaselineRule)
    return first, second


@settings(max_examples=300, deadline=None)
@given(
    st.data(),
    folds(),
    st.sampled_from([None, 30.0, 200.0]),
    st.lists(st.tuples(st.integers(0, 150), st.integers(1, 80)), max_size=2),
)
def test_running_state_decides_what_decide_decides(
    data: st.DataObject,
    items: list[tuple[float, float | None, float]],
    mark: float | None,
    upgrades: list[tuple[int, int]],
) -> None:
    threshold, baseline = _rules(data.draw)
    window = windows.Window(span=40.0, keep=3, max_samples=50)
    # Upgrades in progress (failing checks inside do not count) and the upgrade mark (checks
    # before it do not count once it is in force), given partway through the folds as a late
    # mark would be: the running threshold must notice the new holds.
    holds = windows.Holds()
    window.holds = holds
    hold_at = data.draw(st.integers(0, len(items)))
    reference = None
    if mark is not None:
        reference = BASE + mark + 0.05
        window.pin(reference, start=reference - baseline.before)
    running_threshold = rules.ThresholdState(threshold, window)
    running_baseline = rules.BaselineState(baseline, window, floor=2.0)
    for position, (when, value, ahead) in enumerate(items):
        if position == hold_at:
            # With the upgrade mark itself: lasting rules judge from it once ``now`` passes
            # it, which time alone does (the holds' version stays).
            ends = () if reference is None else (reference,)
            holds.set([(BASE + start, BASE + start + length) for start, length in upgrades], ends)
        error = "timeout" if value is None else None
        window.insert(obs(BASE + when, value, error=error))
        newest = max(BASE + w for w, _, _ in items[: items.index((when, value, ahead)) + 1])
        now = newest + ahead
        assert running_threshold.decide(now) == rules.decide(threshold, window, now=now)
        assert running_baseline.decide(now, reference) == rules.decide(
            baseline, window, now=now, reference_at=reference, rate_floor=2.0
        )


def test_a_running_threshold_judges_from_an_upgrade_mark_once_a_check_is_after_it() -> None:
    # The mark is known before its time (a replay registers marks as they come, but the
    # state must not rely on it): once a check after it comes, the run built before it no
    # longer counts, although the holds did not change.
    (rule,) = config(
        {"id": "t", "kind": "threshold", "probe": "cpu", "op": ">", "value": 0, "consecutive": 2}
    ).rules
    assert isinstance(rule, models.ThresholdRule)
    window = windows.Window(span=40.0, keep=3, max_samples=50)
    window.holds = windows.Holds()
    window.holds.set([], (BASE + 30.05,))
    running = rules.ThresholdState(rule, window)
    for t in (10.0, 20.0):
        window.insert(obs(BASE + t, 1.0))
    assert running.decide(BASE + 20) == rules.decide(rule, window, now=BASE + 20)
    assert running.decide(BASE + 20)[0].label == "warning"
    assert running.decide(BASE + 35) == rules.decide(rule, window, now=BASE + 35)
    assert running.decide(BASE + 35)[0].label == "warning"  # no check since the mark yet
    window.insert(obs(BASE + 40, 1.0))
    assert running.decide(BASE + 40) == rules.decide(rule, window, now=BASE + 40)
    assert running.decide(BASE + 40)[0].label == "ok"  # one check since the mark
    window.insert(obs(BASE + 50, 1.0))
    assert running.decide(BASE + 50) == rules.decide(rule, window, now=BASE + 50)
    assert running.decide(BASE + 50)[0].label == "warning"
