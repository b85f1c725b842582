"""A restart or a reboot inside an upgrade is the upgrade's own, not an outage.

``rollsafe upgrade`` (and ``rollsafe mark upgrade --started`` from another tool) writes a
``upgrade_started`` mark before the upgrade begins and an ``upgrade`` mark when it has ended.
Failing checks made in between do not count towards a duration rule (``consecutive`` > 1 or
``for``): a service down through its upgrade's reboot is judged from the moment the upgrade
ended; one that stays down is rolled back ``for`` after that. Checks count again once the
upgrade has run longer than ``engine.UPGRADE_HOLD_MAX`` without ending (a hung upgrade must
not hide an outage), and a single-check rule (a kernel panic line) always counts. Both the
daemon's path (``Engine.evaluate``) and replay (``engine.replay``) are checked.
"""

from __future__ import annotations

from judge_helpers import CRITICAL, HEALTH_DOWN, OK, TARGET, config, decision, obs

from rollsafe.domain import ids, observations
from rollsafe.judge import engine

DOWN = HEALTH_DOWN
PANIC = {
    "id": "panic",
    "kind": "threshold",
    "severity": "critical",
    "probe": "panic",
    "op": ">=",
    "value": 1,
}
PROBES = [
    {"kind": "http", "name": "health", "url": "http://x/health"},
    {"kind": "command", "name": "panic", "command": ["true"]},
]


def _mark(time: float, name: str) -> observations.Mark:
    return observations.Mark(time=time, target=ids.TargetId(TARGET), name=name)


def _health(down: tuple[float, float], *, until: float = 400.0) -> list[observations.Observation]:
    """A check every 10 s from 0 to ``until``, failing inside ``down`` (inclusive)."""
    return [
        obs(t, 0.0 if down[0] <= t <= down[1] else 1.0, source="health")
        for t in range(0, int(until) + 1, 10)
    ]


def _critical_times(items, marks) -> list[float]:
    cfg = config(DOWN, PANIC, probes=PROBES)
    return [
        d.time
        for d in engine.replay(cfg, items, marks)
        if d.rule == "down" and d.severity is CRITICAL
    ]


def _live(items, marks, now: float):
    """The daemon's path: marks and checks folded in time order (a mark first), then judged."""
    cfg = config(DOWN, PANIC, probes=PROBES)
    judge = engine.Engine(cfg)
    timeline = sorted([(m.time, 0, m) for m in marks] + [(o.time, 1, o) for o in items])
    for time, _, item in timeline:
        if time > now:
            break
        if isinstance(item, observations.Mark):
            judge.mark(item)
        else:
            judge.observe(item)
    return decision(judge, "down", now=now)


def test_a_reboot_between_the_marks_is_not_an_outage() -> None:
    items = _health((100, 180))  # 90 s down: three times down_for
    marks = [_mark(95, "upgrade_started"), _mark(185, "upgrade")]
    assert _critical_times(items, marks) == []
    assert _live(items, marks, now=200).severity is OK


def test_the_same_reboot_without_a_start_mark_is_an_outage() -> None:
    # Nothing said an upgrade was running: the judge cannot tell a reboot from a crash, and
    # cannot know of the mark that will come at its end.
    items = _health((100, 180))
    assert _critical_times(items, [_mark(185, "upgrade")]) == [130.0]
    assert _live(items, [_mark(185, "upgrade")], now=150).severity is CRITICAL


def test_a_service_still_down_after_its_upgrade_is_rolled_back_for_after_the_end() -> None:
    items = _health((100, 400))  # never comes back
    marks = [_mark(95, "upgrade_started"), _mark(185, "upgrade")]
    # The checks after the end count: 190, 200, 210, 220 span 30 s.
    assert _critical_times(items, marks) == [220.0]
    assert _live(items, marks, now=230).severity is CRITICAL


def test_an_upgrade_that_never_ends_stops_hiding_failures() -> None:
    hold = engine.UPGRADE_HOLD_MAX
    until = 100 + hold + 200
    items = _health((100, until), until=until)
    marks = [_mark(95, "upgrade_started")]
    times = _critical_times(items, marks)
    assert times, "a hung upgrade hid an outage for ever"
    assert times[0] > 95 + hold
    assert times[0] <= 95 + hold + 40


def test_a_single_check_rule_counts_during_an_upgrade() -> None:
    items = [*_health((0, -1)), obs(150, 1.0, source="panic")]
    marks = [_mark(95, "upgrade_started"), _mark(185, "upgrade")]
    cfg = config(DOWN, PANIC, probes=PROBES)
    panics = [d for d in engine.replay(cfg, items, marks) if d.rule == "panic"]
    assert [(d.time, d.severity) for d in panics][:1] == [(150.0, CRITICAL)]


def test_a_late_start_mark_holds_checks_it_covers() -> None:
    # The daemon reads marks from the store every few seconds: the start mark may be folded
    # after checks made since it. What counts is the checks' time, not the order of arrival.
    items = _health((100, 180))
    cfg = config(DOWN, PANIC, probes=PROBES)
    judge = engine.Engine(cfg)
    for item in items:
        if item.time <= 130:
            judge.observe(item)
    judge.mark(_mark(95, "upgrade_started"))
    assert decision(judge, "down", now=130).severity is OK


# An ``upgrade`` mark is where lasting rules judge from: once it is in force, failing checks
# made before it do not count (a host failing before its upgrade was not made failing by it).


def test_a_restart_straddling_an_end_mark_is_judged_from_the_mark() -> None:
    # Down from 160 to 200, upgrade marked at 185 (the tool reported the end before the
    # service answered again): 160..200 span 40 s, but only 190, 200 are after the mark.
    items = _health((160, 200))
    marks = [_mark(185, "upgrade")]
    assert _critical_times(items, marks) == []
    assert _live(items, marks, now=200).severity is OK
    found = _live(items, marks, now=200)
    assert found.evidence["judged_from"] == 185
    assert "failing since before the upgrade ended" in found.summary
    # Without the mark the same 40 s is an outage.
    assert _critical_times(items, []) == [190.0]


def test_a_service_down_since_before_an_end_mark_is_rolled_back_for_after_it() -> None:
    items = _health((160, 400))  # never comes back
    marks = [_mark(185, "upgrade")]
    # Before the mark the outage counts as any (160..190 span 30 s at 190 > 185: after it,
    # so 190, 200, 210, 220 are what count).
    assert _critical_times(items, marks) == [220.0]
    assert _live(items, marks, now=220).severity is CRITICAL


def test_an_outage_older_than_the_upgrade_is_judged_again_from_the_mark() -> None:
    # Down since 50: rolled back at 80, before anybody upgraded. The upgrade at 185 does not
    # fix it: from the mark the judge says ok (the outage is not the upgrade's yet), then
    # critical again `for` after it (the time after the mark is the upgrade's to answer for).
    items = _health((50, 400))
    marks = [_mark(185, "upgrade")]
    cfg = config(DOWN, PANIC, probes=PROBES)
    downs = [(d.time, d.severity) for d in engine.replay(cfg, items, marks) if d.rule == "down"]
    assert downs == [(80.0, CRITICAL), (190.0, OK), (220.0, CRITICAL)]
    assert _live(items, marks, now=210).severity is OK
    assert _live(items, marks, now=210).pending  # failing: worth looking again soon


def test_the_mark_counts_from_the_first_check_after_it() -> None:
    # A run of failing checks never spans an upgrade mark, measured on the checks: until a
    # check after the mark comes, nothing new is known and the decision stands (so no
    # decision depends on whether "now" is judged a little before or after the mark).
    items = [o for o in _health((100, 400)) if o.time <= 170]
    assert _live(items, [_mark(185, "upgrade")], now=200).severity is CRITICAL
    later = [*items, obs(190, 0.0, source="health")]
    found = _live(later, [_mark(185, "upgrade")], now=200)
    assert found.severity is OK
    assert found.summary.endswith("judged from its end (its newest check 5s after it)")
