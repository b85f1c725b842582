"""The judge's fast paths give exactly what recomputing from scratch gives.

Windows keep running totals so that an aggregate over a time range needs no pass over it, and
the engine remembers each rule's last outcome with the inputs it came from. Both are checked
here against straightforward references on random observations, arriving out of order, with
odd values (missing, NaN, infinite, huge, tiny, negative zero), trimming and pinned periods:

* a naive window (a list sorted again after every insert, trimmed as documented) must hold the
  same values, and every aggregate must equal the one computed over its values with fsum;
* an engine re-judging after every observation (its memos warm) must give decisions identical,
  to the last bit of every number, to a fresh engine fed the same observations.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import TARGET, config, decision, feed, obs, threshold_rules, upgrade

from rollsafe.config import models
from rollsafe.domain import observations
from rollsafe.judge import conditions, engine, windows

SETTINGS = settings(max_examples=200, deadline=None)
FIELDS: list[models.Field_] = ["value", "status", "latency"]
ODD = [math.nan, math.inf, -math.inf, 1e305, -1e305, 1.7e308, 5e-324, -5e-324, -0.0, 0.0]


def _reference_sum(numbers: list[float]) -> float:
    try:
        return math.fsum(numbers)
    except OverflowError:
        return math.copysign(math.inf, sum(numbers))


def _same(a: object, b: object) -> bool:
    # repr tells -0.0 from 0.0 and compares NaNs equal: "the same to the last bit".
    return repr(a) == repr(b)


class NaiveWindow:
    """The values a window must hold, the slow and obvious way."""

    def __init__(self, *, span: float, keep: int, max_samples: int) -> None:
        self.span, self.keep, self.max_samples = span, keep, max_samples
        self.values: list[observations.Observation] = []
        self.pins: dict[float, tuple[float, list[observations.Observation]]] = {}

    def insert(self, item: observations.Observation) -> None:
        if item.error is not None:
            return
        self.values = sorted([*self.values, item], key=windows.order_key)
        for at, (start, pinned) in self.pins.items():
            if start <= item.time < at:
                kept = sorted([*pinned, item], key=windows.order_key)
                self.pins[at] = (start, kept[-self.max_samples :])
        horizon = self.values[-1].time - self.span
        older = [v for v in self.values if v.time < horizon]
        cut = len(older) - 1
        cut = min(cut, len(self.values) - self.keep)
        cut = max(cut, len(self.values) - self.max_samples)
        if cut > 0:
            self.values = self.values[cut:]

    def pin(self, at: float, start: float) -> None:
        kept = [v for v in self.values if start <= v.time < at]
        self.pins[at] = (start, kept[-self.max_samples :])


def _check_span(span: windows.Span, values: list[observations.Observation]) -> None:
    assert len(span) == len(values)
    assert span.values() == values
    assert span.first_time == (values[0].time if values else None)
    assert span.last_time == (values[-1].time if values else None)
    for field in FIELDS:
        numbers = [conditions.field_of(v, field) for v in values]
        present = [x for x in numbers if x is not None]
        assert span.present(field) == len(present)
        assert _same(span.total(field), _reference_sum(present)), (field, present)
    for condition in (
        models.Condition(field="status", op=">=", value=500),
        models.Condition(field="value", op="<", value=1),
        models.Condition(field="latency", op="!=", value=0),
    ):
        assert span.matching(condition) == sum(1 for v in values if conditions.meets(v, condition))


NUMBER = st.one_of(
    st.none(),
    st.floats(-100, 100),
    st.sampled_from(ODD),
    st.floats(allow_nan=True, allow_infinity=True),
)


@st.composite
def arrivals(draw: st.DrawFn) -> list[observations.Observation]:
    """Observations on one source, coarse times (ties), in a random arrival order."""
    items = []
    for _ in range(draw(st.integers(0, 60))):
        time = float(draw(st.integers(0, 80))) + draw(st.sampled_from([0.0, 0.0, 0.5]))
        if draw(st.integers(0, 8)) == 0:
            items.append(obs(time, error="timeout"))
            continue
        items.append(
            obs(
                time,
                draw(NUMBER),
                status=draw(st.one_of(st.none(), st.sampled_from([200, 404, 500, 503]))),
                latency=draw(NUMBER),
            )
        )
    # Mostly in time order, as probes report, with some late arrivals mixed in.
    ordered = sorted(items, key=lambda o: o.time)
    late = draw(st.lists(st.integers(0, max(0, len(ordered) - 1)), max_size=8))
    for index in late:
        if index < len(ordered):
            ordered.append(ordered.pop(index))
    return ordered


@SETTINGS
@given(arrivals(), st.data())
def test_window_aggregates_equal_recomputing_from_scratch(
    items: list[observations.Observation], data: st.DataObject
) -> None:
    span = float(data.draw(st.integers(0, 40)))
    keep = data.draw(st.integers(1, 4))
    max_samples = data.draw(st.integers(keep, 25))
    window = windows.Window(span=span, keep=keep, max_samples=max_samples)
    naive = NaiveWindow(span=span, keep=keep, max_samples=max_samples)
    pin_after = data.draw(st.integers(0, len(items)))
    pins = data.draw(st.lists(st.tuples(st.integers(0, 90), st.integers(1, 40)), max_size=2))
    for n, item in enumerate(items):
        if n == pin_after:
            for at, length in pins:
                window.pin(float(at), start=float(at - length))
                naive.pin(float(at), float(at - length))
        window.insert(item)
        naive.insert(item)
        assert window.between(-math.inf, math.inf) == naive.values
        for _ in range(2):
            start = float(data.draw(st.integers(-5, 90)))
            end = start + data.draw(st.integers(-5, 60))
            closed: Literal["right", "left"] = data.draw(st.sampled_from(["right", "left"]))
            if closed == "right":
                expected = [v for v in naive.values if start < v.time <= end]
            else:
                expected = [v for v in naive.values if start <= v.time < end]
            _check_span(window.range(start, end, closed=closed), expected)
        for at, (start_at, pinned) in naive.pins.items():
            begin = start_at + data.draw(st.integers(0, 10))
            found = window.pinned_range(at, start=begin)
            assert found is not None
            _check_span(found, [v for v in pinned if v.time >= begin])


@st.composite
def rule_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Leaf rules of every kind over every field, and composites over them."""
    field = draw(st.sampled_from(FIELDS))
    when = {
        "field": draw(st.sampled_from(FIELDS)),
        "op": draw(st.sampled_from([">", ">=", "<", "!="])),
        "value": draw(st.sampled_from([0.0, 1.0, 50.0, 500.0])),
    }
    aggregate = draw(st.sampled_from(["mean", "rate", "ratio"]))
    baseline: dict[str, Any] = {
        "id": "b",
        "kind": "baseline",
        "probe": "cpu",
        "aggregate": aggregate,
        "field": field,
        "window": draw(st.integers(5, 60)),
        "before": draw(st.integers(5, 80)),
        "max_increase": draw(st.floats(1, 3)),
        "min_delta": draw(st.floats(0, 5)),
        "min_samples": draw(st.integers(1, 3)),
        "severity": "critical",
    }
    if aggregate == "ratio":
        baseline["when"] = when
    threshold = draw(threshold_rules(fields=FIELDS))
    return [
        threshold,
        {
            "id": "r",
            "kind": "ratio",
            "probe": "cpu",
            "when": when,
            "window": draw(st.integers(5, 60)),
            "above": draw(st.floats(0, 1)),
            "min_samples": draw(st.integers(1, 3)),
        },
        {
            "id": "e",
            "kind": "rate",
            "probe": "cpu",
            "window": draw(st.integers(5, 60)),
            "per": draw(st.integers(1, 30)),
            "above": draw(st.floats(0, 50)),
        },
        baseline,
        {"id": "two", "kind": "at_least", "count": 2, "rules": ["t", "r", "e", "b"]},
        {"id": "all", "kind": "all", "rules": ["two", "b"], "severity": "critical"},
    ]


@SETTINGS
@given(rule_sets(), arrivals(), st.data())
def test_warm_engine_decides_exactly_as_a_fresh_one(
    rules: list[dict[str, Any]], items: list[observations.Observation], data: st.DataObject
) -> None:
    cfg = config(*rules, policy={"blind_after": 2})
    marks = [upgrade(float(t)) for t in data.draw(st.lists(st.integers(0, 80), max_size=3))]
    warm = engine.Engine(cfg)
    for mark in marks:
        warm.mark(mark)
    fed: list[observations.Observation] = []
    for item in items:
        warm.observe(item)
        fed.append(item)
        # Mostly at the newest time, as the daemon does, sometimes a little later or earlier.
        newest = max(o.time for o in fed)
        nows = [item.time, newest + data.draw(st.sampled_from([0.0, 0.5, 7.0, 30.0]))]
        for now in nows:
            got = warm.evaluate(TARGET, now=now)
            fresh = feed(cfg, fed, marks).evaluate(TARGET, now=now)
            assert _same(got, fresh)


def test_a_late_value_inside_a_pinned_period_changes_the_baseline() -> None:
    # The pinned reference period's totals follow a late arrival, and the memo notices.
    cfg = config(
        {
            "id": "b",
            "kind": "baseline",
            "probe": "cpu",
            "window": 10,
            "before": 20,
            "max_increase": 2,
            "min_samples": 1,
        }
    )
    judge = engine.Engine(cfg)
    judge.mark(upgrade(100.0))
    for t in range(80, 131):
        judge.observe(obs(float(t), 10.0 if t < 100 else 15.0))
    first = decision(judge, "b", now=130.0)
    assert first.evidence["baseline"] == 10.0
    judge.observe(obs(99.5, 30.0))  # late, inside [80, 100)
    second = decision(judge, "b", now=130.0)
    assert second.evidence["baseline"] == math.fsum([10.0] * 20 + [30.0]) / 21
