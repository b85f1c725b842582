"""The regression rule against peers (``rollsafe.judge.peers``), through the engine: a fleet of
four web hosts behind one balancer, web-1 upgraded at night, the day's peak hours later.

* a regression only web-1 shows at the peak is rolled back, with the target's value, the
  peers' aggregate, how many peers, the e-value and alpha in the evidence and the sentence;
* the peak itself (every host slower together) is not, nor a fault shared by the fleet, nor a
  peer that fails alone, nor a drained peer (its requests below ``min_requests``);
* with fewer than ``min_peers`` peers (no peer, one peer, or peers upgraded lately) the rule
  abstains: ok with no data, whatever the target does;
* the split of alpha over the late starts adds up to alpha, and the model refuses what the
  comparison does not read.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from judge_helpers import CRITICAL, OK, decision, obs, upgrade

from rollsafe.config import loading, models
from rollsafe.judge import engine, peers

WEB = ["web-1", "web-2", "web-3", "web-4"]
UP = 8 * 3600.0  # the upgrade, at night
PEAK = (UP + 6 * 3600.0, UP + 9 * 3600.0)  # the day's peak: three times the load
END = UP + 10 * 3600.0
RULE: dict[str, Any] = {
    "id": "p99-vs-peers",
    "kind": "regression",
    "severity": "critical",
    "probe": "p99",
    "against": "peers",
    "min_ratio": 1.5,
    "min_delta": 0.05,
    "watch": "24h",
    "before": "6h",
}


def _config(hosts: list[str], **fields: Any) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": t, "labels": {"role": "web"}} for t in hosts],
            "rules": [{**RULE, **fields}],
        }
    )


def _load(t: float) -> float:
    return 3.0 if PEAK[0] <= t < PEAK[1] else 1.0


def _fleet(
    hosts: list[str],
    factor: Callable[[str, float], float],
    *,
    seed: int = 7,
    requests: Callable[[str, float], float] | None = None,
    marks: dict[str, float] | None = None,
    **fields: Any,
) -> engine.Engine:
    """Every host's p99 every 30 s: 0.2 s times the load, lognormal noise, times ``factor``."""
    rng = random.Random(seed)
    judge = engine.Engine(_config(hosts, **fields))
    for host, at in (marks or {"web-1": UP}).items():
        judge.mark(upgrade(at, host))
    for t in range(0, int(END), 30):
        for host in hosts:
            value = 0.2 * _load(t) * rng.lognormvariate(0, 0.15) * factor(host, t)
            judge.observe(obs(t, value, source="p99", target=host))
            if requests is not None:
                judge.observe(obs(t, requests(host, t), source="rps", target=host))
    return judge


def _at_peak(host: str, size: float) -> Callable[[str, float], float]:
    return lambda h, t: size if h == host and PEAK[0] <= t < PEAK[1] else 1.0


def _first_critical(judge: engine.Engine, *, step: int = 60) -> float | None:
    for now in range(int(UP), int(END), step):
        if decision(judge, "p99-vs-peers", now=now).severity is CRITICAL:
            return now
    return None


def test_a_regression_only_at_the_peak_is_rolled_back_with_words_a_person_reads() -> None:
    judge = _fleet(WEB, _at_peak("web-1", 2.0))
    crossed = _first_critical(judge)
    assert crossed is not None
    # Nothing before the peak (asked every minute from the upgrade); from its first bucket,
    # the late start at the peak, then a few buckets above.
    assert PEAK[0] < crossed <= PEAK[0] + 20 * 60
    got = decision(judge, "p99-vs-peers", now=crossed)
    evidence = got.evidence
    assert evidence["peers_in_bucket"] == 3
    assert evidence["own"] > 1.5 * evidence["aggregate"]
    assert evidence["e_value"] >= evidence["e_threshold"]
    assert evidence["alpha"] == 0.001
    # The test that fired is the first start inside the peak (starts every 10 minutes from
    # the grace), not the test from the grace (hours of night buckets below the peers).
    assert PEAK[0] <= evidence["test_from"] <= PEAK[0] + 600
    assert "on 3 peers not upgraded" in got.summary
    assert "e-value" in got.summary
    assert "alpha 0.001" in got.summary


def test_the_peak_itself_and_a_fault_of_the_whole_fleet_are_not_the_release() -> None:
    # Every host twice slower for an hour (a dependency), on top of the peak.
    def shared(_host: str, t: float) -> float:
        return 2.0 if PEAK[0] + 3600 <= t < PEAK[0] + 7200 else 1.0

    judge = _fleet(WEB, shared)
    assert _first_critical(judge, step=300) is None
    later = decision(judge, "p99-vs-peers", now=PEAK[1])
    assert later.evidence["no_data"] is False
    assert later.evidence["buckets"] > 1000  # judged all along, and never above them


def test_a_peer_failing_alone_only_raises_the_bar() -> None:
    # web-2 (not upgraded) four times slower at the peak: the target is not worse.
    judge = _fleet(WEB, _at_peak("web-2", 4.0))
    assert _first_critical(judge, step=300) is None


def test_a_drained_peer_is_left_out_with_volume() -> None:
    # web-2 and web-3 drained at the peak (latency of an idle host: a tenth); the upper
    # median of the four with web-4 alone left would be web-4; drained peers' buckets rest
    # on 0.2 requests/s and are left out: one peer left, fewer than 2, no evidence.
    def factor(host: str, t: float) -> float:
        return 0.1 if host in {"web-2", "web-3"} and PEAK[0] <= t < PEAK[1] else 1.0

    def rps(host: str, t: float) -> float:
        return 0.2 if host in {"web-2", "web-3"} and PEAK[0] <= t < PEAK[1] else 50.0

    volume = {"probe": "rps", "min_requests": 100}
    judge = _fleet(WEB, factor, requests=rps, volume=volume)
    assert _first_critical(judge, step=300) is None
    # Without volume the drained peers set the aggregate, and web-1 looks slow beside them.
    blind = _fleet(WEB, factor)
    assert _first_critical(blind, step=300) is not None


@pytest.mark.parametrize(
    ("hosts", "marks"),
    [
        (["web-1"], None),  # no peer
        (["web-1", "web-2"], None),  # one peer, two needed
        # every peer upgraded within the day (a rollout's earlier waves)
        (WEB, {h: UP - 3600.0 * (i + 1) for i, h in enumerate(WEB[1:])} | {"web-1": UP}),
    ],
)
def test_with_fewer_peers_than_needed_the_rule_abstains(
    hosts: list[str], marks: dict[str, float] | None
) -> None:
    judge = _fleet(hosts, _at_peak("web-1", 4.0), marks=marks)
    assert _first_critical(judge, step=600) is None
    got = decision(judge, "p99-vs-peers", now=PEAK[0] + 1800)
    assert got.severity is OK
    assert got.evidence["no_data"] is True
    if hosts == ["web-1"]:
        assert "no peers" in got.summary


def test_alpha_is_split_over_the_starts_without_loss() -> None:
    rule = models.RegressionRule.model_validate(RULE)
    tests = peers.starts(rule, 0.0, 30.0)
    assert len(tests) == 143  # the grace, then every 10 minutes while 10 are left of a day
    assert math.isclose(sum(math.exp(-t.log_bar) for t in tests), rule.alpha)
    short = models.RegressionRule.model_validate({**RULE, "watch": "15m"})
    (only,) = peers.starts(short, 0.0, 30.0)
    assert math.isclose(math.exp(-only.log_bar), short.alpha)


def test_the_upper_median_ignores_up_to_half_the_peers_quiet() -> None:
    assert peers.aggregate([0.1, 1.0]) == 1.0
    assert peers.aggregate([0.1, 1.0, 1.1]) == 1.0
    assert peers.aggregate([0.01, 0.02, 1.0, 1.2]) == 1.0
    rule = models.RegressionRule.model_validate(RULE)
    assert peers.compare(rule, 30.0, 3.0, [1.0]) is None  # one peer, two needed
    tie = peers.compare(rule, 30.0, 0.0, [0.0, 0.0])
    assert tie is not None
    assert not tie.above  # all zeros: a tie is not above


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"slow": {"min_ratio": 1.2}}, "against peers reads neither"),
        ({"sustained": 0.9}, "against peers reads neither"),
        ({"against": "cohort", "volume": {"probe": "rps"}}, "not against a cohort"),
    ],
)
def test_the_model_refuses_what_the_comparison_does_not_read(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        models.RegressionRule.model_validate({**RULE, **fields})


def test_web_service_binds_the_comparisons_to_the_same_probes() -> None:
    config = loading.load(Path(__file__).resolve().parents[3] / "corpus" / "rollsafe.yaml").config
    found = {
        r.id.removeprefix("web-service."): r
        for r in config.rules
        if isinstance(r, models.RegressionRule) and r.against == "peers"
    }
    assert sorted(found) == ["latency-quantile-vs-peers", "request-errors-vs-peers"]
    latency, errors = found["latency-quantile-vs-peers"], found["request-errors-vs-peers"]
    assert (latency.probe, errors.probe) == ("http-p99", "http-errors")
    assert (latency.min_ratio, latency.min_delta) == (1.5, 0.1)
    assert (errors.min_ratio, errors.min_delta) == (3.0, 0.01)
    for rule in (latency, errors):
        assert (rule.watch, rule.before, rule.alpha, rule.min_peers) == (86400, 21600, 0.001, 2)
        assert rule.volume == models.RequestVolume(probe="http-requests", min_requests=100)
        assert rule.severity == "critical"


def test_web_service_catches_a_peak_only_regression_its_self_comparison_cannot(
    tmp_path: Path,
) -> None:
    """The preset as the corpus binds it, four web hosts configured: web-1 upgraded at night,
    its p99 twice its peers' only at the peak 6 hours later (three times the requests).
    latency-quantile-up's 2-hour watch is over by then; latency-quantile-vs-peers is not."""
    path = Path(__file__).resolve().parents[3] / "corpus" / "rollsafe.yaml"
    config = loading.load(path).config  # web-1 to web-4 (held-out-12's fleets, round 13)
    assert {"web-1", "web-2", "web-3", "web-4"} <= {str(t.id) for t in config.targets}
    rng = random.Random(3)
    judge = engine.Engine(config)
    judge.mark(upgrade(UP, "web-1"))
    seen: dict[str, float] = {}
    for t in range(0, int(PEAK[0] + 3600), 30):
        for host in WEB:
            slow = 2.0 if host == "web-1" and t >= PEAK[0] else 1.0
            p99 = 0.2 * _load(t) * rng.lognormvariate(0, 0.15) * slow
            judge.observe(obs(t, p99, source="http-p99", target=host))
            judge.observe(obs(t, 40.0 * _load(t), source="http-requests", target=host))
        if t % 60 == 0 and t >= UP:
            for got in judge.evaluate("web-1", now=t):
                if got.severity is CRITICAL:
                    seen.setdefault(str(got.rule), t)
    assert "web-service.latency-quantile-up" not in seen
    assert PEAK[0] < seen["web-service.latency-quantile-vs-peers"] <= PEAK[0] + 1200
