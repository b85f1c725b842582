"""``policy.before_first_mark``: evidence from before a target's first upgrade mark.

``hold`` (a fleet that marks every upgrade): a critical decision resting on checks made
before the target's first mark (a reboot or power cycle the mark written after it explains:
held-out-3 ``healthy-reboot-kernel``, held-out-5 ``healthy-reboot-web-one-mark``, held-out-7
``healthy-power-cycle-no-shutdown-db``) is a warning, never a rollback: there is no upgrade to
undo yet. From the mark on, the same rules judge as always (a lasting one from the mark), at
the same speed. ``judge`` (the default: a fleet that never writes marks) decides as before.
Both engine paths are checked: replay's severity-first one and ``evaluate`` in full.
"""

from __future__ import annotations

from judge_helpers import (
    CRITICAL,
    HEALTH_DOWN,
    OK,
    TARGET,
    WARNING,
    config,
    health,
    judged_in_full,
    mark,
    obs,
)

from rollsafe.config import models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import engine, marks, rules, windows

PROBES = [{"kind": "http", "name": "health", "url": "http://x/health", "interval": "10s"}]


def _cfg(before_first_mark: str | None) -> models.RollsafeConfig:
    policy = {} if before_first_mark is None else {"before_first_mark": before_first_mark}
    return config(HEALTH_DOWN, probes=PROBES, policy=policy)


def _downs(
    policy: str | None, items: list[observations.Observation], marks_: list[observations.Mark]
) -> list[tuple[float, verdicts.Severity]]:
    """``down``'s changes, replayed; the full path (``evaluate`` at every instant) agrees."""
    cfg = _cfg(policy)
    replayed = [d for d in engine.replay(cfg, items, marks_) if d.rule == "down"]
    full = [d for d in judged_in_full(cfg, items, marks_) if d.rule == "down"]
    assert [(d.time, d.severity, d.summary) for d in replayed] == [
        (d.time, d.severity, d.summary) for d in full
    ]
    return [(d.time, d.severity) for d in replayed]


def test_the_default_judges_as_before() -> None:
    assert models.Policy().before_first_mark == "judge"
    items = health((3460, 3590), until=4000)
    assert _downs(None, items, [mark(3600)]) == [(3490.0, CRITICAL), (3600.0, OK)]


def test_a_down_before_the_first_mark_is_held_not_rolled_back() -> None:
    # A power cycle 140 s before the only mark, back 10 s before it: a warning, then ok
    # once a check after the mark has come (never critical).
    items = health((3460, 3590), until=4000)
    assert _downs("hold", items, [mark(3600)]) == [(3490.0, WARNING), (3600.0, OK)]
    decided = engine.replay(_cfg("hold"), items, [mark(3600)])
    held = next(d for d in decided if d.rule == "down")
    assert held.evidence["before_first_mark"] == {"held": True, "severity": "critical"}
    assert held.pending
    assert "before this target's first upgrade mark" in held.summary


def test_a_down_through_the_mark_is_rolled_back_for_after_it() -> None:
    # Down from before the mark and still down after it: held, then judged from the mark
    # (the run never spans it): critical `for` after the mark, as with `judge`.
    items = health((3460, 4000), until=4000)
    assert _downs("hold", items, [mark(3600)]) == [
        (3490.0, WARNING),
        (3600.0, OK),
        (3630.0, CRITICAL),
    ]
    assert _downs("judge", items, [mark(3600)])[-1] == (3630.0, CRITICAL)


def test_the_same_down_after_the_mark_rolls_back_at_the_same_delay() -> None:
    items = health((3700, 4000), until=4000)
    for policy in ("hold", "judge"):
        assert _downs(policy, items, [mark(3600)]) == [(3730.0, CRITICAL)]


def test_an_upgrade_started_mark_is_a_first_mark() -> None:
    # `rollsafe upgrade` marks the start before the effect: the upgrade has begun, so a
    # failure after the start is judged (the hold of the upgrade in progress is its own:
    # checks between the marks never count; UPGRADE_HOLD_MAX ends it for a hung upgrade).
    items = health((3460, 9000), until=9000)
    started = [mark(3400, "upgrade_started")]
    expected = [(3400.0 + engine.UPGRADE_HOLD_MAX + 30.0, CRITICAL)]
    assert _downs("hold", items, started) == expected
    assert _downs("judge", items, started) == expected


def test_a_target_with_no_mark_at_all_keeps_todays_delay_with_judge() -> None:
    items = health((1000, 2000), until=2000)
    assert _downs("judge", items, []) == [(1030.0, CRITICAL)]
    # `hold` declares that every upgrade is marked: no mark, nothing to undo, a warning.
    assert _downs("hold", items, []) == [(1030.0, WARNING)]


def test_the_held_run_is_released_at_the_first_check_after_the_mark() -> None:
    # Between the mark and the next check nothing has been read since the mark: the run of
    # failing checks before it still stands and stays held; the check after it (one at the
    # mark's own time counts) judges from the mark.
    judge = engine.Engine(_cfg("hold"))
    for item in health((3460, 3600), until=3590):
        judge.observe(item)
    judge.mark(mark(3595))
    down = next(d for d in judge.evaluate(TARGET, now=3597.0) if d.rule == "down")
    assert down.severity is WARNING
    judge.observe(obs(3600.0, 0.0, source="health"))
    down = next(d for d in judge.evaluate(TARGET, now=3600.0) if d.rule == "down")
    assert down.severity is OK  # one failing check since the mark
    # With `judge`, the same instant before the check is critical (today's behaviour).
    today = engine.Engine(_cfg("judge"))
    for item in health((3460, 3600), until=3590):
        today.observe(item)
    today.mark(mark(3595))
    assert next(d for d in today.evaluate(TARGET, now=3597.0) if d.rule == "down").severity is (
        CRITICAL
    )


def test_unmarked_reads_the_rules_sources_after_the_mark() -> None:
    window = windows.Window(span=600.0)
    for item in health((0, 0), until=100):
        window.insert(item)
    assert marks.unmarked(200.0, [(window, 10.0)], now=150.0)  # before the mark
    # The mark at 95: no value of this source since (the last is at 90), within an
    # interval: held; at 100 a check after it has come: released.
    assert marks.unmarked(95.0, [(window, 10.0)], now=99.0)
    assert not marks.unmarked(100.0, [(window, 10.0)], now=100.0)  # the check at the mark
    assert not marks.unmarked(85.0, [(window, 10.0)], now=99.0)
    # A source that stays silent releases after one interval: never held for good.
    assert not marks.unmarked(95.0, [(window, 10.0)], now=106.0)
    assert not marks.unmarked(95.0, [], now=96.0)  # a rule reading no probe (alerts)
    assert marks.first_mark([], []) == float("inf")
    assert marks.first_mark([300.0], [250.0]) == 250.0
    ok = rules.Outcome(OK, "fine")
    assert marks.held(ok) is ok


def test_a_rule_still_critical_after_the_mark_is_released_at_its_first_check() -> None:
    # A share of failing checks over 5 minutes reads before the mark too: critical from
    # before the mark (held) and still critical at the first check after it, which releases
    # it: said critical then, although its own severity never changed.
    share = {
        "id": "failing-share",
        "kind": "ratio",
        "severity": "critical",
        "probe": "health",
        "when": {"field": "value", "op": "<", "value": 1},
        "above": 0.5,
        "window": "5m",
    }
    items = health((3300, 4000), until=4000)
    held = config(share, probes=PROBES, policy={"before_first_mark": "hold"})
    replayed = [(d.time, d.severity) for d in engine.replay(held, items, [mark(3595)])]
    full = [(d.time, d.severity) for d in judged_in_full(held, items, [mark(3595)])]
    assert replayed == full == [(3450.0, WARNING), (3600.0, CRITICAL)]
    today = config(share, probes=PROBES)  # judge: critical as soon as the share is over
    assert [(d.time, d.severity) for d in engine.replay(today, items, [mark(3595)])] == [
        (3450.0, CRITICAL)
    ]
