"""Threshold ``episodes``: an outage that keeps coming back, each time shorter than ``for``.

A run of failing checks counts as one episode when it meets the rule's ``consecutive`` and
``for`` on its own; the rule fires when ``episodes`` separate runs lie in the last
``within`` (only the checks inside it). Checks lost one or two at a time are not outages,
checks failing between ``upgrade_started`` and ``upgrade`` (the upgrade's own restart or
reboot) do not count, and runs that slid out of ``within`` stop counting. The daemon's path
(``Engine.evaluate``) and replay (``engine.replay``, severity first) must agree.
"""

from __future__ import annotations

import pydantic
import pytest
from judge_helpers import CRITICAL, OK, TARGET, config, decision, feed, obs

from rollsafe.config import models
from rollsafe.domain import ids, observations
from rollsafe.judge import engine
from support import shipped_rules

FLAPPING = {
    **shipped_rules.HEALTH_DOWN,
    "id": "outages-repeat",
    "episodes": 3,
    "within": "1h",
}
PROBES = [{"kind": "http", "name": "health", "url": "http://x/health"}]


def _health(*downs: tuple[float, float], until: float = 7200.0) -> list[observations.Observation]:
    """A check every 10 s from 0 to ``until``, failing inside each of ``downs`` (inclusive)."""
    return [
        obs(t, 0.0 if any(a <= t <= b for a, b in downs) else 1.0, source="health")
        for t in range(0, int(until) + 1, 10)
    ]


def _replayed(items, marks=()) -> list[tuple[float, str]]:
    cfg = config(FLAPPING, probes=PROBES)
    return [
        (d.time, d.severity.name.lower())
        for d in engine.replay(cfg, items, list(marks))
        if d.rule == "outages-repeat"
    ]


def _mark(time: float, name: str) -> observations.Mark:
    return observations.Mark(time=time, target=ids.TargetId(TARGET), name=name)


# Three 65 s outages 1,000 s apart (a runner that deadlocks and is restarted by its watchdog).
THRICE = ((300, 360), (1300, 1360), (2300, 2360))


def test_three_outages_within_the_hour_roll_back_when_the_third_has_lasted_for() -> None:
    # The third run reaches 3 checks spanning 30 s at 2330: the decision is then, not later.
    assert _replayed(_health(*THRICE, until=2400)) == [(2330.0, "critical")]
    judge = feed(config(FLAPPING, probes=PROBES), _health(*THRICE, until=2330))
    got = decision(judge, "outages-repeat", now=2330)
    assert got.severity is CRITICAL
    assert [r["since"] for r in got.evidence["runs"]] == [300.0, 1300.0, 2300.0]
    assert [r["checks"] for r in got.evidence["runs"]] == [7, 7, 4]
    assert got.summary == (
        "health value < 1 3 separate times (3 checks in a row, spanning 30s each) in the last 1h"
    )


def test_two_outages_are_not_three() -> None:
    assert _replayed(_health(*THRICE[:2])) == []
    judge = feed(config(FLAPPING, probes=PROBES), _health(*THRICE[:2], until=3000))
    got = decision(judge, "outages-repeat", now=3000)
    assert got.severity is OK
    assert got.summary.endswith(", of the 3 that count")
    assert len(got.evidence["runs"]) == 2


def test_blips_of_one_or_two_checks_are_not_outages() -> None:
    # Twenty lost checks, two at a time: never 3 in a row, never spanning 30 s.
    blips = tuple((t, t + 10) for t in range(200, 4200, 200))
    assert _replayed(_health(*blips)) == []


def test_a_run_shorter_than_for_is_not_an_outage() -> None:
    # 3 checks in a row, but spanning 20 s only (the probe every 10 s): three such runs.
    short = ((300, 320), (1300, 1320), (2300, 2320))
    assert _replayed(_health(*short)) == []


def test_outages_further_apart_than_within_never_add_up_to_three() -> None:
    spread = ((300, 360), (2300, 2360), (4300, 4360), (6300, 6360))  # 2,000 s apart
    assert _replayed(_health(*spread)) == []


def test_the_rule_clears_once_the_oldest_outage_slides_out_of_within() -> None:
    # The first outage's checks leave the hour at 300 + 3600: the rule is OK again from then,
    # in replay (no check needed to tell) and in the daemon's path alike.
    decisions = _replayed(_health(*THRICE))
    assert decisions[0] == (2330.0, "critical")
    assert decisions[1][1] == "ok"
    assert 3900.0 < decisions[1][0] <= 3970.0
    # The daemon judges as checks come in (its window keeps the last hour of them).
    judge = feed(config(FLAPPING, probes=PROBES), _health(*THRICE, until=3900))
    assert decision(judge, "outages-repeat", now=3900).severity is CRITICAL
    judge.observe(obs(3970, 1.0, source="health"))
    assert decision(judge, "outages-repeat", now=3970).severity is OK


def test_a_reboot_inside_the_upgrade_is_not_one_of_the_outages() -> None:
    # The first "outage" is the upgrade's own reboot, between the marks: two remain.
    marks = [_mark(290, "upgrade_started"), _mark(370, "upgrade")]
    assert _replayed(_health(*THRICE), marks) == []
    # Marked at its end only, the reboot still lies before the upgrade mark in force, and a
    # run of failing checks before that mark is not the upgrade's (as a streak's): two remain.
    assert _replayed(_health(*THRICE), [_mark(370, "upgrade")]) == []
    # An outage after the mark is the upgrade's: three outages.
    assert _replayed(_health(*THRICE), [_mark(250, "upgrade")])[0] == (2330.0, "critical")


def test_outages_before_the_upgrade_do_not_count_once_it_is_marked() -> None:
    # A runner that flapped twice before its upgrade and once after: one outage is the
    # upgrade's, not three. Never upgraded, the same checks are three outages in the hour.
    assert _replayed(_health(*THRICE), [_mark(2000, "upgrade")]) == []
    assert _replayed(_health(*THRICE))[0] == (2330.0, "critical")


def test_simultaneous_checks_decide_the_same_in_any_order() -> None:
    # Two probes of the same source at the same instants, one failing, one not: a check that
    # does not fail ends a run whatever order they were folded in.
    items = _health(*THRICE, until=2400)
    twins = [obs(o.time, 1.0, source="health") for o in items if o.value == 0.0]
    forward = _replayed(items + twins)
    backward = _replayed(list(reversed(twins)) + items)
    assert forward == backward


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"episodes": 3}, "episodes above 1 needs `within`"),
        ({"within": "1h"}, "`within` is only read with episodes above 1"),
        ({"episodes": 2, "within": "20s", "for": "30s"}, "within must be longer than `for`"),
        ({"episodes": 0, "within": "1h"}, "greater than or equal to 1"),
    ],
)
def test_episodes_and_within_come_together(extra: dict[str, object], message: str) -> None:
    rule = {k: v for k, v in FLAPPING.items() if k not in ("episodes", "within")} | extra
    with pytest.raises(pydantic.ValidationError, match=message):
        models.ThresholdRule.model_validate(rule)
