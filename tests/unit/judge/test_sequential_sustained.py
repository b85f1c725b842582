"""The regression rule's ``sustained`` component: a step that stays is flagged a bucket
sooner, a blip of three buckets and bursts that come and go are not, and healthy watches
stay within alpha (simulations of test_sequential_simulation, with the component on)."""

from __future__ import annotations

import math

import pytest
from judge_helpers import CRITICAL, OK, config, feed, upgrade
from test_sequential import MARK, PROBES, _log_null, checks, decision, shaped
from test_sequential_simulation import X2, alarms, ar1_daily, episodic, lognormal, pareto, rule

from rollsafe.judge import sequential

# request-errors-up's shape on a health check's latency: the median and p90 of an hour of
# 30 s buckets, no test against its highest bucket (so no early start either).
ERRORS_LIKE = {
    "id": "latency-regressed",
    "kind": "regression",
    "severity": "critical",
    "probe": "health",
    "field": "latency",
    "before": "1h",
    "watch": "1h",
    "grace": "1m",
    "bucket": "30s",
    "quantiles": [0.5, 0.9],
    "top": False,
}
GRACE_END = MARK + 60


def _judged(items, sustained):
    rule_ = {**ERRORS_LIKE, "sustained": sustained} if sustained else ERRORS_LIKE
    judge = feed(config(rule_, probes=PROBES), items, [upgrade(MARK)])
    return decision(judge, MARK + 1800)


def _with(shape):
    """An hour of healthy checks, then 30 minutes shaped by ``shape`` from the grace's end."""
    return checks(MARK - 3600, MARK) + shaped(MARK, MARK + 1800, shape, seed=2)


def test_the_sustained_component_is_a_martingale_that_grows_with_exceedances():
    # p90 of 120 buckets: Beta(13, 108) under the null; the one alternative, Beta(13, 1/2)
    # (a0 above the top's 8 is kept). Its expectation under the null urn is exactly 1.
    a0, b0 = 13.0, 108.0
    expectation = math.fsum(
        math.exp(_log_null(s, 5, a0, b0) + sequential.polya_log_e(s, 5, a0, b0, top=True))
        for s in range(6)
    )
    assert expectation == pytest.approx(1.0, rel=1e-9)
    values = [sequential.polya_log_e(s, 8, a0, b0, top=True) for s in range(9)]
    assert values == sorted(values)


def test_a_step_that_stays_is_flagged_a_bucket_sooner():
    # 6x from the grace's end on: every bucket above the hour's p90 (x 1.5). The quantiles
    # alone need 5 buckets (e-value 3,364 of 1,333); with the component, 4 (1,877).
    found = {s: _judged(_with(lambda t: 6.0 if t >= GRACE_END else 1.0), s) for s in (None, 0.9)}
    assert all(f.severity == CRITICAL for f in found.values())
    assert found[None].evidence["crossed_at"] == GRACE_END + 5 * 30
    assert found[0.9].evidence["crossed_at"] == GRACE_END + 4 * 30
    assert found[0.9].evidence["sustained"] == 0.9
    assert found[None].evidence["sustained"] is None


def test_a_three_bucket_blip_is_not_flagged():
    # A dependency failing for 90 s: three buckets far above, then healthy again.
    blip = _with(lambda t: 6.0 if GRACE_END <= t < GRACE_END + 90 else 1.0)
    for sustained in (None, 0.9):
        assert _judged(blip, sustained).severity == OK


def test_bursts_that_come_and_go_are_worth_less_with_it():
    # Two one-minute bursts a minute apart, then healthy: no rollback, and the mixture's
    # highest e-value is lower with the component (it bets on "nearly every bucket").
    def bursts(t):
        offset = t - GRACE_END
        return 6.0 if 0 <= offset < 60 or 120 <= offset < 180 else 1.0

    found = {s: _judged(_with(bursts), s) for s in (None, 0.9)}
    assert all(f.severity == OK for f in found.values())
    assert found[0.9].evidence["e_value_peak"] < found[None].evidence["e_value_peak"]


def test_the_slow_tier_does_not_carry_it():
    fast, slow = sequential.tiers(
        rule(quantiles=[0.5, 0.9], top=False, sustained=0.9, slow={"min_ratio": 1.2})
    )
    assert fast.sustained == 0.9
    assert slow.sustained is None


# Healthy processes of test_sequential_simulation (iid heavy tails, wander on a daily cycle,
# episodes larger than the margin): flagged at most alpha of the time with the component.
SUSTAINED = {"quantiles": [0.5, 0.9], "top": False, "sustained": 0.9}
HEALTHY = [
    ("lognormal sigma 0.5, no margin", lognormal(0.5), {"min_ratio": 1.0}, 1),
    ("pareto shape 1.5", pareto(1.5), {}, 1),
    ("AR(1) phi 0.9 sigma 0.2 + daily cycle", ar1_daily(0.9, 0.2, 0.3), {}, 1),
    ("random 2-min episodes at 5x, x2 +0.1", episodic(high=1.1, random_episodes=True), X2, 2),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", HEALTHY, ids=[h[0] for h in HEALTHY])
def test_healthy_watches_with_it_are_flagged_at_most_alpha_of_the_time(case):
    name, draw, fields, allowed = case
    count = 200
    loose, shipped, without = alarms(
        [
            rule(alpha=0.05, **SUSTAINED, **fields),
            rule(**SUSTAINED, **fields),
            rule(alpha=0.05, quantiles=[0.5, 0.9], top=False, **fields),
        ],
        draw,
        watches=count,
        seed=11,
    )
    print(f"\n{name}: {loose} at 0.05 ({without} without it), {shipped} at 0.001, of {count}")
    assert loose <= 0.05 * count
    assert shipped <= allowed
