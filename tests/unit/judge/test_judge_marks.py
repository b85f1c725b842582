"""Several upgrade marks in one watch, and an outage that began before a mark.

Real shapes: a hotfix or a second package run while the first release is still watched (a
minor release that does not fix a leak), and a host that goes down for its upgrade's reboot
before anything marks the upgrade. What each rule measures from (docs/architecture.md,
"Upgrade marks"):

- a ``trend`` rule measures from the FIRST ``upgrade`` mark of its watch (``grace`` plus
  its longest span after it); a later mark inside the watch joins it, so the fit and the
  slope "before" are not reset (``trend.watch_start``); a mark after the watch opens a new
  one;
- a lasting threshold (``down``) judges a run of failing checks from the latest mark: a
  run never spans a mark, so an outage that began before a mark (the upgrade's own reboot)
  is blamed on the upgrade only when it goes on ``for`` past the mark.

Memory is read once a minute with a seeded AR(1) wander; decisions are the engine's, both
its live path (``evaluate``) and replay.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from judge_helpers import (
    CRITICAL,
    HEALTH_DOWN,
    OK,
    config,
    decision,
    health,
    judged_in_full,
    mark,
    obs,
    upgrade,
)

from rollsafe.config import models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import engine, trend, windows

HOUR = 3600.0
UP = 2 * HOUR  # the first upgrade
# The shipped database-host memory rules' settings (presets: memory-trend, memory-slow-leak).
TREND = {
    "id": "memory-trend",
    "kind": "trend",
    "probe": "memory",
    "severity": "critical",
    "capacity": 100,
    "unit": "%",
    "within": "4h",
    "window": "2h",
    "min_window": "2h",
    "before": "2h",
    "min_rate": 3,
}
SLOW = {
    **TREND,
    "id": "memory-slow-leak",
    "steady": True,
    "within": "30h",
    "window": "6h",
    "min_window": "3h",
    "min_rate": 1.5,
}
PROBES = [{"kind": "http", "name": "health", "url": "http://x/health"}]


def _memory(curve: Callable[[float], float], *, hours: float) -> list[observations.Observation]:
    rng = random.Random(7)
    drift, out = 0.0, []
    for minute in range(int(hours * 60)):
        t = minute * 60.0
        drift = 0.9 * drift + rng.gauss(0.0, 0.5)
        out.append(obs(t, round(curve(t) + drift, 2), source="memory"))
    return out


def _first_critical(
    rule: dict[str, object], items: list[observations.Observation], marks: list[float]
) -> verdicts.Decision | None:
    """The rule's first critical decision, judged every 5 minutes as values and marks come."""
    judge = engine.Engine(config(rule))
    pending = sorted(marks)
    at = 0
    now = UP
    end = items[-1].time
    while now <= end:
        while pending and pending[0] <= now:
            judge.mark(upgrade(pending.pop(0)))
        while at < len(items) and items[at].time <= now:
            judge.observe(items[at])
            at += 1
        got = decision(judge, str(rule["id"]), now=now)
        if got.severity is CRITICAL:
            return got
        now += 300.0
    return None


def _leak_from(
    start: float, per_hour: float, *, until: float | None = None
) -> Callable[[float], float]:
    """45% flat, growing ``per_hour`` from ``start`` (and flat again from ``until``)."""

    def level(t: float) -> float:
        grown = min(t, until if until is not None else t) - start
        return 45.0 + per_hour * max(0.0, grown) / HOUR

    return level


def test_a_leak_through_a_second_upgrade_is_rolled_back_as_if_there_were_one() -> None:
    # 6 points an hour from the first upgrade; a minor release 100 minutes later does not fix
    # it. Measured from the second mark the watch would start over (2 h 10 min more) with a
    # "before" that already rises; measured from the first, nothing changes.
    items = _memory(_leak_from(UP, 6.0), hours=10)
    for rule in (TREND, SLOW):
        alone = _first_critical(rule, items, [UP])
        both = _first_critical(rule, items, [UP, UP + 100 * 60])
        assert alone is not None
        assert both is not None
        assert both.time == alone.time
        assert both.evidence["watch_from"] == UP
        assert both.evidence["later_marks"] == [UP + 100 * 60]
        assert "since the first of 2 upgrades" in both.summary
    # The slow-leak rule, the one a 6-point leak from 45% reaches first: 3 h 10 min in.
    assert _first_critical(SLOW, items, [UP, UP + 100 * 60]).time <= UP + 3.5 * HOUR  # type: ignore[union-attr]


def test_a_second_upgrade_that_fixes_the_leak_is_not_rolled_back() -> None:
    # The hotfix 80 minutes in stops the growth: the span's late half grows no more.
    items = _memory(_leak_from(UP, 6.0, until=UP + 80 * 60), hours=12)
    for rule in (TREND, SLOW):
        assert _first_critical(rule, items, [UP, UP + 80 * 60]) is None


def test_an_upgrade_after_the_watch_has_ended_opens_a_watch_of_its_own() -> None:
    # Flat through a first upgrade; a second one 7 hours later (after both rules' watches)
    # leaks 6 points an hour: judged from the second mark, against the hours before it.
    second = UP + 7 * HOUR
    items = _memory(_leak_from(second, 6.0), hours=16)
    got = _first_critical(SLOW, items, [UP, second])
    assert got is not None
    assert "watch_from" not in got.evidence
    assert got.evidence["reference_end"] == second
    assert second + 3 * HOUR <= got.time <= second + 3.5 * HOUR
    assert "since the upgrade (" in got.summary


def test_a_slow_leak_a_later_release_brings_is_watched_from_that_release() -> None:
    # Flat through a first upgrade; a second one 5 hours later, inside the slow-leak rule's
    # 6 h 10 min watch of the first, leaks 3 points an hour. Once the first watch is over (it
    # did not fire), the second mark opens its own: judged from it, against the 2 h before.
    second = UP + 5 * HOUR
    items = _memory(_leak_from(second, 3.0), hours=14)
    got = _first_critical(SLOW, items, [UP, second])
    assert got is not None
    assert "watch_from" not in got.evidence
    assert got.evidence["reference_end"] == second
    assert second + 3 * HOUR <= got.time <= second + 4 * HOUR


def test_replay_hands_the_steady_watch_over_when_judging_in_full_does() -> None:
    # The hand-over happens with time alone (the first watch ends between two values): replay
    # decides the trend rules at the very instants judging every rule in full does.
    second = UP + 5 * HOUR
    items = _memory(_leak_from(second, 3.0), hours=12)[::5]  # every 5 minutes
    marks = [upgrade(UP), upgrade(second)]
    cfg = config(TREND, SLOW)
    replayed = engine.replay(cfg, items, marks)
    assert replayed == judged_in_full(cfg, items, marks)
    assert any(d.rule == "memory-slow-leak" and d.severity is CRITICAL for d in replayed)


def test_replay_agrees_with_judging_in_full_across_two_marks() -> None:
    items = _memory(_leak_from(UP, 6.0), hours=7)
    marks = [upgrade(UP), upgrade(UP + 100 * 60)]
    cfg = config(TREND, SLOW)
    replayed = [d for d in engine.replay(cfg, items, marks) if d.severity is CRITICAL]
    assert replayed
    first = replayed[0]
    judge = engine.Engine(cfg)
    for each in marks:
        judge.mark(each)
    for item in items:
        if item.time <= first.time:
            judge.observe(item)
    assert decision(judge, first.rule, now=first.time).severity is CRITICAL
    assert decision(judge, first.rule, now=first.time - 60).severity is OK


# ---------------------------------------------------------------- a down run and a mark


def _downs(
    items: list[observations.Observation], marks: list[observations.Mark]
) -> list[tuple[float, verdicts.Severity]]:
    cfg = config(HEALTH_DOWN, probes=PROBES)
    return [(d.time, d.severity) for d in engine.replay(cfg, items, marks) if d.rule == "down"]


def test_a_mark_during_a_down_run_judges_it_from_the_mark() -> None:
    # Upgraded at 100; a hotfix starts at 1000 while the service has been failing since 990
    # (20 s: not yet `for`), ends at 1060; the service stays down. The hotfix's own restart
    # (between its marks) is not counted, and the run is judged from its end mark: rolled
    # back 30 s after it, not at 1020 as the run's first 30 s would have said.
    items = health((990, 2000), until=2000)
    marks = [mark(100), mark(1000, "upgrade_started"), mark(1060)]
    assert _downs(items, marks) == [(1090.0, CRITICAL)]
    # Without the hotfix's marks, the same run is rolled back at 1020.
    assert _downs(items, [mark(100)]) == [(1020.0, CRITICAL)]


def test_an_outage_that_ends_before_the_mark_is_never_blamed_after_it() -> None:
    # A power cycle 140 s before the only mark, the port back 10 s before it: after the
    # mark, nothing is critical. Before it, with no mark known yet, `down` does fire (no
    # rule deciding then can know of a mark written later: docs/architecture.md says why
    # this is not changed here).
    items = health((3460, 3590), until=4000)
    downs = _downs(items, [mark(3600)])
    assert downs == [(3490.0, CRITICAL), (3600.0, OK)]
    assert all(severity is OK for time, severity in downs if time >= 3600)


def test_an_outage_that_began_before_the_mark_and_goes_on_is_blamed_for_after_it() -> None:
    items = health((3460, 4000), until=4000)
    downs = _downs(items, [mark(3600)])
    # Before the mark as any outage; from the mark, judged again: ok, then `for` after it.
    assert downs == [(3490.0, CRITICAL), (3600.0, OK), (3630.0, CRITICAL)]
    assert OK is verdicts.Severity.OK


def test_which_mark_opens_the_watch_a_mark_belongs_to() -> None:
    # memory-trend: grace 10 min + window 2 h = 7,800 s. A mark within that of the mark that
    # opened the watch joins it; one after it opens its own, and later marks join that one.
    rule = models.TrendRule.model_validate(TREND)
    window = windows.Window(span=HOUR)
    window.holds = windows.Holds()
    window.holds.set([], [0.0, 7800.0, 7801.0 + 7800.0, 7801.0 + 9000.0, 40000.0])
    assert trend.watch_start(rule, window, 0.0, now=0.0) == 0.0
    # At the watch's very end a mark joins it; after it, a mark opens a watch of its own.
    assert trend.watch_start(rule, window, 7800.0, now=7800.0) == 0.0
    assert trend.watch_start(rule, window, 15601.0, now=15601.0) == 15601.0
    assert trend.watch_start(rule, window, 16801.0, now=16801.0) == 15601.0
    assert trend.watch_start(rule, window, 40000.0, now=40000.0) == 40000.0
    # The steady rule's watch is longer (6 h 10 min): the marks up to 16,801 s are one watch.
    steady = models.TrendRule.model_validate(SLOW)
    assert trend.watch_start(steady, window, 16801.0, now=16801.0) == 0.0
    assert trend.watch_start(steady, window, 16801.0, now=22200.0) == 0.0
    # Once its watch is over (not fired), the next mark opens one, and the later ones join it:
    # a slow leak a later release brings is watched from that release.
    assert trend.watch_start(steady, window, 16801.0, now=22201.0) == 7800.0
    assert trend.watch_start(rule, window, 16801.0, now=22201.0) == 15601.0  # sliding: as before
    # Marks after the one in force are not read; no window, or one mark: the mark itself.
    assert trend.watch_start(rule, None, 7800.0, now=7800.0) == 7800.0
    alone = windows.Window(span=HOUR)
    assert trend.watch_start(rule, alone, 7800.0, now=7800.0) == 7800.0
