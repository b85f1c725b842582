"""Where "before the upgrade" ends, and what a target's upgrade marks anchor.

* An upgrade marked at its start (``upgrade_started``) and at its end (``upgrade``): the
  reference period of a baseline and of a regression rule against its own past ends at the
  start, so the upgrade's own restarts and reboots between the marks are not "before" it.
  The start counted is the earliest whose hold the ``upgrade`` mark ended: after the previous
  ``upgrade`` mark and at most ``engine.UPGRADE_HOLD_MAX`` before this one.

Each case is judged on the daemon's path (``Engine.evaluate``, marks folded as they come) and
by ``engine.replay``; both must agree.
"""

from __future__ import annotations

import math
import random

import pytest
from judge_helpers import (
    CRITICAL,
    OK,
    TARGET,
    config,
    decision,
    feed,
    judged_in_full,
    obs,
    upgrade,
)

from rollsafe.domain import ids, observations
from rollsafe.judge import engine

BASELINE = {
    "id": "slower",
    "kind": "baseline",
    "probe": "http",
    "field": "latency",
    "window": "1m",
    "before": "10m",
    "max_increase": 2.0,
    "severity": "critical",
}
REGRESSION = {
    "id": "regressed",
    "kind": "regression",
    "severity": "critical",
    "probe": "http",
    "field": "latency",
    "before": "30m",
    "watch": "1h",
    "grace": "1m",
    "settle_max": "1m",  # no adaptive warm-up: the reference is what is tested here
    "bucket": "30s",
    "quantiles": [0.9],
    "top": False,
}
PROBES = [{"name": "http", "kind": "http", "url": "http://{address}/", "interval": 10}]


def started(time: float) -> observations.Mark:
    return observations.Mark(time=time, target=ids.TargetId(TARGET), name="upgrade_started")


def _http(time: float, latency: float) -> observations.Observation:
    return obs(time, 1.0, source="http", status=200, latency=latency)


def _series(start: float, end: float, latency: float) -> list[observations.Observation]:
    return [_http(float(t), latency) for t in range(int(start), int(end), 10)]


def _noisy(start: float, end: float, factor: float, *, seed: int) -> list[observations.Observation]:
    """Checks every 10 s at 0.1 s times ``factor``, lognormal noise (sigma 0.2)."""
    rng = random.Random(seed)
    return [
        _http(float(t), round(0.1 * factor * math.exp(rng.gauss(0, 0.2)), 6))
        for t in range(int(start), int(end), 10)
    ]


def _live(cfg, items, marks, now: float, rule: str):
    """Marks and checks folded in time order (a mark before a check at its time), judged."""
    judge = engine.Engine(cfg)
    timeline = sorted(
        [(m.time, 0, i, m) for i, m in enumerate(marks)]
        + [(o.time, 1, i, o) for i, o in enumerate(items)]
    )
    for *_, item in timeline:
        if isinstance(item, observations.Mark):
            judge.mark(item)
        elif item.time <= now:
            judge.observe(item)
    return decision(judge, rule, now=now)


def _replayed(cfg, items, marks, rule: str) -> list[tuple[float, object]]:
    """``rule``'s changes in a replay, which must be those of every rule judged in full after
    every instant (the daemon's path)."""
    replayed = engine.replay(cfg, items, marks)
    full = judged_in_full(cfg, items, marks)
    assert [(d.time, d.rule, d.severity) for d in replayed] == [
        (d.time, d.rule, d.severity) for d in full
    ]
    return [(d.time, d.severity) for d in replayed if d.rule == rule]


# --------------------------------------------------------------------------- baseline


def _upgrade_with_a_slow_middle() -> list[observations.Observation]:
    # 0.1 s until the upgrade starts at 1000; 2 s while it runs (its restart, cold caches);
    # 0.3 s after it ended at 1300: three times what it was before it began.
    return _series(0, 1000, 0.1) + _series(1000, 1300, 2.0) + _series(1300, 2000, 0.3)


def test_a_baseline_reference_ends_where_the_upgrade_began() -> None:
    cfg = config(BASELINE, probes=PROBES)
    items = _upgrade_with_a_slow_middle()
    marks = [started(1000), upgrade(1300)]
    got = _live(cfg, items, marks, now=1500, rule="slower")
    assert got.severity is CRITICAL
    assert (got.evidence["reference_start"], got.evidence["reference_end"]) == (400, 1000)
    assert got.evidence["baseline"] == pytest.approx(0.1)
    # Ending at the upgrade mark, the reference would hold the slow middle: 0.3 s passes.
    plain = _live(cfg, items, [upgrade(1300)], now=1500, rule="slower")
    assert plain.evidence["reference_end"] == 1300
    assert plain.severity is OK
    # Nothing before the upgrade mark (no "before the upgrade" yet), critical from it on.
    assert _replayed(cfg, items, marks, "slower") == [(1300.0, CRITICAL)]
    assert _replayed(cfg, items, [upgrade(1300)], "slower") == []


def test_a_start_mark_folded_after_the_end_mark_still_moves_the_reference() -> None:
    # The daemon reads marks from the store every second or two: both may come at once, in
    # any order, after checks made since. (A mark folded long after its time finds the period
    # before it trimmed from the window: marks are to be registered as they happen.)
    cfg = config(BASELINE, probes=PROBES)
    items = _upgrade_with_a_slow_middle()
    judge = feed(cfg, [o for o in items if o.time <= 1310])
    judge.mark(upgrade(1300))
    judge.mark(started(1000))
    for item in items:
        if item.time > 1310:
            judge.observe(item)
    got = decision(judge, "slower", now=1500)
    assert got.evidence["reference_end"] == 1000
    assert got.severity is CRITICAL


@pytest.mark.parametrize(
    ("marks", "end"),
    [
        # Two starts before one end (a retried upgrade): before the first.
        ([started(900), started(1000), upgrade(1300)], 900),
        # A start older than UPGRADE_HOLD_MAX: that hold ended without this mark.
        ([started(1300 - engine.UPGRADE_HOLD_MAX - 10), upgrade(1300)], 1300),
        # A start before the previous upgrade mark belongs to that one.
        ([started(1000), upgrade(1100), upgrade(1300)], 1300),
        # A start at the mark's own time: nothing between them.
        ([started(1300), upgrade(1300)], 1300),
        # A start after the latest mark: an upgrade in progress, not this one's.
        ([upgrade(1300), started(1400)], 1300),
    ],
)
def test_which_start_ends_the_reference(marks, end) -> None:
    cfg = config(BASELINE, probes=PROBES)
    items = _series(0, 2000, 0.1)
    assert _live(cfg, items, marks, now=1500, rule="slower").evidence["reference_end"] == end


# --------------------------------------------------------------------------- regression


def test_a_regression_reference_ends_where_the_upgrade_began() -> None:
    # Half an hour at 0.1 s, the upgrade from 10,000 to 10,600 at 4x (a slow reboot), then
    # 3x for good. Against the hour before the *mark*, a 0.9 quantile inflated by the slow
    # reboot hides the 3x; against the half hour before the start it is flagged.
    start, mark = 10_000.0, 10_600.0
    items = (
        _noisy(start - 1800, start, 1.0, seed=1)
        + _noisy(start, mark, 4.0, seed=2)
        + _noisy(mark, mark + 1800, 3.0, seed=3)
    )
    cfg = config(REGRESSION, probes=PROBES)
    marks = [started(start), upgrade(mark)]
    got = _live(cfg, items, marks, now=mark + 1800, rule="regressed")
    assert got.severity is CRITICAL
    assert got.evidence["reference_end"] == start
    assert got.evidence["upgrade_at"] == mark
    assert got.evidence["baseline_buckets"] == 60
    plain = _live(cfg, items, [upgrade(mark)], now=mark + 1800, rule="regressed")
    assert plain.severity is OK
    assert "reference_end" not in plain.evidence
    replayed = _replayed(cfg, items, marks, "regressed")
    assert [s for _, s in replayed] == [CRITICAL]
    assert replayed[0][0] == got.evidence["crossed_at"]
    assert _replayed(cfg, items, [upgrade(mark)], "regressed") == []
