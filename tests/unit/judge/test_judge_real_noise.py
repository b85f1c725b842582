"""The judge on real monitoring noise: NAB's AWS CloudWatch series (see ../shared/data).

A rule that pages on every healthy wobble teaches people to ignore it, and here a page is a
rollback. These series are real, with labelled anomaly windows; before the first window the
system is healthy by the labels. The rule is chosen from the data's own scale, the way an
operator would after watching a host for a day: critical when the value is above twice the
first day's median, three 5-minute points in a row (``consecutive: 3``). Twice the median is
far above the healthy day-to-day variation of these series (their healthy 99th percentile is
at most about 1.5x the median) yet well under what the labelled incidents reach on the RDS series.
The threshold is not tuned to the healthy maximum: on the EC2 series the healthy part has
isolated spikes to over 10x the median, and the test shows they do page with ``consecutive: 1``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import statistics
from pathlib import Path

import pytest
from judge_helpers import CRITICAL, config, obs

from rollsafe.domain import verdicts
from rollsafe.judge import engine

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "metrics"
pytestmark = [
    pytest.mark.may_skip,
    pytest.mark.skipif(
        not (DATA / "anomaly_windows.json").is_file(),
        reason=f"real metrics not available at {DATA} (optional data, see shared/data/README.md)",
    ),
]
DAY = 86400.0


def _epoch(text: str) -> float:
    stamp = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _series(name: str) -> list[tuple[float, float]]:
    with (DATA / name).open(newline="") as handle:
        return [(_epoch(row["timestamp"]), float(row["value"])) for row in csv.DictReader(handle)]


def _anomalies(name: str) -> list[tuple[float, float]]:
    windows = json.loads((DATA / "anomaly_windows.json").read_text())[name]
    return [(_epoch(start), _epoch(end)) for start, end in windows]


def _rule(threshold: float, *, consecutive: int) -> dict[str, object]:
    return {
        "id": "cpu-high",
        "kind": "threshold",
        "probe": "cloudwatch",
        "op": ">",
        "value": threshold,
        "consecutive": consecutive,
        "severity": "critical",
    }


def _criticals(
    series: list[tuple[float, float]], threshold: float, *, consecutive: int
) -> list[verdicts.Decision]:
    cfg = config(_rule(threshold, consecutive=consecutive))
    recorded = [obs(t, v, source="cloudwatch") for t, v in series]
    return [d for d in engine.replay(cfg, recorded, []) if d.severity == CRITICAL]


def _calibrated(series: list[tuple[float, float]]) -> float:
    first_day = [v for t, v in series if t < series[0][0] + DAY]
    return 2 * statistics.median(first_day)


@pytest.mark.parametrize(
    "name",
    [
        "ec2_cpu_utilization_24ae8d.csv",
        "ec2_cpu_utilization_53ea38.csv",
        "ec2_cpu_utilization_5f5533.csv",
        "rds_cpu_utilization_cc0c53.csv",
    ],
)
def test_no_rollback_on_the_healthy_part(name: str) -> None:
    series = _series(name)
    first_anomaly = _anomalies(name)[0][0]
    healthy = [(t, v) for t, v in series if t < first_anomaly]
    assert len(healthy) > 1000  # days of 5-minute points: a real test, not a token one
    assert _criticals(healthy, _calibrated(series), consecutive=3) == []


def test_consecutive_is_what_keeps_the_isolated_spikes_quiet() -> None:
    name = "ec2_cpu_utilization_24ae8d.csv"
    series = _series(name)
    healthy = [(t, v) for t, v in series if t < _anomalies(name)[0][0]]
    # The same threshold reading single points pages on healthy spikes.
    assert len(_criticals(healthy, _calibrated(series), consecutive=1)) == 12  # episodes


def test_the_rule_still_fires_inside_a_labelled_incident() -> None:
    name = "rds_cpu_utilization_cc0c53.csv"
    series = _series(name)
    criticals = _criticals(series, _calibrated(series), consecutive=3)
    assert criticals, "a rule that never fires proves nothing about noise"
    first = criticals[0].time
    assert any(start <= first <= end for start, end in _anomalies(name)), first
