"""The ``cohort`` rule: a canary against the targets not upgraded yet, at the same time."""

from __future__ import annotations

import pytest
from judge_helpers import CRITICAL, OK, feed, obs, upgrade

from rollsafe.config import models

FLEET = [{"id": f"web-{i}"} for i in range(1, 5)]
RATIO = {
    "id": "canary-5xx",
    "kind": "cohort",
    "severity": "critical",
    "probe": "http",
    "aggregate": "ratio",
    "when": {"field": "status", "op": ">=", "value": 500},
    "window": "60s",
    "max_increase": 2,
    "min_delta": 0.05,
    "min_samples": 5,
}


def config(rule=None):
    return models.RollsafeConfig.model_validate({"targets": FLEET, "rules": [rule or RATIO]})


def http(target, t, status):
    return obs(t, 1.0 if status < 500 else 0.0, source="http", target=target, status=status)


def traffic(targets, start, end, *, bad_every=0):
    """One health check per second per target; every ``bad_every``-th answers 500."""
    out = []
    for target in targets:
        for i, t in enumerate(range(start, end)):
            failing = bad_every and i % bad_every == 0
            out.append(http(target, float(t), 500 if failing else 200))
    return out


def decision(judge, target, now):
    (found,) = [d for d in judge.evaluate(target, now=now) if d.rule == "canary-5xx"]
    return found


def test_a_canary_worse_than_the_baseline_cohort_is_critical():
    items = traffic(["web-2", "web-3", "web-4"], 0, 60, bad_every=20)
    items += traffic(["web-1"], 0, 30) + traffic(["web-1"], 30, 60, bad_every=3)
    judge = feed(config(), items, [upgrade(30.0, "web-1")])
    judge.set_cohorts({"web-1": "canary", "web-2": "baseline", "web-3": "baseline"})

    found = decision(judge, "web-1", 59.5)

    assert found.severity is CRITICAL
    ev = found.evidence
    # Only the canary's values after its upgrade count; web-4 is in no cohort.
    assert ev["since"] == 30.0
    assert ev["canary_samples"] == 29  # (30, 59.5]
    assert ev["baseline_samples"] == 2 * 60
    assert ev["baseline_targets"] == 2
    assert ev["canary"] == pytest.approx(9 / 29)
    assert ev["baseline"] == pytest.approx(6 / 120)
    assert ev["breached"] is True
    assert "on the canary vs" in found.summary


def test_a_change_the_whole_fleet_shows_is_not_blamed_on_the_canary():
    # Everyone answers 500 a third of the time (a dependency is down): not the release.
    items = traffic([f"web-{i}" for i in range(1, 5)], 0, 60, bad_every=3)
    judge = feed(config(), items, [upgrade(30.0, "web-1")])
    judge.set_cohorts({"web-1": "canary", "web-2": "baseline", "web-3": "baseline"})

    found = decision(judge, "web-1", 59.5)

    assert found.severity is OK
    assert found.evidence["breached"] is False
    assert found.evidence["no_data"] is False


def test_min_delta_keeps_a_tiny_absolute_change_ok():
    rule = {**RATIO, "min_delta": 0.5}
    items = traffic(["web-2"], 0, 60, bad_every=30) + traffic(["web-1"], 0, 60, bad_every=10)
    judge = feed(config(rule), items)
    judge.set_cohorts({"web-1": "canary", "web-2": "baseline"})

    assert decision(judge, "web-1", 59.5).severity is OK


@pytest.mark.parametrize(
    ("cohorts", "why"),
    [({}, "no rollout is baking it"), ({"web-1": "baseline"}, "baseline cohort")],
)
def test_a_target_that_is_not_a_canary_is_not_judged(cohorts, why):
    judge = feed(config(), traffic(["web-1", "web-2"], 0, 60, bad_every=2))
    judge.set_cohorts(cohorts)

    found = decision(judge, "web-1", 59.5)

    assert found.severity is OK
    assert found.evidence["applies"] is False
    assert why in found.summary


def test_too_few_samples_on_either_side_is_no_data_not_a_verdict():
    judge = feed(config(), traffic(["web-1"], 0, 60, bad_every=2) + traffic(["web-2"], 57, 60))
    judge.set_cohorts({"web-1": "canary", "web-2": "baseline"})

    found = decision(judge, "web-1", 59.5)

    assert found.severity is OK
    assert found.evidence["no_data"] is True
    assert found.evidence["baseline_samples"] == 3


def test_an_empty_baseline_cohort_is_no_data():
    judge = feed(config(), traffic(["web-1"], 0, 60, bad_every=2))
    judge.set_cohorts({"web-1": "canary"})

    found = decision(judge, "web-1", 59.5)

    assert found.evidence["no_data"] is True
    assert found.evidence["baseline_targets"] == 0


def test_mean_and_rate_aggregates():
    mean = {**RATIO, "aggregate": "mean", "field": "latency", "when": None, "min_delta": 0}
    items = []
    for t in range(60):
        items.append(obs(float(t), source="http", target="web-1", latency=0.5))
        items.append(obs(float(t), source="http", target="web-2", latency=0.1))
    judge = feed(config(mean), items)
    judge.set_cohorts({"web-1": "canary", "web-2": "baseline"})
    found = decision(judge, "web-1", 59.5)
    assert found.severity is CRITICAL
    assert found.evidence["canary"] == pytest.approx(0.5)

    rate = {**RATIO, "aggregate": "rate", "when": None, "min_delta": 0, "min_samples": 1}
    errors = [obs(float(t), 2.0, source="http", target="web-1") for t in range(60)]
    errors += [obs(float(t), 1.0, source="http", target=w) for t in range(60) for w in ("web-2",)]
    judge = feed(config(rate), errors)
    judge.set_cohorts({"web-1": "canary", "web-2": "baseline"})
    found = decision(judge, "web-1", 59.5)
    # 2 per second is 120 per minute on the canary, against 60 per minute per baseline target.
    assert found.evidence["canary"] == pytest.approx(120, rel=0.05)
    assert found.evidence["baseline"] == pytest.approx(60, rel=0.05)
    assert found.severity is OK  # exactly twice is not over a x2 limit


def test_the_assignment_is_checked_and_replaced_whole():
    judge = feed(config(), [])
    with pytest.raises(ValueError, match="unknown cohort 'control'"):
        judge.set_cohorts({"web-1": "control"})
    judge.set_cohorts({"web-1": "canary", "web-2": "baseline"})
    judge.set_cohorts({"web-3": "canary"})
    assert judge.cohort_assignment() == {"web-3": "canary"}


def test_the_model_needs_when_for_a_ratio():
    with pytest.raises(ValueError, match="needs `when`"):
        models.RollsafeConfig.model_validate(
            {"rules": [{"id": "r", "kind": "cohort", "probe": "p", "aggregate": "ratio"}]}
        )
