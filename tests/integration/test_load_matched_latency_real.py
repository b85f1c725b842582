"""Latency at matched load on real noise: the web-service preset of corpus/rollsafe.yaml with
its request rate bound (``requests``) and without it, on recordings built here.

web-1's requests' p99 is a real service's request latency (NAB
``ec2_request_latency_system_failure``, 5-minute values from 08:00 of day ``DAY``,
interpolated, scaled to a median of 0.2 s, times a minute's 10% noise) times a load
relation (the corpus's own: ``0.18 + 0.004 * rate``, over its value at 40 requests/s); its
health check takes 40 ms times the same relation. Upgraded at 3600 s.

* 40 requests/s throughout, a load test 25 minutes after the upgrade (130 requests/s for 20
  minutes: p99 and the health check x2.06): without the rate, ``latency-up`` rolls it back
  (at 5,285 s; on day 2 ``latency-quantile-up`` too, at 5,435 s); with it, those buckets
  are beyond the reference's load and nothing is rolled back.
* 40 requests/s, p99 three times higher from 600 s after the upgrade: rolled back at
  the same time either way.
* A real ELB's traffic (NAB ``elb_request_count_8c0756``, the same hours, scaled to a median of
  40 requests/s), healthy, and with the load test on top: nothing rolled back either way.

The committed recordings are not changed.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from rollsafe.backtest import recordings, replaying
from rollsafe.config import loading, models
from rollsafe.domain import ids, observations, verdicts

ROOT = Path(__file__).resolve().parents[2]
DATA = Path("/work/shared/data/metrics")
LATENCY = DATA / "ec2_request_latency_system_failure.csv"
ELB = DATA / "elb_request_count_8c0756.csv"
START = 1_700_000_000.0
UP = 3600.0
LOAD = (UP + 1500.0, UP + 2700.0)
Rate = Callable[[float, random.Random], float]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (LATENCY.exists() and ELB.exists()), reason="no shared NAB data"),
]


def _values(path: Path) -> list[float]:
    with path.open(encoding="utf-8") as handle:
        return [float(row["value"]) for row in csv.DictReader(handle)]


def _config(*, bound: bool) -> models.RollsafeConfig:
    """corpus/rollsafe.yaml; unbound: its two latency rules without their rate (as without
    ``requests``: the expansion drops ``volume``)."""
    config = loading.load(ROOT / "corpus" / "rollsafe.yaml").config
    latency = {"web-service.latency-up", "web-service.latency-quantile-up"}
    kept = [
        r.model_copy(update={"volume": None}) if r.id in latency and not bound else r
        for r in config.rules
    ]
    return config.model_copy(update={"rules": kept})


def _steady(t: float, rng: random.Random) -> float:
    return rng.gauss(40.0, math.sqrt(40.0 / 60.0))  # a minute's requests, Poisson-like


def _elb() -> Rate:
    counts = _values(ELB)
    factor = 40.0 / (sorted(counts)[len(counts) // 2] / 300.0)
    first = 6 * 288 + 96
    return lambda t, rng: counts[first + int(t // 300)] / 300.0 * factor


def _web1(
    rate: Rate, *, day: int, load_test: bool, slower_from: float | None = None
) -> recordings.Recording:
    shape = _values(LATENCY)
    scale = 0.2 / sorted(shape)[len(shape) // 2]
    first = day * 288 + 96
    rng = random.Random(3)
    target = ids.TargetId("web-1")
    out: list[observations.Observation] = []

    def load(t: float) -> float:
        served = max(0.0, rate(t, rng))
        return served * 3.25 if load_test and LOAD[0] <= t < LOAD[1] else served

    for k in range(240):
        t = 15.0 + 30.0 * k
        served = load(t)
        i, w = first + int(t // 300), (t % 300) / 300
        real = (shape[i] * (1 - w) + shape[i + 1] * w) * scale
        slower = 3.0 if slower_from is not None and t >= slower_from else 1.0
        relation = (0.18 + 0.004 * served) / 0.34
        p99 = real * relation * slower * rng.lognormvariate(0.0, 0.1)
        for source, value in (("http-p99", p99), ("http-requests", served), ("http-errors", 0.003)):
            out.append(observations.Observation(START + t, target, source, value=round(value, 4)))
    for k in range(480):
        t = 5.0 + 15.0 * k
        relation = (0.18 + 0.004 * load(t)) / 0.34
        took = round(0.04 * relation * rng.lognormvariate(0.0, 0.05), 4)
        seen = observations.Observation(
            START + t, target, "health", value=1.0, status=200, latency_s=took
        )
        out.append(seen)
    out.sort(key=lambda o: (o.time, o.source))
    header = recordings.Header(start=START, end=START + 7200.0, name="load")
    marks = (observations.Mark(START + UP, target, "upgrade"),)
    return recordings.Recording("load", header, tuple(out), marks, ())


def _criticals(recording: recordings.Recording, *, bound: bool) -> list[tuple[str, float]]:
    replayed = replaying.replay(_config(bound=bound), recording)
    return [
        (str(d.rule).removeprefix("web-service."), d.time - START)
        for d in replayed.decisions
        if d.severity is verdicts.Severity.CRITICAL
    ]


@pytest.mark.parametrize("day", [2, 12])
def test_a_load_test_on_real_latency_is_rolled_back_only_without_the_rate(day: int) -> None:
    load_test = _web1(_steady, day=day, load_test=True)
    without = _criticals(load_test, bound=False)
    assert without[:1] == [("latency-up", 5285.0)]  # day 2: latency-quantile-up at 5,435 s too
    assert all(LOAD[0] < at < LOAD[1] for _, at in without)
    assert _criticals(load_test, bound=True) == []
    assert _criticals(_web1(_steady, day=day, load_test=False), bound=True) == []


@pytest.mark.parametrize("day", [2, 12])
def test_a_regression_at_the_same_load_is_rolled_back_as_before(day: int) -> None:
    slower = _web1(_steady, day=day, load_test=False, slower_from=UP + 600.0)
    found = _criticals(slower, bound=True)
    assert found[:1] == [("latency-quantile-up", 4415.0)]
    assert found == _criticals(slower, bound=False)


def test_real_traffic_healthy_and_with_a_load_test_is_kept_either_way() -> None:
    for load_test in (False, True):
        recording = _web1(_elb(), day=6, load_test=load_test)
        assert _criticals(recording, bound=False) == []
        assert _criticals(recording, bound=True) == []
