"""web-service against faults held-out-9 showed it missing (round 10).

``request-errors-sustained``: requests failing over a ceiling no healthy service shows (4%),
for 10 minutes or in three bursts within an hour, when they did not before the upgrade, judged
without the regression tests' two-hour watch.

Replayed with the shipped corpus config on held-out-9's night upgrade and its healthy twin
(committed recordings), and on small recordings written here: bursts at each traffic peak
hours after the upgrade, one dependency outage, a service that always failed 4.5%.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rollsafe.backtest import recordings, replaying
from rollsafe.config import loading
from rollsafe.domain import verdicts

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "corpus" / "recordings"
RULE = "web-service.request-errors-sustained"
UP = 3600.0
HOUR = 3600.0


def _criticals(recording: recordings.Recording) -> list[tuple[str, float]]:
    config = loading.load(ROOT / "corpus" / "rollsafe.yaml").config
    start = recording.start
    return [
        (d.rule, d.time - start)
        for d in replaying.replay(config, recording).decisions
        if d.target == "web-1" and d.severity is verdicts.Severity.CRITICAL
    ]


def _written(
    ratio: Callable[[float], float], hours: float, source: str = "http-errors"
) -> recordings.Recording:
    """web-1's ``source`` every 30 s, healthy checks every 15 s, upgraded at 1 h."""
    end = hours * HOUR
    lines = [
        {"type": "header", "format": "rollsafe-recording", "version": 1, "start": 0, "end": end},
        {"type": "mark", "t": UP, "target": "web-1", "name": "upgrade"},
        {
            "type": "series",
            "t": 0,
            "every": 30,
            "target": "web-1",
            "source": source,
            "values": [ratio(30.0 * i) for i in range(int(end // 30))],
        },
        *[
            {"t": 15 * i, "target": "web-1", "source": "health", "value": 1, "status": 200}
            for i in range(int(end // 15))
        ],
    ]
    return recordings.parse(json.dumps(line) for line in lines)


def _bursts(first: float, every: float, length: float, count: int) -> Callable[[float], float]:
    """0.3% of requests failing, 6% during ``count`` bursts of ``length`` s from ``first``."""
    starts = [first + k * every for k in range(count)]
    return lambda t: 0.06 if any(s <= t < s + length for s in starts) else 0.003


@pytest.mark.slow
def test_errors_at_the_morning_peak_hours_after_a_night_upgrade_are_rolled_back() -> None:
    recording = recordings.read(RECORDINGS / "fault-errors-only-at-morning-peak.jsonl.gz")
    fault = recording.header.faults[0].start - recording.start
    first = _criticals(recording)[0]
    assert first[0] == RULE
    # 7% from +4 h 56 min; 10 minutes above the ceiling (every sample), then decided
    assert 600.0 <= first[1] - fault <= 660.0


@pytest.mark.slow
def test_the_healthy_twin_of_the_same_night_upgrade_and_peak_is_not() -> None:
    recording = recordings.read(RECORDINGS / "healthy-morning-peak-after-night-upgrade.jsonl.gz")
    assert _criticals(recording) == []


@pytest.mark.parametrize("name", ["healthy-preexisting-5xx", "healthy-dependency-outage-fleet"])
def test_errors_that_stood_there_before_or_came_once_are_not(name: str) -> None:
    recording = recordings.read(RECORDINGS / f"{name}.jsonl.gz")
    assert [c for c in _criticals(recording) if c[0] == RULE] == []


def test_bursts_at_every_peak_three_hours_after_the_upgrade_roll_back() -> None:
    # 4-minute bursts of 6% every 15 minutes from 3 h after the upgrade: the third ends at
    # UP + 3 h + 30 min + 4 min, and decides
    ratio = _bursts(UP + 3 * HOUR, 900.0, 240.0, 6)
    criticals = _criticals(_written(ratio, 6.0))
    assert criticals
    assert criticals[0][0] == RULE
    third = UP + 3 * HOUR + 1800.0
    assert third + 60.0 <= criticals[0][1] <= third + 240.0


def test_two_bursts_in_the_hour_or_one_of_nine_minutes_do_not() -> None:
    assert _criticals(_written(_bursts(UP + 3 * HOUR, 900.0, 240.0, 2), 6.0)) == []
    assert _criticals(_written(_bursts(UP + 3 * HOUR, 900.0, 540.0, 1), 6.0)) == []


def test_a_service_that_always_failed_over_the_ceiling_is_not_judged_by_it() -> None:
    # 4.5% before and after, with the same bursts to 6% hours later: under three times before
    ratio = _bursts(UP + 3 * HOUR, 900.0, 240.0, 6)
    criticals = _criticals(_written(lambda t: max(0.045, ratio(t)), 6.0))
    assert [c for c in criticals if c[0] == RULE] == []
