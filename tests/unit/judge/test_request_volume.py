"""A regression rule's ``volume``: an error ratio resting on a handful of requests is no evidence.

web-1 serves 40 requests/s for the hour before its upgrade at 3600 s, failing 0.3% of them.
Its ratio is what ``rate(errors[1m]) / rate(requests[1m])`` reads: failed requests over a
minute, with the noise of rate() on sparse counters (extrapolated, fractional: the corpus
generator's model, a binomial spread plus half a request). Ten minutes after the upgrade it
is drained to 0.2 requests/s (12 a minute): the ratio reads 0 to 15% at random. Without
``volume`` the ratio's sequential test calls that a regression; with it those buckets carry
no evidence. Traffic kept and a real rise (0.3% -> 5%) is rolled back either way, and a
rate probe with no data changes nothing. Both ways of deciding agree (``engine.replay``
and ``judged_in_full``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from judge_helpers import criticals_both_ways, obs, upgrade

from rollsafe.config import loading, models
from rollsafe.domain import errors, ids, observations
from rollsafe.judge import engine, volume, windows

UP = 3600.0
END = 7200.0
BUCKET = 30.0
ERRORS_UP: dict[str, Any] = {
    "id": "request-errors-up",
    "kind": "regression",
    "severity": "critical",
    "probe": "errors",
    "aggregate": "quantile",
    "quantiles": [0.5, 0.9],
    "top": False,
    "min_ratio": 3.0,
    "min_delta": 0.01,
}
WITH_VOLUME = {**ERRORS_UP, "volume": {"probe": "requests", "min_requests": 100}}


def _series(
    traffic: float, share: float, *, from_s: float = UP + 600.0, rates: bool = True
) -> list[observations.Observation]:
    """Every 30 s: the failed share of the last minute's requests and the rate; 40
    requests/s at 0.3% until ``from_s``, then ``traffic`` at ``share``."""
    rng = random.Random(11)
    out = []
    for k in range(int(END // BUCKET)):
        t = 15.0 + k * BUCKET
        rate, p = (traffic, share) if t >= from_s else (40.0, 0.003)
        served = max(1.0, rate * 60.0)
        failed = max(0.0, rng.gauss(served * p, math.sqrt(served * p * (1 - p)) + 0.5))
        out.append(obs(t, min(1.0, failed / served), source="errors"))
        if rates:
            out.append(obs(t, rate, source="requests"))
    return out


def _criticals(rule: dict[str, Any], items: list[observations.Observation]) -> list[float]:
    return criticals_both_ways(rule, items, UP)


def test_a_drained_host_s_noisy_ratio_rolls_back_without_volume_and_not_with_it() -> None:
    drained = _series(0.2, 0.003)
    assert _criticals(ERRORS_UP, drained), "the noise of 6 requests a bucket passes the test"
    assert _criticals(WITH_VOLUME, drained) == []


def test_a_real_rise_at_full_traffic_is_rolled_back_with_volume_too() -> None:
    worse = _series(40.0, 0.05)
    without, with_volume = _criticals(ERRORS_UP, worse), _criticals(WITH_VOLUME, worse)
    assert with_volume
    assert with_volume == without  # no bucket is thin at 40 requests/s: the same test


def test_no_rate_data_judges_every_bucket_as_before() -> None:
    blind = _series(0.2, 0.003, rates=False)
    assert _criticals(WITH_VOLUME, blind) == _criticals(ERRORS_UP, blind) != []


def test_a_bucket_s_requests_are_the_mean_rate_around_it_times_its_length() -> None:
    window = windows.Window(span=7200.0, keep=1)
    for t, rate in [(15.0, 40.0), (45.0, 0.2), (75.0, 0.2)]:
        window.insert(obs(t, rate, source="requests", target=ids.TargetId("web-1")))
    gate = volume.Volume(window, 100.0)
    assert gate.requests(30.0, 60.0) == (40.0 + 0.2) / 2 * 30.0  # 603: not thin
    assert not gate.thin(30.0, 60.0)
    assert gate.requests(60.0, 90.0) == 0.2 * 30.0  # 6 requests: one failure is 17%
    assert gate.thin(60.0, 90.0)
    assert gate.requests(600.0, 630.0) is None  # no rate known: never thin
    assert not gate.thin(600.0, 630.0)
    assert not volume.Volume(None, 100.0).thin(60.0, 90.0)


_FLEET = """
targets: [{id: web-1, address: 10.0.0.11, labels: {role: web}}]
probes:
  - {kind: http, name: health, targets: {labels: {role: web}}, url: "http://{address}/"}
  - {kind: promql, name: http-errors, targets: {labels: {role: web}}, url: "http://p:9090",
     query: errors, interval: 30s}
  - {kind: promql, name: http-requests, targets: {labels: {role: web}}, url: "http://p:9090",
     query: requests, interval: 30s}
  - {kind: promql, name: http-p99, targets: {labels: {role: web}}, url: "http://p:9090",
     query: p99, interval: 30s}
presets:
  - preset: web-service
    targets: {labels: {role: web}}
    signals: {health: health, error_ratio: http-errors, latency: http-p99%s}
"""


def _volumes(text: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(text, encoding="utf-8")
    rules = loading.load(path).config.rules
    return {
        r.id.removeprefix("web-service."): r.volume
        for r in rules
        if isinstance(r, models.RegressionRule | models.BurstRule)
    }


def test_the_preset_reads_the_rate_only_when_requests_is_bound(tmp_path: Path) -> None:
    bound = _volumes(_FLEET % ", requests: http-requests", tmp_path)
    assert bound["request-errors-up"] == models.RequestVolume(probe="http-requests")
    assert bound["request-error-bursts"] == models.RequestVolume(probe="http-requests")
    # latency is not a share of requests: no minimum; its load is matched (round 12,
    # test_load_matched_latency.py)
    matched = models.RequestVolume(probe="http-requests", min_requests=0, max_increase=1.5)
    assert bound["latency-up"] == matched
    assert bound["latency-quantile-up"] == matched
    unbound = _volumes(_FLEET % "", tmp_path)
    assert unbound["request-errors-up"] is None
    assert unbound["request-error-bursts"] is None
    assert unbound["latency-up"] is None
    assert unbound["latency-quantile-up"] is None


def test_a_volume_naming_no_probe_is_refused_on_its_line(tmp_path: Path) -> None:
    rule = {**WITH_VOLUME, "probe": "http-errors", "volume": {"probe": "http-request"}}
    text = _FLEET.replace("presets:", f"rules: [{json.dumps(rule)}]\npresets:") % ""
    with pytest.raises(errors.ConfigError) as refused:
        _volumes(text, tmp_path)
    said = " ".join(refused.value.problems)
    assert "rules[0].volume.probe" in said
    assert "unknown probe 'http-request'; did you mean 'http-requests'?" in said


def _fleet_of_two(rule: dict[str, Any]) -> list[tuple[float, str, bool]]:
    """web-1 upgraded, failing 2% of 40 requests/s from 600 s after; web-2 not upgraded,
    drained to 0.2 requests/s at the same time: web-1's decisions (time, severity, held by
    the fleet veto)."""
    cfg = models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": t, "labels": {"role": "web"}} for t in ("web-1", "web-2")],
            "rules": [rule],
            "policy": {"fleet_veto": {"rules": [rule["id"]], "wait": "0s"}},
        }
    )
    items = [
        dataclasses.replace(o, target=ids.TargetId(target))
        for target, traffic, share in (("web-1", 40.0, 0.02), ("web-2", 0.2, 0.003))
        for o in _series(traffic, share)
    ]
    items.sort(key=lambda o: (o.time, o.target, o.source))
    return [
        (d.time, d.severity.label, "fleet_veto" in d.evidence)
        for d in engine.replay(cfg, items, [upgrade(UP)])
        if d.target == "web-1"
    ]


def test_the_fleet_veto_reads_a_peer_s_rate_too() -> None:
    # Without `volume` the drained peer's noisy ratio passes for the same symptom, and the
    # veto later holds web-1's rollback; with it, the peer's buckets are no evidence either.
    assert _fleet_of_two(ERRORS_UP) == [(4635.0, "critical", False), (6825.0, "warning", True)]
    assert _fleet_of_two(WITH_VOLUME) == [(4635.0, "critical", False)]
