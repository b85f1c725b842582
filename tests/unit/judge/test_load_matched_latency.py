"""Latency at matched load: a regression rule's ``volume.max_increase`` (``rollsafe.judge.volume``).

web-1 serves 40 requests/s for the hour before its upgrade at 3600 s; its p99 follows its
load as a queue does (``0.2 / (1 - rate / 200)``: 0.25 s at 40 requests/s, 0.57 s at 130),
with 10% noise. A load test 25 minutes after the upgrade (130 requests/s for 20 minutes:
held-out-11's ``healthy-load-test-during-watch``) raises p99 x2.3, which the self-comparison
calls a regression; with ``max_increase: 1.5`` those buckets rest on more than 1.5 times the
reference's busiest bucket and carry no evidence. A regression at the same load, or on a
host drained to a quarter of it, is flagged as before, and with no rate known every bucket is
judged. Both ways of deciding agree (``engine.replay`` and ``judged_in_full``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from judge_helpers import config, criticals_both_ways, obs

from rollsafe.domain import ids, observations
from rollsafe.judge import volume, windows

UP = 3600.0
END = 7200.0
LOAD = (UP + 1500.0, UP + 2700.0)
P99_UP: dict[str, Any] = {
    "id": "latency-quantile-up",
    "kind": "regression",
    "severity": "critical",
    "probe": "p99",
    "aggregate": "quantile",
    "min_ratio": 2.0,
    "min_delta": 0.1,
    "slow": {"min_ratio": 1.3, "min_delta": 0.01},
}
MATCHED = {**P99_UP, "volume": {"probe": "requests", "min_requests": 0, "max_increase": 1.5}}
Curve = Callable[[float], float]


def _busy(t: float) -> float:
    return 130.0 if LOAD[0] <= t < LOAD[1] else 40.0


def _series(
    traffic: Curve, slower: Curve = lambda t: 1.0, *, rates: bool = True
) -> list[observations.Observation]:
    """Every 30 s: the p99 of the last minute (a queue's at ``traffic``, times ``slower``,
    10% noise) and the request rate."""
    rng = random.Random(7)
    out = []
    for k in range(int(END // 30.0)):
        t = 15.0 + k * 30.0
        rate = max(0.0, rng.gauss(traffic(t), math.sqrt(traffic(t) / 60.0)))
        p99 = 0.2 / (1.0 - min(rate, 190.0) / 200.0) * slower(t) * rng.lognormvariate(0.0, 0.1)
        out.append(obs(t, round(p99, 4), source="p99"))
        if rates:
            out.append(obs(t, round(rate, 3), source="requests"))
    return out


def _criticals(rule: dict[str, Any], items: list[observations.Observation]) -> list[float]:
    return criticals_both_ways(rule, items, UP)


def _from(at: float, factor: float) -> Curve:
    return lambda t: factor if t >= at else 1.0


def test_a_load_test_rolls_back_without_load_matching_and_not_with_it() -> None:
    load_test = _series(_busy)
    without = _criticals(P99_UP, load_test)
    assert without
    assert LOAD[0] < without[0] < LOAD[1]
    assert _criticals(MATCHED, load_test) == []


def test_a_regression_at_the_same_load_is_flagged_as_before() -> None:
    slower = _series(lambda t: 40.0, _from(UP + 600.0, 3.0))
    found = _criticals(MATCHED, slower)
    assert found
    assert found == _criticals(P99_UP, slower)  # no bucket beyond: the same test


def test_a_regression_during_a_load_test_is_flagged_before_the_load_test() -> None:
    both = _series(_busy, _from(UP + 300.0, 3.0))
    found = _criticals(MATCHED, both)
    assert found
    assert found[0] < LOAD[0]


def test_a_regression_on_a_quieter_host_is_still_judged() -> None:
    # Only above: a healthy latency does not rise as load falls (drained to 10 requests/s).
    quiet = _series(lambda t: 10.0 if t >= UP else 40.0, _from(UP + 600.0, 3.0))
    assert _criticals(MATCHED, quiet)


def test_no_rate_data_judges_every_bucket_as_before() -> None:
    blind = _series(_busy, rates=False)
    assert _criticals(MATCHED, blind) == _criticals(P99_UP, blind) != []


def _window(points: list[tuple[float, float]]) -> windows.Window:
    window = windows.Window(span=7200.0, keep=1)
    for t, rate in points:
        window.insert(obs(t, rate, source="requests", target=ids.TargetId("web-1")))
    return window


def test_the_ceiling_is_max_increase_times_the_reference_s_busiest_bucket() -> None:
    # Buckets [0, 30), [30, 60), [60, 90) of the reference [0, 90); a bucket's requests are
    # the mean rate over it and the one before it times 30 s.
    rates = _window([(15.0, 40.0), (45.0, 60.0), (75.0, 40.0), (105.0, 100.0), (135.0, 160.0)])
    found = volume.Volume(rates, 0.0, 1.5)
    top = volume.ceiling(found, 0.0, 90.0, 30.0)
    assert top == 1.5 * (40.0 + 60.0) / 2 * 30.0  # 2,250 requests
    capped = volume.capped(found, top)
    assert capped is not None
    assert capped.ceiling == top
    assert not capped.skipped(90.0, 120.0)  # (40 + 100) / 2 * 30 = 2,100: comparable
    assert capped.skipped(120.0, 150.0)  # (100 + 160) / 2 * 30 = 3,900: beyond
    assert not capped.thin(120.0, 150.0)  # beyond is not thin (the reference reads thin)
    assert not capped.skipped(600.0, 630.0)  # no rate known: judged
    assert volume.ceiling(volume.Volume(rates, 0.0), 0.0, 90.0, 30.0) is None  # none asked
    # a rate known in fewer than half the reference's buckets: no ceiling
    sparse = volume.Volume(_window([(15.0, 40.0)]), 0.0, 1.5)
    assert volume.ceiling(sparse, 0.0, 150.0, 30.0) is None  # known in 2 of 5 buckets
    assert volume.ceiling(sparse, 0.0, 120.0, 30.0) == 1.5 * 40.0 * 30.0  # 2 of 4


def test_a_bursts_rule_refuses_max_increase() -> None:
    rule = {
        "id": "bursts",
        "kind": "bursts",
        "severity": "critical",
        "probe": "errors",
        "volume": {"probe": "requests", "max_increase": 1.5},
    }
    with pytest.raises(pydantic.ValidationError, match="regression rules only"):
        config(rule)
