"""A unit failing as often as before the upgrade is not the upgrade's (rate ``unit_pace_before``).

The three presets' ``unit-failed`` and ``unit-failures`` count a systemd unit's failures only
when the unit fails faster than twice its pace in the hour before the upgrade
(``judge/unit_pace.py``). The held-out-11 shape: an unrelated unit (motd-news, no route to its
news server) fails every 10 minutes before and after a healthy upgrade; without the
comparison, ``unit-failures`` rolled it back. The faults must stay caught: a unit failing
before now and then and in a loop after, the service's own unit failing again after one
failure before, a new unit failing beside the noisy one. The lines are systemd's wording and
go through the same event counter and ``describe`` the log probe and the backtest use.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import CRITICAL, OK, WARNING, config, judged_in_full

from rollsafe.config import models
from rollsafe.config import presets as preset_catalog
from rollsafe.detect.probes import logevents, logs
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine, unit_pace, vetoes

HOUR = 3600.0
UPGRADE = HOUR  # every test's upgrade mark, an hour into the watch
TARGET = ids.TargetId("t-1")


def _failure(unit: str) -> list[str]:
    """The two lines systemd logs when a unit's main process exits with an error."""
    return [
        f"systemd[1]: {unit}: Main process exited, code=exited, status=1/FAILURE",
        f"systemd[1]: {unit}: Failed with result 'exit-code'.",
    ]


def _looks(
    failures: list[tuple[float, str]], *, until: float, source: str = "u"
) -> list[observations.Observation]:
    """The log probe's observations, one every 15 s from 0 to ``until``: the events of the
    failures (time, unit) since its previous read, described as the probe describes them."""
    counter = logevents.Counter([logevents.PRESETS["systemd_failure"]])
    pending = sorted(failures)
    out: list[observations.Observation] = []
    for step in range(int(until // 15) + 1):
        now = step * 15.0
        while pending and pending[0][0] <= now:
            counter.feed(_failure(pending.pop(0)[1]))
        found = counter.take()
        out.append(
            observations.Observation(
                now, TARGET, source, value=float(found.events), text=logs.describe(found)
            )
        )
    return out


def _every(unit: str, start: float, end: float, step: float) -> list[tuple[float, str]]:
    return [(start + i * step, unit) for i in range(int((end - start) // step) + 1)]


def _preset_config(preset: str) -> models.RollsafeConfig:
    return preset_catalog.apply(
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": str(TARGET), "address": "10.0.0.1"}],
                "probes": [
                    {"kind": "tcp", "name": "h", "port": 22},
                    {"kind": "log", "name": "u", "path": "/s", "presets": ["systemd_failure"]},
                ],
                "presets": [{"preset": preset, "signals": {"health": "h", "unit_failures": "u"}}],
            }
        )
    )


def _unit_decisions(
    preset: str, failures: list[tuple[float, str]], *, until: float = 2 * HOUR
) -> list[tuple[str, verdicts.Severity, float]]:
    """The preset's unit-failure decisions (rule, severity, time) with the upgrade marked at
    ``UPGRADE`` and the health check passing."""
    cfg = _preset_config(preset)
    seen = _looks(failures, until=until)
    seen += [
        observations.Observation(float(t), TARGET, "h", value=1.0)
        for t in range(0, int(until) + 1, 10)
    ]
    marks = [observations.Mark(UPGRADE, TARGET, engine.UPGRADE)]
    return [
        (d.rule.split(".", 1)[1], d.severity, d.time)
        for d in engine.replay(cfg, seen, marks)
        if ".unit-fail" in d.rule
    ]


def _criticals(decided: list[tuple[str, verdicts.Severity, float]]) -> list[tuple[str, float]]:
    return [(rule, time) for rule, severity, time in decided if severity is CRITICAL]


PRESETS = ["web-service", "database-host", "batch-host"]
MOTD = "motd-news.service"


@pytest.mark.parametrize("preset", PRESETS)
def test_a_unit_failing_every_10_minutes_before_and_after_the_upgrade_is_not_rolled_back(
    preset: str,
) -> None:
    # held-out-11's healthy-noisy-syslog-unrelated-unit: 3 failures in every 30 minutes,
    # before the upgrade as after. Before the mark every failure counts (no "before" to
    # compare with yet: the rule warns and rolls back as it always did); from the mark on,
    # motd-news fails no faster than in the hour before it.
    decided = _unit_decisions(preset, _every(MOTD, 300.0, 2 * HOUR, 600.0))
    assert [d for d in decided if d[2] >= UPGRADE] == [
        ("unit-failed", OK, UPGRADE),
        ("unit-failures", OK, UPGRADE),
    ]


@pytest.mark.parametrize("preset", PRESETS)
def test_a_unit_that_failed_now_and_then_and_loops_after_the_upgrade_is_rolled_back(
    preset: str,
) -> None:
    # Twice in the hour before (every 30 minutes), then every 3 minutes from 2 minutes after
    # the upgrade: its pace is 5 times what it was. Rolled back at the second failure after
    # the upgrade, 5 minutes in, as a unit that never failed before would be: the window
    # then holds 3 failures (one from before), above the 2 its old pace allows (x2).
    failures = [(1500.0, MOTD), (3300.0, MOTD), *_every(MOTD, UPGRADE + 120, 2 * HOUR, 180.0)]
    assert _criticals(_unit_decisions(preset, failures))[0] == ("unit-failures", UPGRADE + 300)


@pytest.mark.parametrize(
    ("preset", "unit"),
    [
        ("web-service", "app.service"),
        ("database-host", "postgresql@16-main.service"),
        ("batch-host", "app.service"),
    ],
)
def test_the_services_own_unit_failing_again_after_one_failure_before_is_rolled_back(
    preset: str, unit: str
) -> None:
    # One failure 40 minutes before the upgrade (a pace of 0.5 in 30 minutes), two 5 minutes
    # apart after it: 2 in the window, more than twice 0.5.
    failures = [(UPGRADE - 2400, unit), (UPGRADE + 600, unit), (UPGRADE + 900, unit)]
    assert _criticals(_unit_decisions(preset, failures)) == [("unit-failures", UPGRADE + 900)]


def test_a_new_unit_failing_beside_the_noisy_one_is_rolled_back_on_its_own_failures() -> None:
    # motd-news goes on as before; app.service, which never failed, fails twice after the
    # upgrade: its 2 failures alone are more than 1 in 30 minutes.
    failures = _every(MOTD, 300.0, 2 * HOUR, 600.0)
    failures += [(UPGRADE + 1210.0, "app.service"), (UPGRADE + 1510.0, "app.service")]
    decided = _unit_decisions("batch-host", failures)
    assert _criticals([d for d in decided if d[2] >= UPGRADE]) == [
        ("unit-failures", UPGRADE + 1515.0)
    ]


RULE: dict[str, Any] = {
    "id": "f",
    "kind": "rate",
    "severity": "critical",
    "probe": "u",
    "window": "30m",
    "per": "30m",
    "above": 1,
    "unit_pace_before": "1h",
}


def _decided(
    rule: dict[str, Any], seen: list[observations.Observation], marks: list[float]
) -> list[tuple[verdicts.Severity, float]]:
    cfg = config(rule, targets=[{"id": str(TARGET)}])
    got = engine.replay(cfg, seen, [observations.Mark(t, TARGET, engine.UPGRADE) for t in marks])
    return [(d.severity, d.time) for d in got if d.rule == rule["id"]]


def test_without_an_upgrade_mark_every_failure_counts() -> None:
    # Nothing was upgraded: no "before" to compare with, the rule counts as one without
    # ``unit_pace_before`` does (a target judged before its first mark).
    seen = _looks(_every(MOTD, 300.0, 2 * HOUR, 600.0), until=2 * HOUR)
    assert _decided(RULE, seen, []) == [(CRITICAL, 900.0)]


def test_an_event_naming_no_unit_always_counts() -> None:
    # "Failed to start <description>." names no unit: it cannot be set against a unit's past.
    seen = [
        observations.Observation(t, TARGET, "u", value=1.0, text="Failed to start Daily job.")
        for t in (*range(300, 7200, 600),)
    ]
    assert _decided(RULE, seen, [HOUR]) == [(CRITICAL, 900.0)]
    assert unit_pace.failures(seen[:2]) == {unit_pace.UNNAMED: 2.0}


def test_two_units_in_one_read_share_its_count() -> None:
    both = observations.Observation(
        10.0, TARGET, "u", value=2.0, text="x.service: Failed [units: x.service, y.service]"
    )
    one = observations.Observation(20.0, TARGET, "u", value=1.0, text="y.service: Failed")
    assert unit_pace.failures([both, one]) == {"x.service": 1.0, "y.service": 2.0}
    counted = unit_pace.counted(
        {"x.service": 1.0, "y.service": 2.0},
        {"y.service": 4.0},
        covered=1800.0,
        before_covered=3600.0,
        increase=2.0,
    )
    # y: 2 in 30 minutes against 4 in the hour before (x2: 4 in 30 minutes): as before.
    assert counted == unit_pace.Counted(1.0, {"y.service": (2.0, 4.0)})


def test_the_decision_names_the_units_left_out_with_their_counts() -> None:
    cfg = config(RULE, targets=[{"id": str(TARGET)}])
    judge = engine.Engine(cfg)
    judge.mark(observations.Mark(HOUR, TARGET, engine.UPGRADE))
    for item in _looks(_every(MOTD, 300.0, 2 * HOUR, 600.0), until=HOUR + 1800):
        judge.observe(item)
    (got,) = [d for d in judge.evaluate(str(TARGET), now=HOUR + 1800) if d.rule == "f"]
    assert got.severity is OK
    assert got.evidence["units_as_before"] == {MOTD: {"now": 3.0, "before": 6.0}}
    assert got.evidence["sum"] == 0.0
    assert "not counted, failing no faster than before the upgrade: motd-news.service (3; 6 in" in (
        got.summary
    )


def test_the_options_are_checked() -> None:
    with pytest.raises(pydantic.ValidationError, match="only read with `unit_pace_before`"):
        config({**RULE, "unit_pace_before": None, "unit_pace_increase": 3})
    with pytest.raises(pydantic.ValidationError, match="without `processes` or `same_program`"):
        config({**RULE, "processes": "postgres"})
    with pytest.raises(pydantic.ValidationError, match="greater than 1"):
        config({**RULE, "unit_pace_increase": 1})


def test_the_fleet_veto_keeps_the_reference_of_a_rate_per_unit_pace() -> None:
    # A peer is judged against the target's reference period: its window must hold it.
    cfg = config(RULE)
    by_id = {rule.id: rule for rule in cfg.rules}
    assert vetoes.sources_needed(by_id, ["f"]) == {"u": HOUR}
    plain = config({**RULE, "unit_pace_before": None})
    assert vetoes.sources_needed({r.id: r for r in plain.rules}, ["f"]) == {"u": None}


UNITS = ["a.service", "b.service", "c.socket"]


@st.composite
def unit_streams(draw: st.DrawFn) -> list[observations.Observation]:
    """A log probe every 5 s for 20 minutes: reads with no event, one or several events
    about one unit or two, or naming none."""
    out: list[observations.Observation] = []
    for t in range(0, 1200, 5):
        kind = draw(st.integers(0, 9))
        text: str | None = None
        value = 0.0
        if kind >= 6:
            value = float(draw(st.integers(1, 3)))
            named = draw(st.lists(st.sampled_from(UNITS), min_size=1, max_size=2, unique=True))
            text = f"{named[0]}: Failed with result 'exit-code'."
            if len(named) > 1:
                text += f" [units: {', '.join(named)}]"
        elif kind == 5:
            value, text = 1.0, "Failed to start Something."
        out.append(observations.Observation(float(t), TARGET, "u", value=value, text=text))
    return out


@st.composite
def paced_rules(draw: st.DrawFn) -> dict[str, Any]:
    """The rule with a drawn window (its ``per``), reference period and count."""
    window = draw(st.integers(60, 300))
    return {
        **RULE,
        "window": window,
        "per": window,
        "above": draw(st.sampled_from([0, 1, 2, 4])),
        "unit_pace_before": draw(st.integers(60, 600)),
        "unit_pace_increase": draw(st.sampled_from([1.5, 2.0, 3.0])),
    }


@settings(max_examples=150, deadline=None)
@given(
    unit_streams(),
    st.lists(st.integers(0, 1200), max_size=2),
    st.lists(st.integers(0, 1200), max_size=1),
    paced_rules(),
)
def test_replay_decides_a_rate_per_unit_pace_as_judging_in_full_does(
    seen: list[observations.Observation],
    upgrades: list[int],
    starts: list[int],
    rule: dict[str, Any],
) -> None:
    cfg = config(
        rule, {**rule, "id": "w", "severity": "warning", "above": 0}, targets=[{"id": str(TARGET)}]
    )
    marks = [observations.Mark(t + 0.5, TARGET, engine.UPGRADE) for t in upgrades]
    marks += [observations.Mark(t + 0.5, TARGET, engine.UPGRADE_STARTED) for t in starts]
    assert engine.replay(cfg, seen, marks) == judged_in_full(cfg, seen, marks)


def test_warning_is_kept_while_a_unit_fails_faster_than_before() -> None:
    # The warning (above 0) follows the same counting: one failure of a unit that never
    # failed before warns; motd-news at its old pace does not.
    warn = {**RULE, "id": "w", "severity": "warning", "above": 0}
    seen = _looks(
        [*_every(MOTD, 300.0, 2 * HOUR, 600.0), (HOUR + 1210.0, "app.service")], until=2 * HOUR
    )
    after = [d for d in _decided(warn, seen, [HOUR]) if d[1] >= HOUR]
    assert after == [(OK, HOUR), (WARNING, HOUR + 1215.0), (OK, HOUR + 1215.0 + 1800)]
