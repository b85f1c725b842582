"""Simulated watches: the ``regression`` rule's false-alarm bound, and its detection delay.

Each healthy watch draws an hour of a signal before an ``upgrade`` mark and an hour after it
from the *same* noisy process (heavy-tailed latency, AR(1) noise, a daily cycle,
over-dispersed counts, bursty errors) and asks the rule, at the end of the watch, whether it
ever crossed its threshold (the rule latches the crossing, so one question at the end is the
same as asking after every observation). The share of healthy watches flagged must be at most
``alpha``: tested at a large alpha (0.05, 1,000 watches: a broken bound, say 0.08, would show
about 80 alarms against the 50 allowed) and at the shipped default (0.001).

The same harness with a regression injected at the mark (2x latency, +5 points of error
ratio, 3x error rate) asserts that (nearly) every watch detects it and reports the median
delay from the upgrade (printed with ``pytest -s``). Every draw is seeded: results are exact
and repeatable.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from typing import Any

import pytest

from rollsafe.config import models
from rollsafe.domain import ids, observations
from rollsafe.judge import sequential, windows

MARK = 1_000_000.0
# Seconds between two observations: the usual schedule before the mark, faster after it (a
# daemon probes an upgraded target every `watch_interval`). Buckets are 30 s.
BEFORE_EVERY = 30.0
AFTER_EVERY = 10.0
TARGET = ids.TargetId("sim")
DAY = 86400.0

# One value per observation time; ``regressed`` is True after the mark in a faulty watch.
Draw = Callable[[random.Random, list[float], bool], list[dict[str, Any]]]


def rule(**fields: Any) -> models.RegressionRule:
    data: dict[str, Any] = {
        "id": "r",
        "kind": "regression",
        "severity": "critical",
        "probe": "sim",
        "field": "latency",
        "before": "1h",
        "watch": "1h",
        "grace": "2m",
        "bucket": "30s",
    }
    data.update(fields)
    return models.RegressionRule.model_validate(data)


def window_of(
    draw: Draw,
    rng: random.Random,
    *,
    before: float,
    watch: float,
    regressed: bool,
    before_every: float = BEFORE_EVERY,
) -> windows.Window:
    """The observations of one watch: ``before`` seconds before the mark, ``watch`` after."""
    window = windows.Window(span=before + watch + 60.0, max_samples=100_000)
    times_before = [MARK - before + k * before_every for k in range(int(before / before_every))]
    after = [MARK + k * AFTER_EVERY for k in range(int(watch / AFTER_EVERY))]
    for times, bad in ((times_before, False), (after, regressed)):
        for t, fields in zip(times, draw(rng, times, bad), strict=True):
            window.insert(observations.Observation(time=t, target=TARGET, source="sim", **fields))
    return window


def judged(rule_: models.RegressionRule, window: windows.Window) -> Any:
    """The rule's outcome at the end of the watch (``crossed_at``: if and when it fired)."""
    return sequential.judge_self(
        rule_,
        window,
        now=MARK + rule_.watch,
        reference_at=MARK,
        floor=AFTER_EVERY,
        state=sequential.Watch(),
    )


def alarms(rules: list[models.RegressionRule], draw: Draw, *, watches: int, seed: int) -> list[int]:
    """Healthy watches flagged, per rule (the rules share each watch's observations)."""
    rng = random.Random(seed)
    found = [0] * len(rules)
    first = rules[0]
    for _ in range(watches):
        window = window_of(draw, rng, before=first.before, watch=first.watch, regressed=False)
        for i, rule_ in enumerate(rules):
            found[i] += judged(rule_, window).evidence["crossed_at"] is not None
    return found


def delays(
    rule_: models.RegressionRule,
    draw: Draw,
    *,
    watches: int,
    seed: int,
    before_every: float = BEFORE_EVERY,
) -> list[float | None]:
    rng = random.Random(seed)
    found = []
    for _ in range(watches):
        window = window_of(
            draw,
            rng,
            before=rule_.before,
            watch=rule_.watch,
            regressed=True,
            before_every=before_every,
        )
        crossed = judged(rule_, window).evidence["crossed_at"]
        found.append(None if crossed is None else crossed - MARK)
    return found


# --------------------------------------------------------------------------- noisy processes


def _every(times: list[float]) -> float:
    return times[1] - times[0]


def _ar1(rng: random.Random, times: list[float], phi: float, sigma: float) -> list[float]:
    """Stationary AR(1) noise, ``phi`` the correlation between values 30 s apart."""
    step = phi ** (_every(times) / 30.0)
    x = rng.gauss(0.0, sigma)
    out = []
    for _ in times:
        x = step * x + math.sqrt(1 - step * step) * rng.gauss(0.0, sigma)
        out.append(x)
    return out


def lognormal(sigma: float, factor: float = 2.0) -> Draw:
    def draw(rng: random.Random, times: list[float], bad: bool) -> list[dict[str, Any]]:
        scale = 0.1 * (factor if bad else 1.0)
        return [{"latency_s": scale * math.exp(rng.gauss(0.0, sigma))} for _ in times]

    return draw


def pareto(shape: float) -> Draw:
    def draw(rng: random.Random, times: list[float], bad: bool) -> list[dict[str, Any]]:
        scale = 0.05 * (2.0 if bad else 1.0)
        return [{"latency_s": scale * rng.paretovariate(shape)} for _ in times]

    return draw


def ar1_daily(phi: float, sigma: float, cycle: float, *, factor: float = 2.0) -> Draw:
    """log-latency AR(1) (correlated over ~1/(1-phi) samples) on a daily cycle, random phase."""

    def draw(rng: random.Random, times: list[float], bad: bool) -> list[dict[str, Any]]:
        phase = rng.uniform(0, 2 * math.pi)
        noise = _ar1(rng, times, phi, sigma)
        scale = 0.1 * (factor if bad else 1.0)
        return [
            {
                "latency_s": scale
                * (1 + cycle * math.sin(2 * math.pi * t / DAY + phase))
                * math.exp(x)
            }
            for t, x in zip(times, noise, strict=True)
        ]

    return draw


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means of error lines per check.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def counts(mean: float, *, shape: float | None = None, factor: float = 3.0) -> Draw:
    """Error lines per check (``mean`` per 30 s): Poisson, or gamma-Poisson (over-dispersed,
    ``shape`` small: most checks see none, a few see many)."""

    def draw(rng: random.Random, times: list[float], bad: bool) -> list[dict[str, Any]]:
        m = mean * (factor if bad else 1.0) * _every(times) / 30.0  # lines since the last check
        out = []
        for _ in times:
            rate = m if shape is None else rng.gammavariate(shape, m / shape)
            out.append({"value": float(_poisson(rng, rate))})
        return out

    return draw


def bursty_errors(share: float, *, stay: float, extra: float = 0.05) -> Draw:
    """Status 500 with probability ``share`` on average, in runs (a two-state Markov chain
    that stays in its state with probability ``stay``); ``extra`` is added when regressed."""

    def draw(rng: random.Random, times: list[float], bad: bool) -> list[dict[str, Any]]:
        p_bad_state = 0.2
        hi = share / p_bad_state  # error probability while in the bad state
        state = rng.random() < p_bad_state
        out = []
        for _ in times:
            if rng.random() > stay:
                state = rng.random() < p_bad_state
            p = (hi if state else 0.0) + (extra if bad else 0.0)
            status = 500 if rng.random() < p else 200
            out.append({"status": status, "value": float(status < 500), "latency_s": 0.01})
        return out

    return draw


RATIO = {
    "aggregate": "ratio",
    "field": "status",
    "when": {"field": "status", "op": ">=", "value": 500},
}
RATE = {"aggregate": "rate", "field": "value"}

# --------------------------------------------------------------------------- the bound

# (name, draw, rule fields): healthy processes, each with the rule as a preset would set it.
HEALTHY = [
    # The exact case: iid, no margin at all. Only the test's own validity keeps alarms down.
    ("lognormal sigma 0.5, no margin", lognormal(0.5), {"min_ratio": 1.0}),
    ("pareto shape 1.5 (infinite variance)", pareto(1.5), {}),
    ("AR(1) phi 0.9 sigma 0.2 + daily cycle +-30%", ar1_daily(0.9, 0.2, 0.3), {}),
    ("poisson 0.3 lines per check", counts(0.3), {**RATE, "min_delta": 0.5}),
    (
        "over-dispersed counts (gamma-poisson shape 0.3)",
        counts(0.3, shape=0.3),
        {**RATE, "min_delta": 0.5},
    ),
    ("bursty 2% errors", bursty_errors(0.02, stay=0.9), {**RATIO, "min_delta": 0.02}),
]


@pytest.mark.parametrize(("name", "draw", "fields"), HEALTHY, ids=[h[0] for h in HEALTHY])
def test_healthy_watches_are_flagged_at_most_alpha_of_the_time(name, draw, fields):
    # 400 watches each. At alpha 0.05, 20 alarms are allowed: a bound broken to 0.1 would
    # show about 40. At the shipped 0.001, at most one: a bound broken tenfold would show 4.
    count = 400
    loose, shipped = alarms(
        [rule(alpha=0.05, **fields), rule(**fields)], draw, watches=count, seed=11
    )
    print(f"\n{name}: {loose} alarms at alpha 0.05, {shipped} at 0.001, in {count} watches")
    assert loose <= 0.05 * count
    assert shipped <= 1


def test_strong_slow_wander_stays_under_a_loose_alpha():
    # Outside the stated assumptions: log-latency wandering with sigma 0.3 over ~5 minutes
    # plus a daily cycle moves an hour's p99 by 2x and more now and then, a real change of
    # the kind the margin is meant to absorb. At alpha 0.05 the bound holds (9 of 600 with
    # this seed); at 0.001 this process gives 2 alarms in 600 (0.003): for signals that
    # wander this much, widen min_ratio or compare with the cohort (docs/configuration.md).
    loose, shipped = alarms(
        [rule(alpha=0.05), rule()], ar1_daily(0.9, 0.3, 0.3), watches=600, seed=11
    )
    assert loose <= 0.05 * 600
    assert shipped <= 3


def test_a_naive_fixed_window_test_checked_every_bucket_breaks_the_bound():
    # The harness can tell a broken bound: a one-sided z-test of the bucket mean at 5%, looked
    # at after every bucket (as a fixed-window judge re-run on a schedule does), alarms far
    # more often than 5% on the very same healthy AR(1) watches.
    rng = random.Random(13)
    draw = ar1_daily(0.9, 0.3, 0.0)
    flagged = 0
    for _ in range(300):
        times = [MARK + k * BEFORE_EVERY for k in range(480)]
        values = [math.log(f["latency_s"]) for f in draw(rng, times, False)]
        ref, post = values[:240], values[240:]
        mu, sd = statistics.fmean(ref), statistics.stdev(ref)
        for end in range(2, len(post) + 1, 2):
            z = (statistics.fmean(post[:end]) - mu) / (sd / math.sqrt(end))
            if z > 1.645:
                flagged += 1
                break
    assert flagged > 0.05 * 300 * 2  # more than twice the nominal rate


# --------------------------------------------------------------------------- detection


# (name, draw, rule fields, seconds between checks before the mark, share of watches that
# must detect it, limit on the median delay after the upgrade in seconds).
REGRESSIONS = [
    ("2x latency, lognormal sigma 0.25", lognormal(0.25), {}, 30.0, 0.95, 15 * 60),
    (
        "3x latency, AR(1) phi 0.7 + daily cycle",
        ar1_daily(0.7, 0.2, 0.3, factor=3.0),
        {},
        30.0,
        0.8,
        15 * 60,
    ),
    (
        "+10 points of 5xx ratio over 1%, 2h reference",
        bursty_errors(0.01, stay=0.5, extra=0.10),
        {**RATIO, "min_delta": 0.01, "before": "2h"},
        10.0,
        0.75,
        40 * 60,
    ),
    ("3x error lines (2 per minute)", counts(1.0), {**RATE, "min_delta": 0.5}, 30.0, 0.9, 25 * 60),
]


@pytest.mark.parametrize("case", REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_injected_regressions_are_detected(case):
    name, draw, fields, every, share, median_limit = case
    found = delays(rule(**fields), draw, watches=100, seed=21, before_every=every)
    detected = sorted(d for d in found if d is not None)
    median = statistics.median(detected) if detected else math.inf
    print(
        f"\n{name}: detected {len(detected)}/{len(found)}, median delay {median:.0f}s, "
        f"90th percentile {detected[int(0.9 * len(detected)) - 1] if detected else math.inf:.0f}s"
    )
    assert len(detected) >= share * len(found)
    assert median <= median_limit
