"""The ``regression`` rule: its math on known sequences, and the rule through the engine."""

from __future__ import annotations

import itertools
import math
import random

import pydantic
import pytest
from judge_helpers import CRITICAL, OK, TARGET, config, feed, obs, upgrade

from rollsafe.config import models
from rollsafe.judge import engine, sequential, windows

# --------------------------------------------------------------------------- the math


def _log_null(s: int, trials: int, a0: float, b0: float) -> float:
    """log P(s exceedances in ``trials``) under the null urn: Beta-binomial(a0, b0), exactly."""
    return (
        math.lgamma(trials + 1)
        - math.lgamma(s + 1)
        - math.lgamma(trials - s + 1)
        + math.lgamma(s + a0)
        + math.lgamma(trials - s + b0)
        - math.lgamma(trials + a0 + b0)
        - (math.lgamma(a0) + math.lgamma(b0) - math.lgamma(a0 + b0))
    )


def test_the_polya_e_value_is_one_before_any_data_and_a_likelihood_ratio_after():
    assert sequential.polya_log_e(0, 0, 13.0, 108.0) == pytest.approx(0.0, abs=1e-12)
    # Its expectation under the null urn is exactly 1 (a martingale): sum over outcomes.
    a0, b0, trials = 3.0, 7.0, 6
    total = 0.0
    for s in range(trials + 1):
        total += math.exp(_log_null(s, trials, a0, b0) + sequential.polya_log_e(s, trials, a0, b0))
    assert total == pytest.approx(1.0, rel=1e-9)


def test_the_polya_e_value_grows_with_exceedances():
    # Nondecreasing in the exceedances: what makes the margin (values only stochastically
    # smaller than the reference's) safe.
    for trials in (1, 5, 20, 80):
        values = [sequential.polya_log_e(s, trials, 2.0, 30.0) for s in range(trials + 1)]
        assert values == sorted(values)
    assert sequential.polya_log_e(20, 20, 2.0, 30.0) > math.log(1000)


def test_the_top_component_is_a_martingale_that_grows_with_exceedances():
    # The reference's maximum (k = n): Beta(1, n) under the null, one alternative that
    # predicts "nearly always". Its expectation under the null urn is exactly 1.
    a0, b0, trials = 1.0, 12.0, 5
    total = 0.0
    for s in range(trials + 1):
        log_e = sequential.polya_log_e(s, trials, a0, b0, top=True)
        total += math.exp(_log_null(s, trials, a0, b0) + log_e)
    assert total == pytest.approx(1.0, rel=1e-9)
    values = [sequential.polya_log_e(s, 10, 1.0, 120.0, top=True) for s in range(11)]
    assert values == sorted(values)
    # Two buckets above the highest of 120: the null gives them 1/121 * 2/122 = 1/7381, the
    # alternative Beta(8, 1/2) 8/8.5 * 9/9.5: the e-value is their ratio.
    expected = (8 / 8.5) * (9 / 9.5) * 121 * 122 / 2
    assert math.exp(sequential.polya_log_e(2, 2, 1.0, 120.0, top=True)) == pytest.approx(expected)


def _gap_sequences(n: int, t: int):
    """Every sequence of gaps (0..n, between the reference's order statistics) that ``t``
    new values can fall in, with its probability when all ``n + t`` are exchangeable."""
    for gaps in itertools.product(range(n + 1), repeat=t):
        counts = [0] * (n + 1)
        p = 1.0
        for step, gap in enumerate(gaps):
            p *= (1 + counts[gap]) / (n + 1 + step)
            counts[gap] += 1
        yield gaps, p


def test_the_mixture_over_quantiles_and_the_top_is_a_martingale_in_their_common_filtration():
    # The docstring's argument: given everything seen, each component's next exceedance has
    # the probability its own urn predicts, so the equal-weight mixture of the components
    # (quantiles and the top, each counting exceedances of its own order statistic) has
    # expectation 1 at every step. Enumerated exactly: n = 6 reference values, 4 new ones.
    n, t = 6, 4
    ks = [3, 5, 6]  # order statistics tested; k = n is the top
    total = [0.0] * (t + 1)
    for gaps, p in _gap_sequences(n, t):
        exceeded = [0] * len(ks)
        for step, gap in enumerate(gaps, 1):
            for j, k in enumerate(ks):
                exceeded[j] += gap >= k  # gap i lies above the i-th smallest
            mixed = 0.0
            for j, k in enumerate(ks):
                a0, b0 = n - k + 1, k
                top = k == n
                mixed += math.exp(sequential.polya_log_e(exceeded[j], step, a0, b0, top=top))
            total[step] += p * mixed / len(ks)
    assert total[1:] == pytest.approx([1.0] * t, rel=1e-9)


def test_the_two_sample_e_value_is_small_when_after_is_no_worse():
    same, exact = sequential.two_sample_log_e(
        kind="ratio", before=(10, 1000), after=(5, 500), ratio=1.5, delta=0.0
    )
    assert exact
    assert same < 0
    worse, _ = sequential.two_sample_log_e(
        kind="ratio", before=(10, 1000), after=(60, 500), ratio=1.5, delta=0.0
    )
    assert worse > math.log(1000)
    # Within the margin (1.4x < 1.5x) it is not evidence, however much data there is.
    within, _ = sequential.two_sample_log_e(
        kind="rate", before=(10_000, 1000), after=(14_000, 1000), ratio=1.5, delta=0.0
    )
    assert within < 0


def test_the_two_sample_e_value_grows_with_the_count_after():
    # Above the null's edge (1.5 x 0.5 per bucket: 37.5 in 50 buckets), more is more evidence.
    values = [
        sequential.two_sample_log_e(
            kind="rate", before=(50, 100), after=(c, 50), ratio=1.5, delta=0.1
        )[0]
        for c in range(40, 200, 10)
    ]
    assert values == sorted(values)


def test_the_effective_size_of_a_wandering_series_is_small():
    rng = random.Random(3)
    iid = [rng.gauss(0, 1) for _ in range(200)]
    x, walk = 0.0, []
    for _ in range(200):
        x = 0.95 * x + rng.gauss(0, 1)
        walk.append(x)
    assert sequential.effective_size(iid) == 200
    assert sequential.effective_size(walk) < 20
    rare = [0.0] * 150
    rare[40] = rare[120] = 1.0
    assert sequential.effective_size(rare) == 150  # a run of ties (zeros) is not a trend


def _report_job_hour(seed: int) -> list[float]:
    """An hour of 30 s buckets, independent between episodes, with a 2-minute episode (4
    buckets) at 2.3x every 10 minutes, as a report job makes it."""
    rng = random.Random(seed)
    return [(0.5 if k % 20 < 4 else 0.22) * math.exp(rng.gauss(0, 0.1)) for k in range(120)]


def test_episodes_do_not_make_exceeding_the_median_cluster():
    hour = _report_job_hour(1)
    ordered = sorted(hour)
    # The rank correlation, one number for the whole distribution, sees the episodes' runs;
    assert sequential.effective_size(hour) < 90
    # whether a bucket exceeds the median does not cluster (the typical buckets are
    # independent), whether it exceeds the 0.9 quantile, the episodes' level, does.
    assert sequential.exceedance_size(hour, ordered[59]) == 120
    assert sequential.exceedance_size(hour, ordered[107]) < 60


def test_the_exceedance_size_of_a_wander_at_its_median_is_the_rank_sizes_order():
    # AR(1) wander: its median indicator's lag-1 correlation is 2 arcsin(rho) / pi, read
    # back as rho: the discount at the median stays that of the ranks, not a looser one.
    for seed in range(5):
        rng = random.Random(seed)
        x, walk = 0.0, []
        for _ in range(200):
            x = 0.9 * x + math.sqrt(1 - 0.81) * rng.gauss(0, 1)
            walk.append(x)
        median = sorted(walk)[99]
        assert sequential.exceedance_size(walk, median) < 1.2 * sequential.effective_size(walk)
        assert sequential.exceedance_size(walk, median) < 25


def test_the_median_component_is_worth_what_its_own_exceedances_are():
    rule = models.RegressionRule.model_validate(
        {
            "id": "r",
            "kind": "regression",
            "severity": "critical",
            "probe": "p",
            "field": "value",
            "min_ratio": 2.0,
            "min_delta": 0.1,
        }
    )
    found = [sequential._Bucket(x, 1, 0) for x in _report_job_hour(1)]
    reference = sequential._self_reference(rule, found, 30.0)
    assert reference is not None
    median, p90, p99, top = reference.scales
    assert reference.scale < 0.7  # the episodes' rank correlation
    assert median == 1.0  # the typical buckets: whole ones
    assert p90 == p99 == top == reference.scale  # the others: the rank discount
    # The median's urn is the whole reference's: Beta(n - k + 1, k) for k = 60 of 120.
    assert reference.urns[0] == (61.0, 60.0)


def test_a_reference_whose_exceedances_cluster_is_read_as_a_chain():
    # The report job's episodes (0.5 s, 4 buckets every 20) exceed x2 of the median (0.449)
    # in runs: the median component's null is the reference's own chain at that threshold,
    # 6 onsets from calm buckets and about 3 stays in 4 from an episode's.
    hour = _report_job_hour(1)
    chain = sequential.chain_counts(hour, 2 * sorted(hour)[59])
    assert chain is not None
    onsets, calm, stays, episode = chain
    assert (onsets, calm + episode) == (6, 119)
    assert 0.6 < stays / episode < 0.8  # the noise breaks a run now and then
    # Calm buckets only, or isolated exceedances: no run seen, the urn's null.
    assert sequential.chain_counts([0.2, 0.3, 0.2, 0.3], 0.25) is None
    assert sequential.chain_counts([0.2] * 10, 0.25) is None


def test_the_chain_e_value_grows_with_onsets_and_stays_not_with_the_same_chain():
    reference = (6.0, 95.0, 18.0, 24.0)  # a report job's hour at its threshold
    same = sequential.chain_log_e(reference, (6.0, 95.0, 18.0, 24.0))
    assert same <= 0.0  # the same rates: no evidence
    # A release slow all the time: it enters the episode level from nearly every calm
    # bucket (noise breaks the runs), far more than the reference's 6 in 95.
    slow = sequential.chain_log_e(reference, (15.0, 20.0, 30.0, 40.0))
    assert slow > math.log(1333)
    # More of either row's events never lowers it (the margin's argument: monotone).
    assert sequential.chain_log_e(reference, (16.0, 20.0, 30.0, 40.0)) >= slow
    assert sequential.chain_log_e(reference, (15.0, 20.0, 31.0, 40.0)) >= slow
    # A step after a reference whose episodes last: one onset, then stays, weighed against
    # the reference's 3 stays in 4 (an episode that happens to last is not a step).
    assert sequential.chain_log_e(reference, (1.0, 1.0, 10.0, 10.0)) < math.log(1333)


def test_a_component_whose_threshold_the_episodes_exceed_is_tested_as_a_chain():
    rule = models.RegressionRule.model_validate(
        {"id": "r", "kind": "regression", "probe": "p", "field": "value", "min_ratio": 2.0}
    )
    found = [sequential._Bucket(x, 1, 0) for x in _report_job_hour(1)]
    reference = sequential._self_reference(rule, found, 30.0)
    assert reference is not None
    median, p90, p99, top = reference.chains
    assert median is not None  # the episodes exceed x2 of the median, in runs
    assert p90 is None  # x2 of the episodes' level: never exceeded
    assert p99 is None
    assert top is None  # the top is never read as a chain


def test_the_margin_is_the_larger_of_ratio_and_delta():
    rule = models.RegressionRule.model_validate(
        {"id": "r", "kind": "regression", "probe": "p", "min_ratio": 2, "min_delta": 0.5}
    )
    assert sequential.margin(rule, 0.1) == pytest.approx(0.6)
    assert sequential.margin(rule, 3.0) == pytest.approx(6.0)


# --------------------------------------------------------------------------- the rule


LATENCY = {
    "id": "latency-regressed",
    "kind": "regression",
    "severity": "critical",
    "probe": "health",
    "field": "latency",
    "before": "30m",
    "watch": "1h",
    "grace": "1m",
    "bucket": "30s",
}
PROBES = [{"name": "health", "kind": "http", "url": "http://{address}/", "interval": 10}]
MARK = 10_000.0


def checks(start, end, *, factor=1.0, seed=1, every=10):
    return shaped(start, end, lambda _t: factor, seed=seed, every=every)


def shaped(start, end, factor, *, seed, every=10):
    """Health checks every ``every`` s whose latency is 0.1 s times ``factor(t)``, with
    lognormal noise (sigma 0.2) drawn from ``seed``."""
    rng = random.Random(seed)
    return [
        obs(
            float(t),
            1.0,
            source="health",
            status=200,
            latency=round(0.1 * factor(t) * math.exp(rng.gauss(0, 0.2)), 6),
        )
        for t in range(int(start), int(end), every)
    ]


def decision(judge, now, rule_id="latency-regressed"):
    (found,) = [d for d in judge.evaluate(TARGET, now=now) if d.rule == rule_id]
    return found


def test_a_latency_regression_after_the_upgrade_is_critical_with_readable_evidence():
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 900, factor=4.0, seed=2)
    judge = feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)])
    found = decision(judge, MARK + 900)
    assert found.severity == CRITICAL
    ev = found.evidence
    assert ev["breached"]
    assert ev["e_value_peak"] >= 1000
    assert ev["alpha"] == 0.001
    assert ev["baseline_buckets"] == 60
    assert ev["buckets"] > 0
    assert 3.0 < ev["increase"] < 5.5
    assert "before the upgrade" in found.summary
    # 3/4 of alpha are the test's from the start, 0.1 the late starts', 0.15 the early
    # start's (the reference's highest bucket alone, from halfway through the grace).
    assert round(ev["e_threshold"]) == 1333
    assert round(ev["early_e_threshold"]) == 6667
    assert "of the test from the start reached 1/(alpha x 0.75) = 1.33e+03" in found.summary
    assert ev["fired_by"] == "start"
    assert ev["late_starts_s"] == [900.0, 1500.0, 2100.0, 2700.0]  # a 1-hour watch
    # 4x from the upgrade on is already worse during the grace (a cold start): not judged
    # before cold_grace (5 minutes), then caught within a few buckets.
    assert ev["warmup"] == "cold"
    assert ev["crossed_at"] <= MARK + 300 + 90


def test_a_shift_far_above_the_reference_top_is_caught_in_two_buckets():
    # 6x the latency: every bucket after the grace is far above the highest of the 120
    # reference buckets (x 1.5). Two such buckets are worth 121 * 122 / 2 = 7,381x against the
    # null, enough with the top's share of the prior (1/4) and its alternative's 0.89; without
    # the top component the 0.99 quantile needs a third. (With a 30-minute reference, 60
    # buckets, two are worth 1,891x: not enough, three are.) Counted from where the test
    # starts: 6x from the upgrade on is a cold start, tested from cold_grace.
    items = checks(MARK - 3600, MARK) + checks(MARK, MARK + 900, factor=6.0, seed=2)
    found = {}
    for top in (True, False):
        rule = {**LATENCY, "before": "1h", "top": top}
        judge = feed(config(rule, probes=PROBES), items, [upgrade(MARK)])
        found[top] = decision(judge, MARK + 900).evidence
    grace_end = MARK + 300
    assert found[True]["test_from"] == grace_end
    assert found[True]["crossed_at"] == grace_end + 60
    assert found[True]["effect"] == "max latency"
    assert found[True]["top"] is True
    assert found[False]["crossed_at"] >= grace_end + 90


def test_the_same_latency_after_the_upgrade_stays_ok():
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 3600, seed=2)
    judge = feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)])
    found = decision(judge, MARK + 3600)
    assert found.severity == OK
    assert found.evidence["e_value"] < 1000
    assert "< 1/alpha" in found.summary


def test_without_an_upgrade_mark_there_is_nothing_to_compare():
    judge = feed(config(LATENCY, probes=PROBES), checks(MARK - 1800, MARK))
    found = decision(judge, MARK)
    assert found.severity == OK
    assert found.evidence["no_data"]
    assert "no upgrade mark" in found.summary


def test_too_short_a_reference_is_no_data():
    items = checks(MARK - 120, MARK) + checks(MARK, MARK + 900, factor=4.0)
    judge = feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)])
    found = decision(judge, MARK + 900)
    assert found.severity == OK
    assert found.evidence["no_data"]
    assert "fewer than 10 buckets" in found.summary


def test_the_grace_period_is_not_judged_and_the_watch_ends():
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 4000, factor=4.0)
    judge = feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)])
    assert "warming up" in decision(judge, MARK + 30).summary
    assert decision(judge, MARK + 1800).severity == CRITICAL
    over = decision(judge, MARK + 3700)
    assert over.severity == OK
    assert "the 1h watch after the upgrade is over" in over.summary


@pytest.mark.parametrize("tiers", [False, True], ids=["one test", "with a slow tier"])
def test_the_decision_does_not_depend_on_fold_order_or_evaluation_history(tiers):
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 1200, factor=2.0, seed=5)
    # Simultaneous observations from another probe, and duplicates in time.
    items += [obs(float(t), 3.0, source="cpu") for t in range(int(MARK), int(MARK + 1200), 10)]
    # With a slow tier the rule reuses both tiers' last outcome when the fast tier read
    # nothing new: a daemon judging after every observation must still say what a replay says.
    rule = {**LATENCY, "min_ratio": 2.5, "slow": {"min_ratio": 1.5}} if tiers else LATENCY
    cfg = config(rule, probes=PROBES)
    ordered = feed(cfg, items, [upgrade(MARK)])
    shuffled_items = list(items)
    random.Random(9).shuffle(shuffled_items)
    # This one is judged after every observation (a daemon), in a shuffled arrival order:
    # late arrivals land in buckets already folded and must be re-read.
    live = engine.Engine(cfg)
    live.mark(upgrade(MARK))
    for item in shuffled_items:
        live.observe(item)
        live.evaluate(TARGET, now=MARK + 1200)
    for now in (MARK + 300, MARK + 601, MARK + 1200):
        a, b = decision(ordered, now), decision(live, now)
        assert (a.severity, a.summary, a.evidence) == (b.severity, b.summary, b.evidence)
    if tiers:  # 2x: under the fast tier's x2.5, flagged by the slow tier's x1.5
        assert decision(live, MARK + 1200).evidence["tier"] == "slow"
        assert decision(live, MARK + 1200).severity == CRITICAL


def test_a_late_observation_in_a_folded_bucket_is_counted():
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 900)
    judge = feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)])
    before = decision(judge, MARK + 900).evidence["samples"]
    judge.observe(obs(MARK + 75.0, 1.0, source="health", status=200, latency=0.1))
    assert decision(judge, MARK + 900).evidence["samples"] == before + 1


ERRORS = {
    "id": "errors-regressed",
    "kind": "regression",
    "severity": "critical",
    "probe": "health",
    "aggregate": "ratio",
    "when": {"field": "status", "op": ">=", "value": 500},
    "before": "1h",
    "min_delta": 0.02,
}


def test_an_error_ratio_regression_is_critical():
    rng = random.Random(4)
    items = [
        obs(float(t), 1.0, source="health", status=500 if rng.random() < 0.01 else 200)
        for t in range(int(MARK - 3600), int(MARK), 5)
    ]
    items += [
        obs(float(t), 1.0, source="health", status=500 if rng.random() < 0.2 else 200)
        for t in range(int(MARK), int(MARK + 1800), 5)
    ]
    judge = feed(config(ERRORS, probes=PROBES), items, [upgrade(MARK)])
    found = decision(judge, MARK + 1800, "errors-regressed")
    assert found.severity == CRITICAL
    assert "share with status >= 500" in found.summary


COHORT = {
    "id": "canary-latency",
    "kind": "regression",
    "severity": "critical",
    "probe": "health",
    "field": "latency",
    "against": "cohort",
    "grace": "1m",
    "watch": "1h",
}
FLEET = [{"id": f"web-{i}"} for i in range(1, 6)]


def fleet_checks(target, start, end, *, factor=1.0, seed=0):
    rng = random.Random(seed)
    return [
        obs(
            float(t),
            1.0,
            source="health",
            target=target,
            status=200,
            latency=0.1 * factor * math.exp(rng.gauss(0, 0.2)),
        )
        for t in range(int(start), int(end), 10)
    ]


def cohort_engine(canary_factor, *, everyone=1.0):
    cfg = models.RollsafeConfig.model_validate(
        {"targets": FLEET, "probes": PROBES, "rules": [COHORT]}
    )
    items = fleet_checks("web-1", MARK, MARK + 1800, factor=canary_factor * everyone, seed=1)
    for i in range(2, 6):
        items += fleet_checks(f"web-{i}", MARK, MARK + 1800, factor=everyone, seed=i)
    judge = feed(cfg, items, [upgrade(MARK, "web-1")])
    judge.set_cohorts({"web-1": "canary", **{f"web-{i}": "baseline" for i in range(2, 6)}})
    return judge


def test_a_canary_that_slows_half_an_hour_in_is_flagged_by_a_late_cohort_test():
    # Like its peers for 30 minutes (buckets under the margin sink every bettor of the test
    # from the grace), then three times slower: a late start carries none of those buckets.
    cfg = models.RollsafeConfig.model_validate(
        {"targets": FLEET, "probes": PROBES, "rules": [COHORT]}
    )
    end = MARK + 3600
    items = fleet_checks("web-1", MARK, MARK + 1800, seed=1)
    items += fleet_checks("web-1", MARK + 1800, end, factor=3.0, seed=11)
    for i in range(2, 6):
        items += fleet_checks(f"web-{i}", MARK, end, seed=i)
    judge = feed(cfg, items, [upgrade(MARK, "web-1")])
    judge.set_cohorts({"web-1": "canary", **{f"web-{i}": "baseline" for i in range(2, 6)}})
    found = decision(judge, end, "canary-latency")
    ev = found.evidence
    assert found.severity == CRITICAL
    assert ev["fired_by"] == "late"
    # Starts every 10 minutes from 11 minutes (the 1-minute grace, no holds): the one at
    # 21 or 31 minutes; flagged within minutes of the slowdown.
    assert ev["late_starts_s"] == [660.0, 1260.0, 1860.0, 2460.0]
    assert ev["fired_start_s"] in (1260.0, 1860.0)
    assert MARK + 1800 < ev["crossed_at"] <= MARK + 1800 + 600
    assert ev["late_e_threshold"] == pytest.approx(16_000)
    assert ev["e_threshold"] == pytest.approx(1 / 0.00075)
    assert "(a late start: the buckets before it do not count)" in found.summary
    # When the late test crossed, the test from the grace was still below its bar.
    then = decision(judge, ev["crossed_at"], "canary-latency").evidence
    assert then["fired_by"] == "late"
    assert then["e_value"] < then["e_threshold"]


def test_a_canary_slower_than_its_cohort_is_critical():
    judge = cohort_engine(3.0)
    (found,) = [d for d in judge.evaluate("web-1", now=MARK + 1800) if d.rule == "canary-latency"]
    assert found.severity == CRITICAL
    assert "the baseline cohort" in found.summary


def test_a_fleet_wide_slowdown_is_not_blamed_on_the_canary():
    judge = cohort_engine(1.0, everyone=3.0)
    (found,) = [d for d in judge.evaluate("web-1", now=MARK + 1800) if d.rule == "canary-latency"]
    assert found.severity == OK


def test_a_target_in_no_cohort_is_not_judged_against_one():
    judge = cohort_engine(3.0)
    judge.set_cohorts({})
    (found,) = [d for d in judge.evaluate("web-1", now=MARK + 1800) if d.rule == "canary-latency"]
    assert found.severity == OK
    assert found.evidence["applies"] is False


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"aggregate": "ratio"}, "aggregate `ratio` needs `when`"),
        (
            {"when": {"field": "status", "op": ">=", "value": 500}},
            "`when` is only read by aggregate `ratio`",
        ),
        ({"quantiles": [0.2]}, "quantiles must be at least 0.5"),
        ({"quantiles": [0.9, 0.9]}, "quantiles must not repeat"),
        ({"watch": "1m", "grace": "2m"}, "watch must be longer than grace plus one bucket"),
        ({"alpha": 0.6}, "less than 0.5"),
        ({"min_ratio": 0.5}, "greater than or equal to 1"),
        ({"against": "fleet"}, "'self', 'cohort' or 'peers'"),
        ({"slow": {"min_ratio": 1.0}}, "a margin of zero"),
        ({"min_ratio": 2.0, "slow": {"min_ratio": 2.5}}, "must not be larger than the rule's"),
        ({"min_ratio": 2.0, "slow": {"min_ratio": 2.0}}, "equals the rule's own"),
        ({"min_ratio": 2.0, "slow": {"min_ratio": 1.4, "share": 1.0}}, "less than 1"),
    ],
)
def test_a_bad_rule_is_refused_with_a_clear_reason(fields, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        models.RegressionRule.model_validate(
            {"id": "r", "kind": "regression", "probe": "p", **fields}
        )


def test_the_preset_style_rule_loads():
    rule = models.RegressionRule.model_validate(
        {
            "id": "latency-regressed",
            "kind": "regression",
            "severity": "critical",
            "probe": "health",
            "field": "latency",
            "against": "self",
            "before": "1h",
            "alpha": 0.001,
            "min_ratio": 1.5,
            "min_delta": 0.05,
        }
    )
    assert (rule.before, rule.watch, rule.grace, rule.bucket) == (3600, 7200, 120, 30)


# --------------------------------------------------------------------------- adaptive warm-up


def warming(start, end, *, height, minutes, seed=3, every=10):
    """Checks after a restart: latency ``height`` times the normal level at ``start``, back
    to it exponentially (95% of the way after ``minutes``)."""
    return shaped(
        start,
        end,
        lambda t: 1 + (height - 1) * math.exp(-3 * (t - start) / (60 * minutes)),
        seed=seed,
        every=every,
    )


def test_trend_and_fall_of_a_series():
    assert sequential.trend_z([5, 4, 3, 2, 1, 0.5, 0.4, 0.3]) <= sequential.FALLING_Z
    assert sequential.trend_z([1, 2, 3, 4, 5]) > 0
    assert sequential.trend_z([2.0] * 8) == 0.0
    assert sequential.trend_z([3, 2, 1]) == 0.0  # too few to tell
    # A straight fall from 2 to 1: half its median's worth... of 1.5: two thirds.
    assert sequential.fall([2.0, 1.75, 1.5, 1.25, 1.0]) == pytest.approx(2 / 3)
    assert sequential.fall([1.0, 1.5, 2.0]) == 0.0
    assert sequential.fall([0.0, 0.0, 0.0]) == 0.0


def test_a_long_warmup_is_held_out_and_the_test_starts_when_it_has_settled():
    # 5x at the restart, settled after 6 minutes: the fixed grace (1 minute) rolls it back;
    # the adaptive warm-up holds the falling buckets and tests from when the fall stopped.
    # (Slower falls from that high, 8 minutes, may still cross 3 buckets after a 1-minute
    # grace, before the fall is clear: the simulations measure how often.)
    items = checks(MARK - 1800, MARK) + warming(MARK, MARK + 3600, height=5.0, minutes=6)
    adaptive = decision(feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)]), MARK + 3600)
    fixed_rule = {**LATENCY, "settle_max": "1m", "cold_grace": "1m"}
    fixed = decision(feed(config(fixed_rule, probes=PROBES), items, [upgrade(MARK)]), MARK + 3500)
    assert fixed.severity == CRITICAL
    assert adaptive.severity == OK
    ev = adaptive.evidence
    assert ev["warmup"] == "settled"
    assert MARK + 120 < ev["test_from"] < MARK + 900
    assert ev["crossed_at"] is None
    assert "the signal fell until" in adaptive.summary
    assert "after the upgrade): warm-up, tested from then" in adaptive.summary


def test_a_step_regression_after_the_grace_is_not_held():
    # Normal during the grace, 4x from 2 minutes after the upgrade: not a cold start, and a
    # step is not a fall: tested from the grace, caught within a few buckets of its onset.
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 120, seed=2)
    items += checks(MARK + 120, MARK + 900, factor=4.0, seed=4)
    found = decision(feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)]), MARK + 900)
    assert found.severity == CRITICAL
    ev = found.evidence
    assert (ev["warmup"], ev["cold_start"], ev["test_from"]) == ("grace", False, MARK + 60)
    assert ev["crossed_at"] <= MARK + 120 + 120
    assert ev["fired_by"] == "start"  # the early start, from 30 s, met three healthy buckets
    assert "fell until" not in found.summary
    assert "cold start" not in found.summary


def test_a_step_regression_from_the_upgrade_waits_for_the_cold_grace_only():
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 900, factor=4.0, seed=2)
    judge = feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)])
    held = decision(judge, MARK + 200)
    assert held.severity == OK
    assert held.evidence["phase"] == "settling"
    assert held.evidence["warmup"] == "cold"
    assert "already worse during the 1m grace" in held.summary
    assert "the test starts 5m after the upgrade" in held.summary
    found = decision(judge, MARK + 900)
    assert found.severity == CRITICAL
    ev = found.evidence
    assert (ev["warmup"], ev["cold_start"], ev["test_from"]) == ("cold", True, MARK + 300)
    assert 3.0 < ev["cold_factor"] < 5.5
    assert MARK + 300 < ev["crossed_at"] <= MARK + 300 + 90
    assert "a cold start): warm-up, tested from" in found.summary


def test_a_warmup_flat_for_minutes_is_spared_by_the_cold_grace():
    # Tiered caches: 3x for 4 minutes, flat (no fall for the trend to see), then normal. To
    # any test a step regression until it ends; only waiting tells them apart.
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 240, factor=3.0, seed=2)
    items += checks(MARK + 240, MARK + 3600, seed=4)
    spared = decision(feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)]), MARK + 3600)
    assert spared.severity == OK
    # Held to cold_grace, then while the drop at 4 minutes still shows as a fall.
    assert (spared.evidence["cold_start"], spared.evidence["crossed_at"]) == (True, None)
    assert spared.evidence["test_from"] >= MARK + 300
    off = {**LATENCY, "cold_grace": "1m"}
    rolled = decision(feed(config(off, probes=PROBES), items, [upgrade(MARK)]), MARK + 3600)
    assert rolled.severity == CRITICAL
    assert rolled.evidence["crossed_at"] < MARK + 240
    assert "cold_start" not in rolled.evidence


def test_a_warmup_scraped_every_30s_is_spared():
    # One point per bucket (a Prometheus scrape every 30 s): 4 points at the end of a 2-minute
    # grace cannot show a fall at 2.5%. 6x at the restart back with a time constant of 3
    # minutes (a JVM): the cold start holds it to 5 minutes, when the fall is clear.
    rule = {**LATENCY, "before": "1h", "grace": "2m"}
    items = checks(MARK - 3600, MARK, every=30)
    items += shaped(
        MARK, MARK + 3600, lambda t: 1 + 5 * math.exp(-(t - MARK) / 180), seed=5, every=30
    )
    cfg = config(rule, probes=PROBES)
    spared = decision(feed(cfg, items, [upgrade(MARK)]), MARK + 3600)
    assert spared.severity == OK
    assert spared.evidence["cold_start"] is True
    off = config({**rule, "cold_grace": "2m"}, probes=PROBES)
    assert decision(feed(off, items, [upgrade(MARK)]), MARK + 3600).severity == CRITICAL


def test_a_late_observation_inside_the_grace_can_make_a_cold_start():
    # The cold start is read from the grace's buckets: one arriving late (after the rule
    # folded buckets past it) is read again, as if it had come in time.
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 900, seed=2)
    late = [t for t in items if MARK <= t.time < MARK + 60]
    on_time = [t for t in items if t not in late]
    slow = [
        obs(t.time + 1, 1.0, source="health", status=200, latency=0.5) for t in late for _ in "ab"
    ]
    judge = feed(config(LATENCY, probes=PROBES), on_time, [upgrade(MARK)])
    assert decision(judge, MARK + 900).evidence["cold_start"] is False
    for item in [*late, *slow]:
        judge.observe(item)
    again = decision(judge, MARK + 900).evidence
    whole = feed(config(LATENCY, probes=PROBES), [*items, *slow], [upgrade(MARK)])
    assert again["cold_start"] is True
    assert again == decision(whole, MARK + 900).evidence


def test_the_warmup_decision_does_not_depend_on_when_the_rule_is_evaluated():
    # Evaluated after every check, or once at the end: the same holds, start and crossing.
    items = checks(MARK - 1800, MARK) + warming(MARK, MARK + 1800, height=6.0, minutes=5)
    items += checks(MARK + 1800, MARK + 2400, factor=4.0, seed=5)
    once = decision(feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)]), MARK + 2400)
    judge = feed(config(LATENCY, probes=PROBES), items[:180], [upgrade(MARK)])
    for item in items[180:]:
        judge.observe(item)
        decision(judge, item.time)
    every = decision(judge, MARK + 2400)
    assert once.severity == every.severity == CRITICAL
    for key in ("test_from", "warmup", "crossed_at", "e_value_peak"):
        assert once.evidence[key] == every.evidence[key]


# --------------------------------------------------------------------------- late starts


def test_late_starts_begin_after_every_hold_and_share_a_quarter_of_alpha():
    rule = models.RegressionRule.model_validate({**LATENCY, "watch": "2h"})
    starts = sequential.late_starts(rule, 30.0)
    # settle_max (15 min) is the last a hold can take; then every 10 minutes while 10 are
    # left: (bucket counted from upgrade + grace, seconds after the upgrade).
    assert starts[0] == (28, 900.0)
    assert [offset for _, offset in starts] == [900.0 + 600.0 * k for k in range(10)]
    assert all(60.0 + index * 30.0 == offset for index, offset in starts)
    # Without holds the first starts LATE_EVERY after the grace; a cohort rule has none.
    fixed = models.RegressionRule.model_validate(
        {**LATENCY, "settle_max": "1m", "cold_grace": "1m"}
    )
    assert sequential.late_starts(fixed, 30.0)[0] == (20, 660.0)
    cohort = models.RegressionRule.model_validate({**LATENCY, "against": "cohort"})
    assert sequential.late_starts(cohort, 30.0) == sequential.late_starts(fixed, 30.0)
    # A watch too short for one: the test from the start keeps all of alpha.
    short = models.RegressionRule.model_validate({**LATENCY, "watch": "20m"})
    assert sequential.late_starts(short, 30.0) == ()


def test_a_regression_that_begins_half_an_hour_after_the_upgrade_is_flagged_by_a_late_start():
    # Healthy for 30 minutes (60 buckets the test from the start counts against a shift),
    # then a slow burn: 1x to 2.5x over 10 minutes, and it stays.
    def burn(t):
        return 1.0 + 1.5 * min(1.0, max(0.0, t - MARK - 1800) / 600.0)

    items = checks(MARK - 1800, MARK) + shaped(MARK, MARK + 3600, burn, seed=6)
    judge = feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)])
    found = decision(judge, MARK + 3600)
    ev = found.evidence
    assert found.severity == CRITICAL
    assert ev["fired_by"] == "late"
    assert ev["fired_start_s"] in (1500.0, 2100.0)
    # Flagged within the ramp's 10 minutes and a few buckets after it.
    assert MARK + 1800 < ev["crossed_at"] <= MARK + 1800 + 600 + 300
    when = "25m" if ev["fired_start_s"] == 1500.0 else "35m"
    assert f"of the test started {when} after the upgrade" in found.summary
    assert "(a late start: the buckets before it do not count)" in found.summary
    # a quarter of alpha over the 1-hour watch's 4 starts: 1 / (alpha / 16)
    assert "reached 1/(alpha x 0.025) = 4.00e+04 (alpha 0.001)" in found.summary
    # The same answer from a judge asked after every minute (its state folded forward).
    live = engine.Engine(config(LATENCY, probes=PROBES))
    live.mark(upgrade(MARK))
    for item in items:
        live.observe(item)
    for now in range(int(MARK), int(MARK + 3600) + 1, 60):
        live.evaluate(TARGET, now=float(now))
    again = decision(live, MARK + 3600)
    assert (again.summary, again.evidence) == (found.summary, found.evidence)


def test_a_healthy_watch_has_no_late_crossing():
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 3600, seed=8)
    found = decision(feed(config(LATENCY, probes=PROBES), items, [upgrade(MARK)]), MARK + 3600)
    ev = found.evidence
    assert found.severity == OK
    assert ev["fired_by"] is None
    assert ev["fired_start_s"] is None
    # A quarter of alpha less the early start's 0.15, over 4 starts.
    assert ev["late_e_threshold"] == pytest.approx(1 / (0.001 * 0.1 / 4))


def test_a_late_error_ratio_regression_is_flagged_by_a_late_two_sample_test():
    # 1% errors before and for 40 minutes after the upgrade, then 15% (over the 2-point
    # margin): the two-sample test from the start averages 40 healthy minutes in; one
    # started 35 or 45 minutes after the upgrade carries 5 minutes of them or none.
    rng = random.Random(12)

    def share(t):
        return 0.15 if t >= MARK + 2400 else 0.01

    items = [
        obs(float(t), 1.0, source="health", status=500 if rng.random() < share(t) else 200)
        for t in range(int(MARK - 3600), int(MARK + 4800), 5)
    ]
    judge = feed(config(ERRORS, probes=PROBES), items, [upgrade(MARK)])
    found = decision(judge, MARK + 4800, "errors-regressed")
    ev = found.evidence
    assert found.severity == CRITICAL
    assert ev["fired_by"] == "late"
    assert ev["fired_start_s"] in (2100.0, 2700.0)
    # 22 minutes after the shift: 7 errors in the reference hour leave its level uncertain
    # (up to ~3%, so "not worse" up to ~5%), which a two-sample test must allow for.
    assert MARK + 2400 < ev["crossed_at"] <= MARK + 2400 + 1500
    assert ev["e_value_peak"] < ev["e_threshold"]  # the test from the start: not yet
    assert "(a late start: the buckets before it do not count)" in found.summary


# --------------------------------------------------------------------------- tiers


def _bars(rule):
    """The share of alpha the test from the upgrade, the late starts together and the early
    start each run at, for ``rule`` on a healthy hour (the e-values do not matter here)."""
    window = windows.Window(span=10_000.0, max_samples=10_000)
    for item in checks(MARK - 1800, MARK + 3000):
        window.insert(item)
    found = sequential.judge_self(
        rule, window, now=MARK + 3000, reference_at=MARK, floor=10.0, state=sequential.Watch()
    ).evidence
    starts = len(found["late_starts_s"])
    late = starts / found["late_e_threshold"] if starts else 0.0
    early = 1 / found["early_e_threshold"] if "early_e_threshold" in found else 0.0
    return 1 / found["e_threshold"], late, early


def test_the_tiers_split_alpha_so_that_they_add_up_to_the_rules():
    rule = models.RegressionRule.model_validate(
        {**LATENCY, "min_ratio": 2.0, "min_delta": 0.05, "slow": {"min_ratio": 1.4}}
    )
    fast, slow = sequential.tiers(rule)
    assert slow is not None
    assert fast.alpha + slow.alpha == pytest.approx(rule.alpha)
    assert slow.alpha == pytest.approx(rule.alpha / 8)  # the default share
    assert (slow.min_ratio, slow.min_delta, slow.top) == (1.4, 0.0, False)
    assert (fast.min_ratio, fast.min_delta) == (2.0, 0.05)
    untiered = rule.model_copy(update={"slow": None})
    assert sequential.tiers(untiered) == (untiered, None)
    # Untiered, the early start's share comes out of the late starts': still alpha in all.
    main, late, early = _bars(untiered)
    assert early == pytest.approx(rule.alpha * sequential.EARLY_SHARE)
    assert main + late + early == pytest.approx(rule.alpha)
    # Every test of both tiers, from the upgrade, late and early, adds up to the rule's
    # alpha; the slow tier has no early start (no top component).
    assert sum(sum(_bars(tier)) for tier in (fast, slow)) == pytest.approx(rule.alpha)
    assert _bars(slow)[2] == 0.0
    # The fast tier keeps the early start's bar it has without tiers (0.15 of the rule's
    # alpha), paid from its own alpha: from its late starts' 1/8 first (none left), then
    # 0.025 of alpha from its test from the upgrade (0.725 instead of 0.75).
    main, late, early = _bars(fast)
    assert early == pytest.approx(rule.alpha * sequential.EARLY_SHARE)
    assert late == 0.0
    assert main == pytest.approx(rule.alpha * (1 - 0.125 - sequential.EARLY_SHARE))


TIERED = {**LATENCY, "min_ratio": 2.0, "slow": {"min_ratio": 1.3}}


def test_a_small_step_under_the_fast_margin_is_flagged_by_the_slow_tier_in_words():
    # 1.6x for good: under the fast tier's x2, over the slow tier's x1.3. The rule without
    # the slow tier never flags it; with it, the evidence names the slow tier, its margin,
    # its e-value and its bar, and the fast tier's e-value below its own.
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 3000, factor=1.6, seed=2)
    untiered = {**TIERED, "slow": None}
    judge = feed(config(untiered, probes=PROBES), items, [upgrade(MARK)])
    assert decision(judge, MARK + 3000).severity == OK
    judge = feed(config(TIERED, probes=PROBES), items, [upgrade(MARK)])
    found = decision(judge, MARK + 3000)
    assert found.severity == CRITICAL
    ev = found.evidence
    assert ev["tier"] == "slow"
    assert ev["alpha"] == 0.001
    assert ev["tier_alpha"] == pytest.approx(0.001 / 8)
    assert ev["min_ratio"] == 1.3
    assert ev["e_value_peak"] >= ev["e_threshold"]
    fast_row, slow_row = ev["tiers"]
    assert (fast_row["tier"], fast_row["min_ratio"], fast_row["breached"]) == ("fast", 2.0, False)
    assert (slow_row["tier"], slow_row["min_ratio"], slow_row["breached"]) == ("slow", 1.3, True)
    assert found.summary.startswith("slow tier (small changes, more evidence: worse than x1.3")
    assert "the fast tier (x2): highest e-value" in found.summary


def test_a_large_step_is_flagged_by_the_fast_tier_as_fast_as_without_tiers():
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 900, factor=4.0, seed=2)
    crossed = {}
    for slow in (None, {"min_ratio": 1.3}):
        judge = feed(config({**TIERED, "slow": slow}, probes=PROBES), items, [upgrade(MARK)])
        found = decision(judge, MARK + 900)
        assert found.severity == CRITICAL
        crossed[slow is None] = found.evidence["crossed_at"]
    assert crossed[False] <= crossed[True]
    judge = feed(config(TIERED, probes=PROBES), items, [upgrade(MARK)])
    ev = decision(judge, MARK + 900).evidence
    # The fast tier's bar: 1/(0.725 alpha), 0.025 of alpha given to its early start.
    assert round(ev["tiers"][0]["e_threshold"]) == 1379


def test_a_healthy_watch_with_tiers_stays_ok_and_says_which_tier_is_nearer():
    items = checks(MARK - 1800, MARK) + checks(MARK, MARK + 3000, seed=2)
    judge = feed(config(TIERED, probes=PROBES), items, [upgrade(MARK)])
    found = decision(judge, MARK + 3000)
    assert found.severity == OK
    assert found.evidence["tier"] in ("fast", "slow")
    assert not any(row["breached"] for row in found.evidence["tiers"])
    assert "tier" in found.summary


@pytest.mark.parametrize(
    ("shape", "seed"),
    [
        (lambda t: 1.0, 11),  # healthy
        (lambda t: 6.0 if t < MARK + 240 else 1.0, 12),  # a cold start, then settled
        (lambda t: 1.0 + 4.0 * math.exp(-(t - MARK) / 300.0), 13),  # a warm-up that falls
        (lambda t: 1.0 if t < MARK + 900 else 1.7, 14),  # a small late step (slow tier's)
    ],
)
def test_the_tiers_share_buckets_and_judge_as_each_tier_alone(shape, seed, monkeypatch):
    # The slow tier reads the buckets (and the reference's, and the warm-up's trend) the
    # fast tier computed on the same window: its e-values, crossings and holds must be
    # those of the slow tier judged alone, with late arrivals in folded buckets and judged
    # at irregular times; and each bucket is computed once, not once per tier.
    fields = {"min_ratio": 2.5, "slow": {"min_ratio": 1.5}, "settle_max": "15m"}
    rule = models.RegressionRule.model_validate({**LATENCY, **fields, "cold_grace": "5m"})
    fast_rule, slow_rule = sequential.tiers(rule)
    assert slow_rule is not None
    items = checks(MARK - 1800, MARK, seed=seed) + shaped(MARK, MARK + 3000, shape, seed=seed)
    rng = random.Random(seed)
    late = rng.sample(items, 40)  # arrive out of order, after the buckets they fall in
    windows_ = [windows.Window(span=3 * 3600.0) for _ in range(3)]
    tiered, fast, slow = sequential.Watch(), sequential.Watch(), sequential.Watch()
    computed = {"buckets": 0}
    real_bucket = sequential._bucket

    def counting(rule_, values):
        computed["buckets"] += 1
        return real_bucket(rule_, values)

    monkeypatch.setattr(sequential, "_bucket", counting)
    pending = [item for item in items if item not in late]
    for step, item in enumerate(pending + late):
        for window in windows_:
            window.insert(item)
        if step % 7 and step < len(pending):
            continue
        now = max(item.time, MARK) + rng.choice((0.0, 3.0, 29.0))
        args = {"now": now, "reference_at": MARK, "floor": 10.0}
        computed["buckets"] = 0
        combined = sequential.judge_self(rule, windows_[0], state=tiered, **args)
        shared_count = computed["buckets"]
        computed["buckets"] = 0
        alone = [sequential.judge_self(fast_rule, windows_[1], state=fast, **args)]
        # Each bucket computed once: no more than the fast tier alone computes (alone, with
        # no other tier to share with, it computes its early start's buckets again).
        assert shared_count <= computed["buckets"]
        alone.append(sequential.judge_self(slow_rule, windows_[2], state=slow, **args))
        assert combined.severity == max(alone[0].severity, alone[1].severity)
        for row, outcome in zip(combined.evidence["tiers"], alone, strict=True):
            ev = outcome.evidence
            keys = ("e_value", "e_value_peak", "breached", "crossed_at")
            assert [row[k] for k in keys] == [ev.get(k) for k in keys[:2]] + [
                bool(ev.get("breached")),
                ev.get("crossed_at"),
            ]
        lead = alone[0] if combined.evidence["tier"] == "fast" else alone[1]
        assert combined.evidence.get("test_from") == lead.evidence.get("test_from")
