"""A restarted daemon knows a target's upgrade from before its horizon (``runtime.recall``).

The warm-up refills the windows over ``Engine.horizon``; a target last upgraded longer ago
than that was, to a restarted daemon before round 11, never upgraded: with
``policy.before_first_mark: hold`` its failures were held as warnings (never rolled back),
and its baseline had no reference. Now the daemon reloads each target's newest marks and the
reference periods before them, and judges as the daemon that never stopped.
"""

from __future__ import annotations

from pathlib import Path

import restart_helpers

from rollsafe.config import models
from rollsafe.domain import ids, observations
from rollsafe.execute import upgrading
from rollsafe.judge import engine
from rollsafe.runtime import recall
from rollsafe.storage import sql

TARGET = ids.TargetId("web-1")
STEP = 30.0
HOUR = 3600.0
UPGRADED = 1_800_000_000.0
NOW = UPGRADED + 30 * HOUR  # the daemon restarts 30 h after the one upgrade


def _config(tmp_path: Path) -> models.RollsafeConfig:
    return restart_helpers.config(
        tmp_path,
        [
            restart_helpers.SLOWER,
            {
                "id": "very-slow",
                "kind": "threshold",
                "probe": "http",
                "field": "latency",
                "op": ">",
                "value": 1.0,
                "severity": "critical",
            },
        ],
        policy={"before_first_mark": "hold"},
    )


def _check(t: float, latency: float) -> observations.Observation:
    return observations.Observation(
        time=t, target=TARGET, source="http", value=1.0, status=200, latency_s=latency
    )


def _history() -> list[observations.Observation]:
    """Checks every 30 s from two hours before the upgrade to ``NOW``: 0.1 s before it,
    0.3 s after it (a baseline three times its reference), 2 s in the last minute."""
    found = [upgrading_mark(UPGRADED)]
    t = UPGRADED - 2 * HOUR
    while t < NOW:
        latency = 0.1 if t < UPGRADED else (2.0 if t >= NOW - 60 else 0.3)
        found.append(_check(t, latency))
        t += STEP
    return sorted(found, key=lambda obs: obs.time)


def upgrading_mark(at: float) -> observations.Observation:
    return observations.Observation(time=at, target=TARGET, source=upgrading.FINISHED)


def _judged(judge: engine.Engine) -> list[tuple[str, str, dict[str, object]]]:
    return [
        (d.rule, d.severity.label, dict(d.evidence))
        for d in judge.evaluate("web-1", now=NOW)
        if not d.rule.startswith("blind:")
    ]


def test_a_restart_long_after_the_upgrade_judges_as_the_daemon_that_never_stopped(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    history = _history()
    watched = restart_helpers.never_stopped(config, history)
    restarted = restart_helpers.restarted(tmp_path, config, history, now=NOW)
    try:
        assert restarted.engine.horizon() < NOW - UPGRADED  # the mark is outside the refill
        mine = _judged(restarted.engine)
    finally:
        restarted.store.close()

    never_stopped = _judged(watched)
    assert mine == never_stopped
    by_rule = {rule: (severity, evidence) for rule, severity, evidence in mine}
    # The failure after the restart is the upgraded target's: critical, not held.
    severity, evidence = by_rule["very-slow"]
    assert severity == "critical"
    assert "before_first_mark" not in evidence
    # And the baseline compares with the hour before the upgrade, 30 h ago.
    severity, evidence = by_rule["slower"]
    assert severity == "critical"
    assert evidence["reference_start"] == UPGRADED - HOUR
    assert evidence["reference_end"] == UPGRADED
    assert evidence["baseline_samples"] == HOUR / STEP


def test_reference_periods_merge_and_stop_at_the_horizon() -> None:
    assert recall.reference_periods([100.0, 130.0, 500.0], before=50.0, until=1000.0) == [
        (50.0, 130.0),
        (450.0, 500.0),
    ]
    # A mark after the horizon's start: only the part before it is read back.
    assert recall.reference_periods([1020.0], before=50.0, until=1000.0) == [(970.0, 1000.0)]
    assert recall.reference_periods([2000.0], before=50.0, until=1000.0) == []
    assert recall.reference_periods([100.0], before=0.0, until=1000.0) == []


def test_the_prune_keeps_marks_and_the_newest_are_read_per_target(tmp_path: Path) -> None:
    store = sql.open_store(tmp_path, None)
    try:
        marks = [upgrading_mark(at) for at in (100.0, 200.0, 300.0)]
        started = observations.Observation(time=250.0, target=TARGET, source=upgrading.STARTED)
        other = observations.Observation(
            time=150.0, target=ids.TargetId("db-1"), source=upgrading.FINISHED
        )
        store.add_observations([*marks, started, other, _check(120.0, 0.1), _check(400.0, 0.1)])
        assert store.prune_observations(older_than=1000.0, keep=recall.KEPT) == 2
        newest = recall.newest_marks(store, [TARGET], per_kind=2)
        assert [(m.source, m.time) for m in newest] == [
            (upgrading.FINISHED, 200.0),
            (upgrading.STARTED, 250.0),
            (upgrading.FINISHED, 300.0),
        ]
        # ``until`` is exclusive, ``since`` inclusive.
        store.add_observations([_check(t, 0.1) for t in (10.0, 20.0, 30.0)])
        assert [o.time for o in store.list_observations(since=10.0, until=30.0)] == [10.0, 20.0]
        assert store.prune_observations(older_than=1000.0) == 8  # without keep: every one
    finally:
        store.close()
