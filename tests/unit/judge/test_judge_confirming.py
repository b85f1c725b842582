"""A regression rule's slow tier confirmed by another rule (``slow.confirm``).

web-1's health check takes 50 ms for the hour before its upgrade at 3600 s, then 85 ms (a
redirect: two round trips): x1.7, over the slow tier's x1.3 and +10 ms, under the fast
tier's x2 and +50 ms. The requests' p99 (every 30 s) stays at 0.25 s, or rises to 0.38 s
with the check (a real slowdown). The slow tier alone rolls back only in the second case;
the fast tier (a 5x check) never needs the requests; a blind witness (no p99 at all) lets
the slow tier judge alone. Both ways of deciding agree: ``engine.replay`` (severities
first) and every rule judged in full after each instant (``judged_in_full``).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from judge_helpers import CRITICAL, WARNING, config, judged_in_full, obs, upgrade

from rollsafe.domain import errors, observations, verdicts
from rollsafe.judge import engine

UP = 3600.0
END = 5400.0
LATENCY_UP: dict[str, Any] = {
    "id": "latency-up",
    "kind": "regression",
    "severity": "critical",
    "probe": "http",
    "field": "latency",
    "min_ratio": 2.0,
    "min_delta": 0.05,
    "slow": {"min_ratio": 1.3, "min_delta": 0.01, "confirm": "requests-slower"},
}
REQUESTS_SLOWER: dict[str, Any] = {
    "id": "requests-slower",
    "kind": "baseline",
    "severity": "warning",
    "probe": "p99",
    "aggregate": "mean",
    "window": "10m",
    "before": "1h",
    "max_increase": 1.1,
    "min_samples": 5,
    "notify": False,
}


def _watch(after: float, *, p99_after: float | None) -> list[observations.Observation]:
    """Checks every 10 s (50 ms, ``after`` s from the upgrade on), p99 every 30 s (0.25 s,
    ``p99_after`` from the upgrade on; None: no p99 series at all)."""
    rng = random.Random(7)
    out = []
    for t in range(0, int(END), 10):
        level = after if t >= UP + 15 else 0.05
        out.append(obs(float(t), 1.0, source="http", latency=level * rng.uniform(0.9, 1.1)))
        if p99_after is not None and t % 30 == 0:
            p99 = p99_after if t >= UP + 15 else 0.25
            out.append(obs(float(t), p99 * rng.uniform(0.95, 1.05), source="p99"))
    return out


def _latency_up(items: list[observations.Observation]) -> list[verdicts.Decision]:
    cfg = config(LATENCY_UP, REQUESTS_SLOWER)
    replayed = [d for d in engine.replay(cfg, items, [upgrade(UP)]) if d.rule == "latency-up"]
    in_full = [d for d in judged_in_full(cfg, items, [upgrade(UP)]) if d.rule == "latency-up"]
    assert [(d.time, d.severity) for d in replayed] == [(d.time, d.severity) for d in in_full]
    return replayed


def test_a_small_slowdown_of_the_check_alone_only_warns() -> None:
    decisions = _latency_up(_watch(0.085, p99_after=0.25))
    assert [d.severity for d in decisions] == [WARNING]
    said = decisions[0]
    assert said.evidence["tier"] == "slow"
    assert said.evidence["confirm"]["rule"] == "requests-slower"
    assert "requests-slower does not confirm it" in said.summary


def test_the_same_slowdown_with_the_requests_slower_rolls_back() -> None:
    decisions = _latency_up(_watch(0.085, p99_after=0.38))
    assert [d.severity for d in decisions] == [CRITICAL]
    assert decisions[0].evidence["tier"] == "slow"
    assert "confirm" not in decisions[0].evidence


def test_a_large_slowdown_of_the_check_needs_no_witness() -> None:
    decisions = _latency_up(_watch(0.25, p99_after=0.25))
    assert [(d.severity, d.evidence["tier"]) for d in decisions] == [(CRITICAL, "fast")]


def test_a_blind_witness_lets_the_slow_tier_judge_alone() -> None:
    decisions = _latency_up(_watch(0.085, p99_after=None))
    assert [(d.severity, d.evidence["tier"]) for d in decisions] == [(CRITICAL, "slow")]


def test_a_confirm_naming_no_other_rule_is_refused() -> None:
    lonely = {**LATENCY_UP, "slow": {**LATENCY_UP["slow"], "confirm": "nowhere"}}
    with pytest.raises(errors.ConfigError, match=r"slow\.confirm names no other rule"):
        engine.Engine(config(lonely))


def test_the_confirmation_is_looked_at_only_while_a_rule_is_critical_or_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Round 12: ``Engine._decide`` asks ``_decide_unconfirmed`` only while some severity is
    # critical or a rule waits for its confirmation (nothing else can make one wait). The
    # small slowdown: OK for the hour before the upgrade and the grace, then the slow tier's
    # critical waits for the witness to the end; decisions as judged in full (``_latency_up``).
    looked: list[float] = []
    unconfirmed = engine.Engine._decide_unconfirmed

    def counted(self: engine.Engine, *args: Any, now: float) -> None:
        looked.append(now)
        unconfirmed(self, *args, now=now)

    monkeypatch.setattr(engine.Engine, "_decide_unconfirmed", counted)
    decisions = _latency_up(_watch(0.085, p99_after=0.25))
    assert [d.severity for d in decisions] == [WARNING]
    looked_replay = [t for t in looked if t >= decisions[0].time]
    assert looked_replay, "the waiting rule is looked at again"
    # Nothing critical before the slow tier fired: no look at all then (every instant on
    # main, 540 of them before the upgrade alone).
    assert min(looked) >= decisions[0].time
