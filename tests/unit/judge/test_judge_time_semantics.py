"""Time semantics: ``consecutive`` and ``for`` are measured on the failing checks themselves.

A threshold with ``consecutive: N`` and ``for: T`` breaches when the newest N checks fail and
the newest run of failing checks spans at least T, from its first failing check's time to its
last failing check's time. Neither "now" nor the order in which simultaneous observations of
other probes are folded in can change a decision: the property test at the end permutes every
group of simultaneous observations (several probes, several targets), evaluates after each one
as the daemon does, and asserts the very same decisions.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import CRITICAL, OK, TARGET, config, decision, feed, obs, upgrade

from rollsafe.config import models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import engine, rules

DOWN = {
    "id": "down",
    "kind": "threshold",
    "probe": "health",
    "op": "<",
    "value": 1,
    "consecutive": 3,
    "for": "30s",
    "severity": "critical",
}


def _health(time: float, up: bool, target: str = "web-1") -> observations.Observation:
    return obs(time, 1.0 if up else 0.0, source="health", target=target)


def _checks(times: list[float], up: bool) -> list[observations.Observation]:
    return [_health(t, up) for t in times]


# --------------------------------------------------------------------------- edge cases


def test_failing_checks_spanning_exactly_for_breach() -> None:
    # 0 10 20 30: four failing checks spanning 30 s = for.
    judge = feed(config(DOWN), _checks([0, 10, 20, 30], up=False))
    got = decision(judge, "down", now=30)
    assert got.severity == CRITICAL
    assert (got.evidence["streak_since"], got.evidence["streak_until"]) == (0, 30)
    assert got.evidence["streak_s"] == 30


def test_one_check_short_of_for_is_ok_however_late_now_is() -> None:
    # 0 10 20 fail, 30 healthy: the outage lasted "about 30 s" but its checks span 20 s.
    judge = feed(config(DOWN), [*_checks([0, 10, 20], up=False), _health(30, up=True)])
    for now in (30.0, 30.5, 60.0, 10_000.0):
        assert decision(judge, "down", now=now).severity == OK
    # Still no healthy check yet, but "now" is long past 30 s: no rollback without a check.
    judge = feed(config(DOWN), _checks([0, 10, 20], up=False))
    got = decision(judge, "down", now=45)
    assert got.severity == OK
    assert "span only 20s of 30s" in got.summary


def test_the_outage_as_long_as_down_for_does_not_depend_on_which_probe_is_judged_first() -> None:
    # The case: the health check recovers at 30, and a log observation carries the same
    # timestamp. Whichever is folded (and judged) first, no rollback is ever decided.
    cfg = config(DOWN, {"id": "errors", "kind": "rate", "probe": "log", "above": 100})
    history = _checks([0, 10, 20], up=False)
    log = obs(30, 0.0, source="log")
    for order in ([log, _health(30, up=True)], [_health(30, up=True), log]):
        judge = feed(cfg, history)
        seen = []
        for item in order:
            judge.observe(item)
            seen.append(decision(judge, "down", now=30).severity)
        assert seen == [OK, OK]


def test_consecutive_is_counted_in_checks_and_for_in_their_span() -> None:
    # Three checks spanning 40 s are enough; a fourth is not needed.
    judge = feed(config(DOWN), _checks([0, 20, 40], up=False))
    assert decision(judge, "down", now=40).severity == CRITICAL
    # Two checks spanning 60 s are not: consecutive wants three.
    judge = feed(config(DOWN), _checks([0, 60], up=False))
    got = decision(judge, "down", now=60)
    assert got.severity == OK
    assert got.evidence["no_data"] is True


def test_a_gap_in_probing_neither_breaks_nor_fills_a_streak() -> None:
    # Failing at 0 and 5, nothing observed for two minutes, failing again at 125: the three
    # failing checks span 125 s. Nothing in between said the service was healthy.
    judge = feed(config(DOWN), _checks([0, 5, 125], up=False))
    got = decision(judge, "down", now=125)
    assert got.severity == CRITICAL
    assert got.evidence["streak_checks"] == 3
    # Before the check at 125, the clock alone never completes the streak.
    judge = feed(config(DOWN), _checks([0, 5], up=False))
    assert decision(judge, "down", now=124).severity == OK


def test_a_probe_error_in_the_middle_of_a_streak_is_not_a_check() -> None:
    # 0 fail, 10 probe error (the detector could not look), 20 fail, 30 fail: three failing
    # checks spanning 30 s. The error neither resets the streak nor counts as a fourth check.
    items = [
        _health(0, up=False),
        obs(10, source="health", error="timed out after 5s"),
        _health(20, up=False),
        _health(30, up=False),
    ]
    judge = feed(config(DOWN), items)
    got = decision(judge, "down", now=30)
    assert got.severity == CRITICAL
    assert got.evidence["streak_checks"] == 3
    assert got.evidence["values"] == [0.0, 0.0, 0.0]
    # Errors alone after two failures never complete it.
    judge = feed(config(DOWN), [*items[:2], obs(20, source="health", error="timed out")])
    assert decision(judge, "down", now=30).severity == OK


def test_a_healthy_check_restarts_the_streak() -> None:
    items = [*_checks([0, 10, 20], up=False), _health(25, up=True), *_checks([30, 40], up=False)]
    judge = feed(config(DOWN), items)
    got = decision(judge, "down", now=40)
    assert got.severity == OK
    assert got.evidence["streak_since"] == 30


def test_for_alone_with_one_failing_check_spans_zero() -> None:
    rule = {**DOWN, "consecutive": 1, "for": "1s"}
    judge = feed(config(rule), _checks([7], up=False))
    assert decision(judge, "down", now=100).severity == OK
    zero = {**DOWN, "consecutive": 1, "for": "0s"}
    assert decision(feed(config(zero), _checks([7], up=False)), "down", now=7).severity == CRITICAL


# --------------------------------------------------------------------------- for_over: checks

CHECKS = {**DOWN, "for": "90s", "for_over": "checks"}


def test_a_run_stands_for_its_span_and_the_time_since_the_check_before_it() -> None:
    # 15 s probes, an outage of 90 s: six failing checks spanning 75 s, the check 15 s before
    # them passing (the outage began after it), stand for 90 s.
    down = [300.0, 315, 330, 345, 360, 375]
    judge = feed(config(CHECKS), _probed(15.0, down, until=375))
    got = decision(judge, "down", now=375)
    assert got.severity == CRITICAL
    assert (got.evidence["streak_s"], got.evidence["lasted_s"]) == (75, 90)
    assert "6 failing checks spanning 1m15s, standing for 1m30s" in got.summary
    # Five such checks (spanning 60 s) stand for 75 s: not yet.
    judge = feed(config(CHECKS), _probed(15.0, down[:-1], until=375))
    got = decision(judge, "down", now=375)
    assert got.severity == OK
    # The same outage seen by 10 s probes: nine checks spanning 80 s stand for 90 s.
    nine = [float(t) for t in range(300, 390, 10)]
    judge = feed(config(CHECKS), _probed(10.0, nine, until=380))
    assert decision(judge, "down", now=380).severity == CRITICAL
    got = decision(feed(config(CHECKS), _probed(10.0, nine[:-1], until=370)), "down", now=370)
    assert (got.severity, got.evidence["lasted_s"]) == (OK, 80)
    assert "standing for only 1m20s of 1m30s" in got.summary


def test_a_gap_inside_a_run_is_in_its_span_and_now_adds_nothing() -> None:
    # Checks every 15 s, then a gap in probing of 45 s inside the run: the span grows by the
    # gap (four checks spanning 75 s, and the 15 s since the passing check before them, stand
    # for 90 s); "now" long after the last failing check adds nothing.
    items = [o for o in _probed(15.0, [300, 315, 330, 375], until=375) if not 330 < o.time < 375]
    judge = feed(config({**CHECKS, "for": "2m"}), items)
    assert decision(judge, "down", now=375).evidence["lasted_s"] == 90
    assert decision(judge, "down", now=10_000).severity == OK
    # One failing check stands for 0 s, like its span, whatever came before it.
    one = {**CHECKS, "consecutive": 1, "for": "1s"}
    got = decision(feed(config(one), _probed(15.0, [300], until=300)), "down", now=400)
    assert (got.severity, got.evidence["lasted_s"]) == (OK, 0)


def test_the_time_before_a_run_counts_at_most_half_again_the_probe_s_pace() -> None:
    # Every 15 s up to 240, then a monitoring gap (no check until the run): the outage began
    # after the passing check at 240, but a gap is not an outage. The time before the run
    # counts for at most 1.5 times the probe's pace (22.5 s: beyond it checks are not at the
    # pace, as for `consecutive`), whether the gap is a minute or an hour: five failing checks
    # spanning 60 s stand for 82.5 s, six (75 s) for 97.5 s.
    def after_a_gap(gap: float, checks: int) -> tuple[list[observations.Observation], float]:
        down = [240 + gap + 15 * k for k in range(checks)]
        probed = _probed(15.0, down, until=down[-1])
        return [o for o in probed if o.time <= 240 or o.time in down], down[-1]

    for gap in (60.0, 3600.0):
        items, last = after_a_gap(gap, 5)
        got = decision(feed(config(CHECKS), items), "down", now=last)
        assert (got.severity, got.evidence["lasted_s"]) == (OK, 82.5)
        items, last = after_a_gap(gap, 6)
        got = decision(feed(config(CHECKS), items), "down", now=last)
        assert (got.severity, got.evidence["lasted_s"]) == (CRITICAL, 97.5)
    # A run whose first check came late (20 s after the passing one, within 1.5 paces): the
    # 20 s count in full, 60 + 20 s.
    items, last = after_a_gap(20.0, 5)
    assert decision(feed(config(CHECKS), items), "down", now=last).evidence["lasted_s"] == 80


def test_a_run_with_no_check_before_it_stands_for_its_span() -> None:
    # The probe's first checks fail: nothing says when the outage began, nor that the service
    # ever answered. Six failing checks every 15 s stand for their span, 75 s; a seventh (90 s)
    # is down.
    got = decision(feed(config(CHECKS), _checks([0, 15, 30, 45, 60, 75], up=False)), "down", now=75)
    assert (got.severity, got.evidence["lasted_s"]) == (OK, 75)
    seven = _checks([0, 15, 30, 45, 60, 75, 90], up=False)
    assert decision(feed(config(CHECKS), seven), "down", now=90).severity == CRITICAL
    # One passing check an hour before, and nothing since: no pace, and the time before the
    # run counts for at most its span (three checks spanning 30 s stand for 60 s, not 3,630).
    items = [_health(-3600, up=True), *_checks([0, 15, 30], up=False)]
    got = decision(feed(config(CHECKS), items), "down", now=30)
    assert (got.severity, got.evidence["lasted_s"]) == (OK, 60)


def test_for_over_needs_for() -> None:
    with pytest.raises(ValueError, match="`for_over` is only read with `for`"):
        config({**{k: v for k, v in DOWN.items() if k != "for"}, "for_over": "checks"})


# --------------------------------------------------------------------------- slow probes


def _probed(
    every: float, down: list[float], *, until: float, errors: tuple[float, ...] = ()
) -> list[observations.Observation]:
    """A check every ``every`` seconds from 0 to ``until``, failing at the times in ``down``
    (which need not be on the grid), a probe error at those in ``errors``."""
    times = sorted({*(k * every for k in range(int(until // every) + 1)), *down, *errors})
    return [
        obs(t, source="health", error="timed out") if t in errors else _health(t, t not in down)
        for t in times
    ]


def _fast_path(judge: engine.Engine, spec: dict[str, Any], *, now: float) -> verdicts.Severity:
    """What a replay decides (``rules.decide``), to pin it to the full path."""
    rule = config(spec).rules[0]
    assert isinstance(rule, models.ThresholdRule)
    window = judge.window(TARGET, rule.probe)
    return rules.decide(rule, window, now=now)[0]


@pytest.mark.parametrize(
    ("every", "down", "words"), [(30.0, [330, 360], "30s"), (60.0, [360, 420], "1m")]
)
def test_a_slow_probe_needs_as_many_checks_as_span_for_at_least_two(
    every: float, down: list[float], words: str
) -> None:
    # A 60 s outage probed every 30 s is two failing checks spanning 30 s; probed every 60 s,
    # two spanning 60 s. Both span `for: 30s` at the probe's own pace: the service was seen
    # refused for 30 s at least, which is what `down` means; a third check would only make a
    # slow probe's users wait 60 to 120 s longer than a fast probe's.
    judge = feed(config(DOWN), _probed(every, down, until=down[-1]))
    got = decision(judge, "down", now=down[-1])
    assert got.severity == CRITICAL
    assert (got.evidence["streak_checks"], got.evidence["paced_s"]) == (2, every)
    assert f"2 times in a row, a check every {words}" in got.summary
    assert _fast_path(judge, DOWN, now=down[-1]) == CRITICAL
    # One failing check alone never does, however slow the probe.
    judge = feed(config(DOWN), _probed(every, down[:1], until=down[0]))
    assert decision(judge, "down", now=down[0] + every).severity == OK


def test_a_fast_probe_still_needs_consecutive_checks() -> None:
    # Every 15 s: two failing checks span 15 s, three span 30 s; nothing changed. Every 10 s:
    # three failing checks span 20 s, too short; a fourth spans 30 s.
    judge = feed(config(DOWN), _probed(15.0, [300, 315], until=330))
    assert decision(judge, "down", now=330).severity == OK
    judge = feed(config(DOWN), _probed(15.0, [300, 315, 330], until=330))
    assert decision(judge, "down", now=330).severity == CRITICAL
    judge = feed(config(DOWN), _probed(10.0, [300, 310, 320], until=330))
    assert decision(judge, "down", now=330).severity == OK
    assert _fast_path(judge, DOWN, now=330) == OK


def test_two_failing_checks_across_a_monitoring_gap_are_not_a_slow_probe() -> None:
    # Every 10 s, then two probe errors (the prober could not look): the failing checks at
    # 300 and 330 span 30 s, but 30 s is three times the probe's pace. Two checks far apart
    # are two checks; they need `consecutive` as before.
    judge = feed(config(DOWN), _probed(10.0, [300, 330], until=330, errors=(310, 320)))
    got = decision(judge, "down", now=330)
    assert got.severity == OK
    assert "paced_s" not in got.evidence
    assert _fast_path(judge, DOWN, now=330) == OK
    # Nothing observed at all in between: the same.
    items = [o for o in _probed(10.0, [300, 330], until=330) if not 300 < o.time < 330]
    assert decision(feed(config(DOWN), items), "down", now=330).severity == OK


def test_a_failing_check_inside_a_run_never_lowers_what_it_stands_for() -> None:
    # `consecutive: 2, for: 60s` over the checks. Every 30 s, down at 300 and 330: two checks
    # spanning 30 s, and the 30 s since the passing check before them, stand for 60 s. A third
    # failing check at 315 (worse evidence) changes neither (until round 11, when a run stood
    # for its span plus its mean spacing, three spanning 30 s stood for 45 s: no down).
    rule = {**CHECKS, "consecutive": 2, "for": "60s"}
    before = _probed(30.0, [300, 330], until=330)
    assert decision(feed(config(rule), before), "down", now=330).severity == CRITICAL
    worse = _probed(30.0, [300, 315, 330], until=330)
    got = decision(feed(config(rule), worse), "down", now=330)
    assert (got.severity, got.evidence["lasted_s"]) == (CRITICAL, 60)


@st.composite
def probed_runs(draw: st.DrawFn) -> tuple[list[observations.Observation], float]:
    """A probe's checks (a pace of 5 to 60 s, late checks, lost ones, a monitoring gap, some
    failing) ending in a run of failing checks, and a time for one more failing check: any
    from the probe's first check to the run's last, inside the run, at its start, before it,
    or between the passing checks before it (never on another check's time)."""
    every = draw(st.sampled_from([5.0, 10.0, 15.0, 30.0, 60.0]))
    items: list[observations.Observation] = []
    t = 0.0
    for _ in range(draw(st.integers(2, 14))):  # enough values for `consecutive`
        items.append(_health(t, up=draw(st.integers(0, 3)) > 0))
        t += every * draw(st.sampled_from([1.0, 1.0, 1.0, 1.2, 2.0, 0.5, 10.0]))
    for _ in range(draw(st.integers(1, 8))):
        items.append(_health(t, up=False))
        t += every * draw(st.sampled_from([1.0, 1.0, 1.3, 0.25, 3.0]))
    times = {o.time for o in items}
    last = items[-1].time
    added = draw(st.floats(min_value=0, max_value=last).filter(lambda x: x not in times))
    return items, added


def _lasted(
    rule: dict[str, Any], items: list[observations.Observation], now: float
) -> tuple[verdicts.Severity, float | None]:
    """The decision and what its run stands for; None for the latter when the window no longer
    holds every check (a run longer than it remembers: an "at least" figure, see
    ``rules._streak``, that already spans ``for``)."""
    judge = feed(config(rule), items)
    got = decision(judge, "down", now=now)
    held = len(judge.window(TARGET, "health").series.times) == len(items)
    return got.severity, got.evidence["lasted_s"] if held else None


@settings(max_examples=300, deadline=None)
@given(probed_runs(), st.integers(1, 3), st.integers(0, 200))
def test_a_failing_check_added_anywhere_never_lowers_what_a_run_stands_for(
    case: tuple[list[observations.Observation], float], consecutive: int, for_: int
) -> None:
    items, added = case
    now = items[-1].time
    rule = {**CHECKS, "consecutive": consecutive, "for": f"{for_}s"}
    severity, lasted = _lasted(rule, items, now)
    # One more failing check; and each of the newest three passing checks coming to fail.
    turned = [o.time for o in items if o.value == 1.0][-3:]
    worse = [
        [*items, _health(added, up=False)],
        *([_health(o.time, up=False) if o.time == t else o for o in items] for t in turned),
    ]
    for evidence in worse:
        got, stands = _lasted(rule, evidence, now)
        assert got >= severity
        if lasted is not None and stands is not None:
            assert stands >= lasted


def test_a_slow_run_must_span_for_itself_even_standing_for_more() -> None:
    # batch-host's `down`: `for: 80s`, `for_over: checks`. Every 60 s, two failing checks span
    # 60 s and stand for 120 s; fewer checks than `consecutive` must prove `for` by their
    # span alone (the least the outage lasted), so they do not; three (span 120 s) do.
    rule = BATCH_DOWN
    judge = feed(config(rule), _probed(60.0, [600, 660], until=660))
    got = decision(judge, "down", now=660)
    assert (got.severity, got.evidence["streak_checks"], got.evidence["lasted_s"]) == (OK, 2, 120)
    judge = feed(config(rule), _probed(60.0, [600, 660, 720], until=720))
    assert decision(judge, "down", now=720).severity == CRITICAL


BATCH_DOWN = {**CHECKS, "for": "80s"}  # batch-host's `down` (consecutive 3, its defaults)


@pytest.mark.parametrize(
    ("every", "down", "since", "lasted", "severity"),
    [
        # Every 60 s: three failing checks span 120 s, down whatever came before them.
        (60.0, [600, 660, 720], None, 180, CRITICAL),
        (60.0, [600, 660, 720], 0.0, 120, CRITICAL),  # the probe's first checks
        # A failing check inside (worse evidence): three spanning 60 s stand for 120 s.
        (60.0, [600, 630, 660], None, 120, CRITICAL),
        # Every 30 s: three stand for 90 s after a passing check, 60 s as the probe's first
        # checks (a fourth, 90 s, is down), 105 s after a monitoring gap (60 + 1.5 x 30).
        (30.0, [600, 630, 660], None, 90, CRITICAL),
        (30.0, [600, 630, 660], 0.0, 60, OK),
        (30.0, [600, 630, 660, 690], 0.0, 90, CRITICAL),
        (30.0, [600, 630, 660], 300.0, 105, CRITICAL),
        # Every 15 s: five stand for 75 s, six for 90 s (held-out-6's 90 s outage).
        (15.0, [600, 615, 630, 645, 660], None, 75, OK),
        (15.0, [600, 615, 630, 645, 660, 675], None, 90, CRITICAL),
    ],
)
def test_batch_host_s_down_over_the_checks(
    every: float,
    down: list[float],
    since: float | None,
    lasted: float,
    severity: verdicts.Severity,
) -> None:
    # Checks every `every` s from 0; with `since`, only those before it and the run (a
    # monitoring gap, or none at all before the run with `since` 0).
    items = _probed(every, down, until=down[-1])
    if since is not None:
        items = [o for o in items if o.time < since or o.time in down]
    got = decision(feed(config(BATCH_DOWN), items), "down", now=down[-1])
    assert (got.evidence["lasted_s"], got.severity) == (lasted, severity)
    assert _fast_path(feed(config(BATCH_DOWN), items), BATCH_DOWN, now=down[-1]) == severity


def test_outages_repeating_under_a_slow_probe_are_counted_the_same_way() -> None:
    # outages-repeat: three runs in the hour, each of `consecutive: 3` spanning 15 s; probed
    # every 30 s, each 45 s outage is two failing checks spanning 30 s.
    rule = {**DOWN, "id": "repeat", "for": "15s", "episodes": 3, "within": "1h"}
    down = [600, 630, 1500, 1530, 2400, 2430]
    judge = feed(config(rule), _probed(30.0, down, until=2460))
    got = decision(judge, "repeat", now=2460)
    assert got.severity == CRITICAL
    assert [r["checks"] for r in got.evidence["runs"]] == [2, 2, 2]
    assert _fast_path(judge, rule, now=2460) == CRITICAL
    # Each a single failing check: not outages.
    judge = feed(config(rule), _probed(30.0, down[::2], until=2460))
    assert decision(judge, "repeat", now=2460).severity == OK


def test_more_failing_checks_never_undo_a_slow_probe_s_down() -> None:
    # Every 30 s, down at 750 and 780: two checks at the probe's pace spanning 30 s.
    before = _probed(30.0, [750, 780], until=780)
    assert decision(feed(config(DOWN), before), "down", now=780).severity == CRITICAL
    # Four more failing checks between the passing ones before it (worse evidence, not
    # better): the checks now come every 15 s, but the probe's pace is its steady checks'
    # (rules._pace), still 30 s apart: more failing checks never undo the down.
    worse = _probed(30.0, [615, 645, 675, 705, 750, 780], until=780)
    assert decision(feed(config(DOWN), worse), "down", now=780).severity == CRITICAL


def test_a_failing_check_before_a_monitoring_gap_never_undoes_a_slow_probe_s_down() -> None:
    # `consecutive: 4`. Every 30 s, down at 750 and 780: two checks in a row at the probe's
    # pace spanning 30 s. The check at 600 failing too, then nothing until 750, makes the run
    # 3 checks across a 150 s gap: its last two still came at the pace and still span `for`.
    rule = {**DOWN, "consecutive": 4}
    passing = [o for o in _probed(30.0, [750, 780], until=780) if not 600 < o.time < 750]
    assert decision(feed(config(rule), passing), "down", now=780).severity == CRITICAL
    failing = [_health(o.time, up=False) if o.time == 600 else o for o in passing]
    got = decision(feed(config(rule), failing), "down", now=780)
    assert got.severity == CRITICAL
    assert (got.evidence["streak_checks"], got.evidence["paced_s"]) == (3, 30.0)
    assert _fast_path(feed(config(rule), failing), rule, now=780) == CRITICAL
    # Only the two checks across the gap: never at the pace, never a down.
    across = [o for o in failing if o.time != 780]
    assert decision(feed(config(rule), across), "down", now=750).severity == OK


# --------------------------------------------------------------------------- property

SOURCES = ("health", "log", "latency")
TARGETS = ("web-1", "web-2")


@st.composite
def policies(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Thresholds on the health check and on latency (and a composite of them), a rate on a
    log, a ratio and a baseline on latency, and a composite over those."""
    return [
        {
            **DOWN,
            "consecutive": draw(st.integers(1, 4)),
            "for": f"{draw(st.integers(0, 8)) * 5}s",
            "for_over": draw(st.sampled_from(["span", "checks"])),
        },
        {
            "id": "slow-streak",
            "kind": "threshold",
            "probe": "latency",
            "op": ">",
            "value": 0.5,
            "consecutive": draw(st.integers(1, 3)),
            "for": f"{draw(st.integers(0, 4)) * 10}s",
            "severity": "warning",
        },
        {"id": "down-or-slow", "kind": "any", "rules": ["down", "slow-streak"]},
        {
            "id": "errors",
            "kind": "rate",
            "probe": "log",
            "window": f"{draw(st.integers(1, 6)) * 10}s",
            "per": "10s",
            "above": draw(st.integers(0, 4)),
            "severity": "critical",
        },
        {
            "id": "slow",
            "kind": "ratio",
            "probe": "latency",
            "when": {"field": "value", "op": ">", "value": 0.5},
            "window": f"{draw(st.integers(1, 6)) * 10}s",
            "above": draw(st.sampled_from([0.0, 0.3, 0.5])),
            "min_samples": draw(st.integers(1, 3)),
            "severity": "warning",
        },
        {
            "id": "slower",
            "kind": "baseline",
            "probe": "latency",
            "window": "30s",
            "before": "60s",
            "min_samples": 1,
            "severity": "critical",
        },
        {"id": "both", "kind": "all", "rules": ["errors", "slow"], "severity": "critical"},
    ]


# Rules whose outcome depends on their own source's checks alone: judged after every single
# observation, even halfway through an instant, they never change with the folding order.
# (A composite over two sources, or a window that slides with "now", may show a passing state
# while an instant is half folded in; once it is all in, every rule agrees: ``settled``.)
CHECK_BASED = {"down", "slow-streak"}


@st.composite
def histories(draw: st.DrawFn) -> list[list[observations.Observation]]:
    """Groups of simultaneous observations every 10 s: each target and probe may report, fail
    to observe (an error) or stay silent at each instant."""
    groups = []
    for tick in range(draw(st.integers(3, 12))):
        group = []
        for target in TARGETS:
            for source in SOURCES:
                what = draw(st.sampled_from(["value", "value", "value", "error", "silent"]))
                if what == "silent":
                    continue
                if what == "error":
                    group.append(obs(tick * 10.0, source=source, target=target, error="timeout"))
                    continue
                value = {
                    "health": st.sampled_from([0.0, 1.0]),
                    "log": st.integers(0, 3).map(float),
                    "latency": st.sampled_from([0.1, 0.2, 0.9]),
                }[source]
                group.append(obs(tick * 10.0, draw(value), source=source, target=target))
        groups.append(group)
    return groups


_Changes = dict[tuple[str, str], list[tuple[float, verdicts.Severity]]]
_Settled = list[list[tuple[str, str, verdicts.Severity, str, str]]]


def _run(
    rules: list[dict[str, Any]],
    groups: list[list[observations.Observation]],
    *,
    delays: list[float],
    mark_at: float | None,
) -> tuple[_Changes, _Settled]:
    """Feed as the daemon does: observe, then judge that target at a ``now`` a little after
    the observation. Returns the severity changes of check-based rules and blindness per
    (target, rule) with the instant they happened at, and every target's full decisions once
    each instant is completely in."""
    judge = engine.Engine(config(*rules, targets=[{"id": t} for t in TARGETS]))
    last: dict[tuple[str, str], verdicts.Severity] = {}
    changes: _Changes = defaultdict(list)
    settled: _Settled = []
    step = 0
    for group in groups:
        if not group:
            continue
        time = group[0].time
        if mark_at is not None and time == mark_at:
            for target in TARGETS:
                judge.mark(upgrade(time, target))
        for item in group:
            judge.observe(item)
            now = item.time + delays[step % len(delays)]
            step += 1
            for d in judge.evaluate(item.target, now=now):
                if d.rule not in CHECK_BASED and not d.rule.startswith("blind:"):
                    continue
                key = (d.target, d.rule)
                if d.severity != last.get(key, OK):
                    changes[key].append((item.time, d.severity))
                last[key] = d.severity
        settled.append(
            [
                (d.target, d.rule, d.severity, d.summary, json.dumps(d.evidence, sort_keys=True))
                for d in judge.evaluate_all(now=time + 9.0)
            ]
        )
    return dict(changes), settled


@settings(max_examples=100, deadline=None)
@given(
    rules=policies(),
    groups=histories(),
    delays=st.lists(st.floats(0, 9.0), min_size=1, max_size=5),
    data=st.data(),
)
def test_the_order_of_simultaneous_observations_never_changes_a_decision(
    rules: list[dict[str, Any]],
    groups: list[list[observations.Observation]],
    delays: list[float],
    data: st.DataObject,
) -> None:
    ticks = [g[0].time for g in groups if g]
    mark_at = data.draw(st.sampled_from([None, *ticks]))
    reference = _run(rules, groups, delays=[0.0], mark_at=mark_at)
    permuted = [data.draw(st.permutations(group)) for group in groups]
    # Any order within each instant, judged at any "now" before the next instant: the same
    # decisions once an instant is in, for every rule (evidence and wording included); and
    # for check-based rules and blindness, the same severity changes at the same instants
    # even while an instant is half folded in.
    assert _run(rules, permuted, delays=delays, mark_at=mark_at) == reference
    reversed_groups = [group[::-1] for group in groups]
    assert _run(rules, reversed_groups, delays=[0.0], mark_at=mark_at) == reference


@settings(max_examples=60, deadline=None)
@given(rules=policies(), groups=histories(), data=st.data())
def test_replay_does_not_depend_on_the_order_or_the_names_of_simultaneous_probes(
    rules: list[dict[str, Any]],
    groups: list[list[observations.Observation]],
    data: st.DataObject,
) -> None:
    flat = [item for group in groups for item in group]
    cfg = config(*rules, targets=[{"id": t} for t in TARGETS])
    reference = [(d.time, d.target, d.rule, d.severity) for d in engine.replay(cfg, flat)]
    shuffled = data.draw(st.permutations(flat))
    assert [(d.time, d.target, d.rule, d.severity) for d in engine.replay(cfg, shuffled)] == (
        reference
    )
    # Renaming the health probe so that it sorts after the others changes which observation
    # of an instant replay folds first; the decisions must not change.
    renamed_rules = [
        {**r, "probe": "zz-health"} if r.get("probe") == "health" else r for r in rules
    ]
    renamed = [replace(o, source="zz-health") if o.source == "health" else o for o in flat]
    cfg = config(*renamed_rules, targets=[{"id": t} for t in TARGETS])
    got = [
        (d.time, d.target, d.rule.replace("blind:zz-health", "blind:health"), d.severity)
        for d in engine.replay(cfg, renamed)
    ]
    assert sorted(got) == sorted(reference)
