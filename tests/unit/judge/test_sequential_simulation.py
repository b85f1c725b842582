"""Simulated watches: the ``regression`` rule's false-alarm bound, and its detection delay.

Each healthy watch draws an hour of a signal before an ``upgrade`` mark (one check every
30 s) and an hour after it (every 10 s: a watched target is probed faster) from the *same*
noisy process (heavy-tailed latency, AR(1) wander, a daily cycle, over-dispersed counts,
bursty errors) and asks the rule, at the end of the watch, whether it ever crossed its
threshold (the rule records the first crossing, so one question at the end is the same as
asking after every observation). The share of healthy watches flagged must be at most
``alpha``: 400 watches per process at alpha 0.05 (20 alarms allowed: a bound broken to 0.1
would show about 40) and at the shipped 0.001 (one allowed). A fixed-window Mann-Whitney
judge looked at every 5 minutes (Kayenta's way) on the same kind of data shows what a
broken bound looks like.

The same harness with a regression injected at the mark (2x, 3x, 4x and 6x latency, +10
points of 5xx ratio, 3x error lines) asserts that most watches detect it and that the median delay
from the upgrade stays under a stated limit (figures printed with ``pytest -s``). Every draw
is seeded: results are exact and repeatable.

Warm-up: healthy restarts whose latency starts 2 to 5 times higher and decays over 2 to 15
minutes (exponentially or linearly, under lognormal noise and AR(1) wander), judged with the
warm-up holds (the cold start's ``cold_grace`` and the adaptive ``settle_max``) and with the
fixed grace alone (both at the grace, as before either existed); and regressions of several
shapes (step, rising, partial recovery) with their delays under both.

Early start: the top component alone from halfway through the grace, on its own share of
alpha; healthy watches (heavy tails, a daily cycle) flagged by it alone, and large steps
inside the grace flagged at its end.
"""

from __future__ import annotations

import itertools
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

# One value per observation time, regressed from the given time on (inf: healthy). One
# call draws the whole watch, before and after the mark, so that a healthy process is the
# *same* process on both sides: its wander and its daily cycle run on across the mark.
Draw = Callable[[random.Random, list[float], float], list[dict[str, Any]]]
HEALTHY_ALL_ALONG = math.inf


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
    times = times_before + after
    drawn = draw(rng, times, MARK if regressed else HEALTHY_ALL_ALONG)
    for t, fields in zip(times, drawn, strict=True):
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


def _gaps(times: list[float]) -> list[float]:
    """Seconds since the previous check, per check (the first: as long as the next gap)."""
    return [times[1] - times[0], *(b - a for a, b in itertools.pairwise(times))]


def _ar1(rng: random.Random, times: list[float], phi: float, sigma: float) -> list[float]:
    """Stationary AR(1) noise, ``phi`` the correlation between values 30 s apart (checks may
    be irregular: faster after the mark)."""
    x = rng.gauss(0.0, sigma)
    out = []
    for gap in _gaps(times):
        step = phi ** (gap / 30.0)
        x = step * x + math.sqrt(1 - step * step) * rng.gauss(0.0, sigma)
        out.append(x)
    return out


def lognormal(sigma: float, factor: float = 2.0) -> Draw:
    def draw(rng: random.Random, times: list[float], bad_from: float) -> list[dict[str, Any]]:
        return [
            {"latency_s": 0.1 * (factor if t >= bad_from else 1.0) * math.exp(rng.gauss(0, sigma))}
            for t in times
        ]

    return draw


def pareto(shape: float) -> Draw:
    def draw(rng: random.Random, times: list[float], bad_from: float) -> list[dict[str, Any]]:
        return [
            {"latency_s": 0.05 * (2.0 if t >= bad_from else 1.0) * rng.paretovariate(shape)}
            for t in times
        ]

    return draw


def ar1_daily(phi: float, sigma: float, cycle: float, *, factor: float = 2.0) -> Draw:
    """log-latency AR(1) (correlated over ~1/(1-phi) samples) on a daily cycle, random phase."""

    def draw(rng: random.Random, times: list[float], bad_from: float) -> list[dict[str, Any]]:
        phase = rng.uniform(0, 2 * math.pi)
        noise = _ar1(rng, times, phi, sigma)
        return [
            {
                "latency_s": 0.1
                * (factor if t >= bad_from else 1.0)
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

    def draw(rng: random.Random, times: list[float], bad_from: float) -> list[dict[str, Any]]:
        out = []
        for t, gap in zip(times, _gaps(times), strict=True):
            m = mean * (factor if t >= bad_from else 1.0) * gap / 30.0  # since the last check
            rate = m if shape is None else rng.gammavariate(shape, m / shape)
            out.append({"value": float(_poisson(rng, rate))})
        return out

    return draw


def bursty_errors(share: float, *, stay: float, extra: float = 0.05) -> Draw:
    """Status 500 with probability ``share`` on average, in runs (a two-state Markov chain
    that stays in its state with probability ``stay``); ``extra`` is added when regressed."""

    def draw(rng: random.Random, times: list[float], bad_from: float) -> list[dict[str, Any]]:
        p_bad_state = 0.2
        hi = share / p_bad_state  # error probability while in the bad state
        state = rng.random() < p_bad_state
        out = []
        for t in times:
            if rng.random() > stay:
                state = rng.random() < p_bad_state
            p = (hi if state else 0.0) + (extra if t >= bad_from else 0.0)
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


# AR(1) log-latency wander with sigma 0.3, correlated over ~5 minutes (phi 0.9 per 30 s),
# on a daily cycle (+-30%) running on across the mark: an hour's p99 moves by 2x and more on
# its own. With the default margin (1.5x) the bound holds at every level with room to spare
# (0 of 6,000 such watches at 0.05). Without any margin the rule must rest on its
# correlation discount alone: at 0.05 and 0.01 it holds (measured 0.011 and 0.0043); at 0.001
# it sits at the bound (10 of 9,500), so only the looser levels are asserted for it here.
# Slower still (phi 0.97, correlated over ~15 minutes) and with no margin, the bias-corrected
# discount holds 0.05 and 0.01 (measured 0.020 and 0.0071 of 5,500); without the correction
# it did not (0.058 and 0.025): this case is the one that tells them apart.
WANDER = [
    ("default margin", 0.9, {}, (0.05, 0.01, 0.001)),
    ("no margin", 0.9, {"min_ratio": 1.0}, (0.05, 0.01)),
    ("no margin, slower wander", 0.97, {"min_ratio": 1.0}, (0.05, 0.01)),
]


@pytest.mark.parametrize(("name", "phi", "fields", "levels"), WANDER, ids=[w[0] for w in WANDER])
def test_strong_slow_wander_stays_within_alpha(name, phi, fields, levels):
    # One rule per watch: alpha only sets the bar, and the e-value's peak over the watch
    # reached 1/alpha exactly when the rule at that alpha would have crossed.
    count = 2000
    rng = random.Random(11)
    draw, loose = ar1_daily(phi, 0.3, 0.3), rule(alpha=0.05, **fields)
    found = [0] * len(levels)
    for _ in range(count):
        window = window_of(draw, rng, before=loose.before, watch=loose.watch, regressed=False)
        peak = judged(loose, window).evidence["e_value_peak"]
        for i, alpha in enumerate(levels):
            found[i] += peak >= 1 / alpha
    print(f"\nAR(1) phi {phi} sigma 0.3, {name}: alarms at {levels}: {found} of {count}")
    for alpha, flagged in zip(levels, found, strict=True):
        assert flagged <= alpha * count


def episodic(*, high: float, random_episodes: bool, level: float = 0.22) -> Draw:
    """A latency of ``level`` (lognormal sigma 0.15) with episodes at ``high``: a report job
    for 2 minutes every 10 (random phase), or a noisy neighbour whose 2-minute episodes come
    at random (a two-state chain stepped every 30 s, in an episode 20% of the time). The same
    episodes before and after the mark: a healthy host whose hour before was not calm.
    Regressed: 2.2 times ``level`` from the mark on (the corpus's step after a noisy hour)."""

    def draw(rng: random.Random, times: list[float], bad_from: float) -> list[dict[str, Any]]:
        phase = rng.uniform(0.0, 600.0)
        state = rng.random() < 0.2
        stepped = times[0]
        out = []
        for t in times:
            while random_episodes and t - stepped >= 30.0:
                stepped += 30.0
                state = rng.random() >= 0.25 if state else rng.random() < 30.0 / 480.0
            bad = state if random_episodes else (t - phase) % 600.0 < 120.0
            base = level * (2.2 if t >= bad_from else 1.0)
            value = max(base, high) if bad else base
            out.append({"latency_s": value * math.exp(rng.gauss(0.0, 0.15))})
        return out

    return draw


# Episodic references (the corpus's fault-p99-step-after-noisy-hour, healthy): the episodes
# make the reference's upper quantiles and top an episode's level and its rank correlation
# large, although the buckets between episodes are independent. The margins are the
# presets' (web-service latency-quantile-up: x2 and +0.1; latency-up's two tiers on a health
# check) and the model's default (x1.5).
# Measured, 200 watches each, alarms at alpha 0.05 and 0.001: 0 and 0 in the first four
# cases of EPISODIC. Random episodes larger than the margin (its last three) broke the
# bound before a component whose reference exceeds its threshold in runs was tested as a
# two-state chain (round 10, docs/presets.md "Episodic references"): 2,000 watches each at
# 0.05 and 0.001, 5x at x2: 187 and 94; 2.3x at x1.5: 144 and 62; latency-up's slow tier
# on a 40 ms health check with 2.3x episodes: 151 and 75. The watches flagged had one or
# two short episodes in the hour before (2.5-5% of it) and 20-30% of the hour after.
X2 = {"min_ratio": 2.0, "min_delta": 0.1}  # web-service latency-quantile-up's margin
# web-service latency-up's margins, both tiers, on a 40 ms health check
HEALTH = {"min_ratio": 2.0, "min_delta": 0.05, "slow": {"min_ratio": 1.3, "min_delta": 0.01}}
# (name, random episodes, level, episode level, rule fields, alarms allowed at 0.001 of 200)
# Random episodes larger than the margin (the last three): within the bound at 0.05; at
# 0.001 near it (1, 1 and 2 of 200 here, 94, 62 and 75 of 2,000 before the chain), not at
# it: the few watches still flagged had references whose episodes were all single buckets
# (no run: the urn's null), docs/presets.md.
EPISODIC = [
    ("report job every 10 min at 2.3x, x2 +0.1", False, 0.22, 0.5, X2, 0),
    ("report job every 10 min at 2.3x, x1.5", False, 0.22, 0.5, {}, 0),
    ("report job every 10 min at 2.3x, health check, latency-up", False, 0.04, 0.092, HEALTH, 0),
    ("random 2-min episodes at 2.3x, x2 +0.1", True, 0.22, 0.5, X2, 0),
    ("random 2-min episodes at 5x, x2 +0.1", True, 0.22, 1.1, X2, 2),
    ("random 2-min episodes at 2.3x, x1.5", True, 0.22, 0.5, {}, 2),
    ("random 2-min episodes at 2.3x, health check, latency-up", True, 0.04, 0.092, HEALTH, 2),
]


@pytest.mark.parametrize("case", EPISODIC, ids=[e[0] for e in EPISODIC])
def test_episodic_references_stay_within_alpha(case):
    name, random_episodes, level, high, fields, allowed = case
    count = 200
    draw = episodic(high=high, random_episodes=random_episodes, level=level)
    loose, shipped = alarms(
        [rule(alpha=0.05, **fields), rule(**fields)], draw, watches=count, seed=11
    )
    print(f"\n{name}: {loose} alarms at alpha 0.05, {shipped} at 0.001, in {count} watches")
    assert loose <= 0.05 * count
    assert shipped <= allowed


def test_a_step_after_a_report_jobs_hour_is_caught_through_the_chain():
    # The corpus's fault-p99-step-after-noisy-hour: x2.2 from the mark after an hour with a
    # report job (2.3x for 2 minutes every 10, going on after the mark), margin x2 +0.1.
    # 11 of 100 detected with the urn alone (the median's own discount, round 9), 63 with
    # the chain: the step enters x2 of the median from nearly every calm bucket, the
    # reference's calm buckets did in 6 of about 95.
    found = delays(rule(**X2), episodic(high=0.5, random_episodes=False), watches=100, seed=21)
    detected = [d for d in found if d is not None]
    print(f"\nx2.2 step after a report job's hour: detected {len(detected)}/100")
    assert len(detected) >= 50


def _mann_whitney_z(before: list[float], after: list[float]) -> float:
    """The normal approximation of the one-sided Mann-Whitney U test (after larger)."""
    ranked = sorted([(x, 0) for x in before] + [(x, 1) for x in after])
    rank_sum = sum(rank + 1 for rank, (_, side) in enumerate(ranked) if side == 1)
    n0, n1 = len(before), len(after)
    u = rank_sum - n1 * (n1 + 1) / 2
    return (u - n0 * n1 / 2) / math.sqrt(n0 * n1 * (n0 + n1 + 1) / 12)


def test_a_fixed_window_judge_looked_at_repeatedly_breaks_its_alpha():
    # Kayenta's default judge is a fixed-window Mann-Whitney test per metric, re-run on an
    # interval. On iid healthy watches (the exact null, no margin), a one-sided 5% test of
    # the hour before against the data since the upgrade, looked at every 5 minutes for an
    # hour, alarms far more often than 5%; the regression rule at alpha 0.05 on the very same
    # kind of watches stays under it (test above: 12 of 400, the exact case). This is also
    # the proof that the harness can see a broken bound.
    rng = random.Random(13)
    draw = lognormal(0.5)
    count, flagged = 300, 0
    for _ in range(count):
        before = [f["latency_s"] for f in draw(rng, [0.0, 30.0] * 60, HEALTHY_ALL_ALONG)]
        after = [f["latency_s"] for f in draw(rng, [0.0, 30.0] * 60, HEALTHY_ALL_ALONG)]
        looks = range(10, len(after) + 1, 10)  # every 5 minutes of 30 s buckets
        if any(_mann_whitney_z(before, after[:end]) > 1.645 for end in looks):
            flagged += 1
    assert flagged > 2 * 0.05 * count


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
        # 12.8 min (100/100) before the reference's autocorrelation was bias-corrected and
        # its urn widened (the price of the bound under wander without margin): 16 min
        # (99/100); 14 min (100/100) once the reference's top was tested too; 15.5 min with
        # the adaptive warm-up (a wandering signal now and then looks like a fall: held).
        18 * 60,
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
    # Far above anything the hour before showed: the top component (the reference's highest
    # bucket) flags it 2 buckets after the test starts. Worse from the upgrade on, these are
    # cold starts: tested from cold_grace (5 minutes), 360 s (180 s, 2 buckets after the
    # 2-minute grace, before the cold start was held; without the top: 210 s).
    ("6x latency, lognormal sigma 0.25", lognormal(0.25, factor=6.0), {}, 30.0, 1.0, 360),
    ("4x latency, lognormal sigma 0.25", lognormal(0.25, factor=4.0), {}, 30.0, 1.0, 360),
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


# --------------------------------------------------------------------------- against the cohort


def cohort_watch(
    rule_: models.RegressionRule,
    draw: Draw,
    rng: random.Random,
    *,
    factor: float,
    every: float = BEFORE_EVERY,
    slow_from: float = 0.0,
) -> Any:
    """A canary and four baseline peers probed every ``every`` seconds for the watch after the
    canary's mark; the same draw for all (exchangeable), the canary's latency x ``factor``
    from ``slow_from`` seconds after the mark on."""
    times = [MARK + k * every for k in range(int(rule_.watch / every))]
    members = []
    for member in range(5):
        window = windows.Window(span=rule_.watch + 60.0, max_samples=100_000)
        for t, fields in zip(times, draw(rng, times, HEALTHY_ALL_ALONG), strict=True):
            if member == 0 and t >= MARK + slow_from:
                fields = {"latency_s": fields["latency_s"] * factor}
            window.insert(observations.Observation(time=t, target=TARGET, source="sim", **fields))
        members.append(window)
    return sequential.judge_cohort(
        rule_,
        members[0],
        [(f"peer-{i}", w) for i, w in enumerate(members[1:])],
        now=MARK + rule_.watch,
        cohort="canary",
        reference_at=MARK,
        floor=BEFORE_EVERY,
        state=sequential.Watch(),
    )


def test_a_canary_like_its_peers_is_flagged_at_most_alpha_of_the_time():
    # Exchangeable canary and peers, no margin: the exact case of the cohort test. 200
    # watches at alpha 0.05 allow 10 alarms; a broken bound (0.1) would show about 20.
    rng = random.Random(31)
    cohort_rule = rule(against="cohort", alpha=0.05, min_ratio=1.0)
    found = sum(
        cohort_watch(cohort_rule, lognormal(0.5), rng, factor=1.0).evidence["crossed_at"]
        is not None
        for _ in range(200)
    )
    print(f"\ncohort, exchangeable: {found} alarms in 200 watches at alpha 0.05")
    assert found <= 0.05 * 200


def test_a_canary_twice_as_slow_as_its_peers_is_caught_within_minutes():
    rng = random.Random(32)
    cohort_rule = rule(against="cohort")
    found = [
        cohort_watch(cohort_rule, lognormal(0.25), rng, factor=2.0, every=AFTER_EVERY).evidence[
            "crossed_at"
        ]
        for _ in range(50)
    ]
    detected = sorted(t - MARK for t in found if t is not None)
    median = statistics.median(detected)
    print(f"\ncohort, 2x latency: detected {len(detected)}/50, median {median:.0f}s")
    assert len(detected) == len(found)
    assert median <= 15 * 60


# Late starts against the cohort (the bets of the test from the grace, by bettors of each
# start's own): healthy 2-hour watches (ten late starts, each at alpha / 40) of an
# exchangeable canary, no margin, stay within alpha, and the late starts' alarms within their
# quarter of it; a canary that turns 2x slower 30 minutes in is caught by a late start.
COHORT_HEALTHY = [
    ("pareto shape 1.5", pareto(1.5)),
    ("lognormal sigma 0.5", lognormal(0.5)),
]


@pytest.mark.parametrize(("name", "draw"), COHORT_HEALTHY, ids=[h[0] for h in COHORT_HEALTHY])
def test_cohort_late_starts_keep_healthy_two_hour_watches_within_alpha(name, draw):
    count = 300
    loose_rule = rule(against="cohort", alpha=0.05, min_ratio=1.0, watch="2h")
    shipped_rule = rule(against="cohort", min_ratio=1.0, watch="2h")
    assert len(sequential.late_starts(loose_rule, 30.0)) == 10
    rng = random.Random(37)
    loose = late = shipped = 0
    for _ in range(count):
        # The same draws for both rules: one random state per watch.
        seed = rng.random()
        found = cohort_watch(loose_rule, draw, random.Random(seed), factor=1.0).evidence
        loose += found["crossed_at"] is not None
        late += found["fired_by"] == "late"
        again = cohort_watch(shipped_rule, draw, random.Random(seed), factor=1.0).evidence
        shipped += again["crossed_at"] is not None
    print(
        f"\ncohort {name}, 2 h: {loose} alarms at 0.05 ({late} by a late start), {shipped} at 0.001"
    )
    assert loose <= 0.05 * count
    # A quarter of alpha for the late starts: 3.75 expected at most; 8 would be a bound
    # broken twofold (Poisson tail below 1%).
    assert late <= 7
    assert shipped <= 1


def test_a_canary_twice_as_slow_from_half_an_hour_in_is_caught_by_a_late_start():
    rng = random.Random(33)
    cohort_rule = rule(against="cohort")
    found: list[float] = []
    fired: list[str] = []
    for _ in range(40):
        evidence = cohort_watch(
            cohort_rule, lognormal(0.25), rng, factor=2.0, every=AFTER_EVERY, slow_from=1800.0
        ).evidence
        if evidence["crossed_at"] is not None:
            found.append(evidence["crossed_at"] - MARK)
            fired.append(evidence["fired_by"])
    median = statistics.median(found) if found else math.inf
    print(
        f"\ncohort, 2x latency 30 min in: detected {len(found)}/40, median {median:.0f}s, "
        f"{fired.count('late')} by a late start"
    )
    assert len(found) >= 0.95 * 40
    assert median <= 1800 + 16 * 60
    assert fired.count("late") > len(fired) / 2


# --------------------------------------------------------------------------- warm-up


def shaped(
    shape: Callable[[float], float], noise: Callable[[random.Random, list[float]], list[float]]
) -> Draw:
    """Latency ``0.1 x shape(seconds since the mark) x noise`` (shape 1 before the mark, and
    for a healthy watch drawn with ``regressed=False`` a warm-up is still drawn: see below)."""

    def draw(rng: random.Random, times: list[float], bad_from: float) -> list[dict[str, Any]]:
        factors = noise(rng, times)
        return [
            {"latency_s": 0.1 * (shape(t - MARK) if t >= MARK else 1.0) * f}
            for t, f in zip(times, factors, strict=True)
        ]

    return draw


def warmup(kind: str, minutes: float, height: float) -> Callable[[float], float]:
    """A restart's warm-up: ``height`` times the normal level at the mark, back to it over
    ``minutes`` (``exp``: 95% of the way, time constant a third of it; ``linear``: all)."""
    span = minutes * 60.0
    if kind == "exp":
        return lambda dt: 1.0 + (height - 1.0) * math.exp(-3.0 * dt / span)
    return lambda dt: 1.0 + (height - 1.0) * max(0.0, 1.0 - dt / span)


def lognormal_noise(sigma: float) -> Callable[[random.Random, list[float]], list[float]]:
    return lambda rng, times: [math.exp(rng.gauss(0.0, sigma)) for _ in times]


def ar1_noise(phi: float, sigma: float) -> Callable[[random.Random, list[float]], list[float]]:
    return lambda rng, times: [math.exp(x) for x in _ar1(rng, times, phi, sigma)]


# settle_max and cold_grace at the grace: the fixed warm-up, as before either hold existed
FIXED_GRACE = {"settle_max": "2m", "cold_grace": "2m"}
NOISES = [("lognormal sigma 0.25", lognormal_noise(0.25)), ("AR(1) phi 0.8", ar1_noise(0.8, 0.2))]
# Warm-ups that the trend test tells from a step within their first minutes: they fall
# clearly from the start (exponential decays, as a JIT or a cache warms; fast linear ones).
# Measured on the whole grid (2 to 15 minutes, 2x to 5x, 100 watches a cell: docs/
# configuration.md); the slow falls from high (exp 10 min from 5x, linear 10 min from 3x)
# look like a step regression for minutes and are only partly spared (test below). Linear
# 5 min from 3x (6 of these 60 at 0.05, 10 fixed) and 10 min from 2x (4 and 4: the margin's
# limit, not the warm-up's) are above 0.05 here and 0 at 0.001.
WARMUPS = [
    ("exp", 2, 5.0),
    ("exp", 5, 5.0),
    ("exp", 10, 3.0),
    ("exp", 15, 2.0),
    ("linear", 2, 5.0),
    ("linear", 5, 2.0),
]


@pytest.mark.parametrize(
    ("kind", "minutes", "height"), WARMUPS, ids=[f"{k} {m}m from {h:g}x" for k, m, h in WARMUPS]
)
def test_healthy_warmups_are_not_rolled_back(kind, minutes, height):
    # 60 healthy watches per noise at alpha 0.05 (3 alarms allowed) with the default margin
    # (1.5x): the harder case, the presets' latency margin is 2x. The fixed grace alarms on
    # most of them (printed for comparison): every warm-up bucket above 1.5x the reference's
    # top after the 2 minutes is evidence.
    count = 60
    for noise_name, noise in NOISES:
        draw = shaped(warmup(kind, minutes, height), noise)
        adaptive, fixed = alarms(
            [rule(alpha=0.05), rule(alpha=0.05, **FIXED_GRACE)], draw, watches=count, seed=41
        )
        print(
            f"\n{kind} {minutes}m from {height:g}x, {noise_name}: {adaptive} alarms adaptive, "
            f"{fixed} with the fixed grace, of {count} at alpha 0.05"
        )
        assert adaptive <= 0.05 * count


def test_a_healthy_signal_without_warmup_stays_within_alpha_with_holds():
    # Holds are decided from the data: on a healthy signal that does not warm up, the ones
    # the noise causes must not break the bound (the exact case, no margin, as above).
    # Without a margin, 3 of the grace's 4 buckets above the reference's median happen by
    # chance (5/16): about a third of these watches are cold starts, held to cold_grace.
    count = 400
    rng = random.Random(11)
    loose_rule, shipped_rule = rule(alpha=0.05, min_ratio=1.0), rule(min_ratio=1.0)
    loose = shipped = cold = cold_alarms = 0
    for _ in range(count):
        window = window_of(lognormal(0.5), rng, before=3600.0, watch=3600.0, regressed=False)
        found = judged(loose_rule, window).evidence
        crossed = found["crossed_at"] is not None
        loose += crossed
        cold += found["cold_start"]
        cold_alarms += crossed and found["cold_start"]
        shipped += judged(shipped_rule, window).evidence["crossed_at"] is not None
    print(f"\nno warm-up, no margin: {loose} alarms at 0.05 ({cold_alarms} of {cold} cold starts)")
    assert loose <= 0.05 * count
    assert shipped <= 1
    assert cold >= 0.2 * count  # the cold holds are exercised, and keep the bound too
    assert cold_alarms <= 0.05 * cold


# (name, shape after the mark, noise, limit on the median delay with the warm-up holds, most
# they may add to the fixed grace's median, in seconds). A regression already there during
# the grace is a cold start: tested from cold_grace, 3 minutes after the 2-minute grace.
SHAPED_REGRESSIONS = [
    ("step 3x", lambda dt: 3.0, lognormal_noise(0.25), 420, 180),
    ("step 6x", lambda dt: 6.0, lognormal_noise(0.25), 360, 180),
    ("step 3x on AR(1) phi 0.7", lambda dt: 3.0, ar1_noise(0.7, 0.2), 20 * 60, 6 * 60),
    (
        "rising from 1x to 4x over 10 min",
        lambda dt: 1.0 + 3.0 * min(1.0, dt / 600.0),
        lognormal_noise(0.25),
        9 * 60,
        0,
    ),
    # A restart spike that settles at a worse level: held while it falls, then tested
    # afresh; the fixed grace fires during the fall (on the spike, not on the new level).
    (
        "partial recovery 6x to 3x (exp, 5 min)",
        lambda dt: 3.0 + 3.0 * math.exp(-3.0 * dt / 300.0),
        lognormal_noise(0.25),
        10 * 60,
        6 * 60,
    ),
]


# Slow warm-ups from high, the ones the adaptive warm-up alone rolled back (in their first
# minutes a step regression to any test): (kind, minutes, height, most rolled back of 60
# at the shipped 0.001 with the cold start; measured 0, 1, 0, 6; with the adaptive warm-up
# alone 10, 39, 21, 53, and 23 of 100 for exp 10 min from 5x before the cold start).
SLOW_WARMUPS = [
    ("exp", 10, 5.0, 1),
    ("exp", 15, 5.0, 3),
    ("linear", 10, 3.0, 1),
    ("linear", 10, 5.0, 9),
]


@pytest.mark.parametrize(
    ("kind", "minutes", "height", "most"),
    SLOW_WARMUPS,
    ids=[f"{k} {m}m from {h:g}x" for k, m, h, _ in SLOW_WARMUPS],
)
def test_slow_warmups_from_high_are_spared_by_the_cold_start(kind, minutes, height, most):
    # Worse than the margin during the grace: a cold start, not judged before cold_grace (5
    # minutes), when the fall is clear to the trend or the level is back under the margin.
    # Not within alpha for the slowest (linear over 15 minutes from 4x stays above 1.5x the
    # reference's top past 10 minutes: a step regression to any test, docs/configuration.md).
    count = 60
    draw = shaped(warmup(kind, minutes, height), lognormal_noise(0.25))
    held, adaptive_only, fixed = alarms(
        [rule(), rule(cold_grace="2m"), rule(**FIXED_GRACE)], draw, watches=count, seed=41
    )
    print(
        f"\n{kind} {minutes}m from {height:g}x: {held} with the cold start, {adaptive_only} "
        f"adaptive alone, {fixed} fixed grace, of {count}"
    )
    assert held <= most
    assert held < adaptive_only <= fixed


@pytest.mark.parametrize("case", SHAPED_REGRESSIONS, ids=[r[0] for r in SHAPED_REGRESSIONS])
def test_regressions_are_not_delayed_by_the_adaptive_warmup(case):
    name, shape, noise, limit, extra = case
    draw = shaped(shape, noise)
    medians = []
    for fields in ({}, FIXED_GRACE):
        found = delays(rule(**fields), draw, watches=40, seed=43)
        detected = sorted(d for d in found if d is not None)
        assert len(detected) >= 0.95 * len(found)
        medians.append(statistics.median(detected))
    print(f"\n{name}: median delay {medians[0]:.0f}s adaptive, {medians[1]:.0f}s fixed grace")
    assert medians[0] <= limit
    assert medians[0] <= medians[1] + extra


# --------------------------------------------------------------------------- late starts

# Healthy watches of two hours (ten late starts, each at alpha / 40) on heavy tails and on a
# daily cycle with wander: the whole rule (the test from the start at 3/4 of alpha, the late
# ones at the rest) stays within alpha, and the late starts' own alarms within their share.
LONG_HEALTHY = [
    ("pareto shape 1.5, no margin", pareto(1.5), {"min_ratio": 1.0}),
    ("lognormal sigma 0.5, no margin", lognormal(0.5), {"min_ratio": 1.0}),
    ("AR(1) phi 0.9 sigma 0.2 + daily cycle +-30%", ar1_daily(0.9, 0.2, 0.3), {}),
    ("bursty 2% errors", bursty_errors(0.02, stay=0.9), {**RATIO, "min_delta": 0.02}),
]


@pytest.mark.parametrize(("name", "draw", "fields"), LONG_HEALTHY, ids=[h[0] for h in LONG_HEALTHY])
def test_late_starts_keep_healthy_two_hour_watches_within_alpha(name, draw, fields):
    count = 300
    loose_rule = rule(alpha=0.05, watch="2h", **fields)
    shipped_rule = rule(watch="2h", **fields)
    assert len(sequential.late_starts(loose_rule, 30.0)) == 10
    rng = random.Random(17)
    loose = late = shipped = 0
    for _ in range(count):
        window = window_of(draw, rng, before=3600.0, watch=7200.0, regressed=False)
        found = judged(loose_rule, window).evidence
        loose += found["crossed_at"] is not None
        late += found["fired_by"] == "late"
        shipped += judged(shipped_rule, window).evidence["crossed_at"] is not None
    print(f"\n{name}, 2 h: {loose} alarms at 0.05 ({late} by a late start), {shipped} at 0.001")
    assert loose <= 0.05 * count
    # The late starts' share of alpha is a quarter: 3.75 expected at most; 8 would be a
    # bound broken twofold (Poisson tail below 1%).
    assert late <= 7
    assert shipped <= 1


def _late_step(factor: float, at: float) -> Callable[[float], float]:
    return lambda dt: factor if dt >= at else 1.0


def _ramp(top: float, minutes: float) -> Callable[[float], float]:
    return lambda dt: 1.0 + (top - 1.0) * min(1.0, dt / (minutes * 60.0))


# (name, shape after the mark, limit on the median delay from the mark, least share caught,
# which test must have fired in most watches). Measured before and after the late starts:
# docs/configuration.md (the steps from the mark are the test from the start's: slower by
# at most a bucket, its bar is 1/(0.75 alpha) instead of 1/alpha).
LATE_REGRESSIONS = [
    # from the mark, worse during the grace: cold starts, tested from cold_grace (5 min)
    # 750 -> 780 s; 885 s since round 10's two-state chain: a step of exactly the margin (x2)
    # on lognormal buckets, whose reference now and then exceeds x2 its quantile twice in a
    # row by chance, which makes that component a chain (less power at the margin itself)
    ("step 2x from the mark", _late_step(2.0, 0.0), 15 * 60, 1.0, "start"),
    ("step 3x from the mark", _late_step(3.0, 0.0), 420, 1.0, "start"),  # 420 -> 420 s
    ("step 4x from the mark", _late_step(4.0, 0.0), 360, 1.0, "start"),  # 360 -> 360 s
    ("step 6x from the mark", _late_step(6.0, 0.0), 360, 1.0, "start"),  # 360 -> 360 s
    ("ramp 1x to 3x over 10 min", _ramp(3.0, 10.0), 11 * 60, 1.0, "start"),  # 600 -> 600 s
    ("ramp 1x to 3x over 20 min", _ramp(3.0, 20.0), 20 * 60, 1.0, "start"),  # 1080 -> 1095 s
    # 30 minutes after the mark: 1 of 40 caught (at 3,390 s) before the late starts, 38 with
    # them; 33 since round 10's two-state chain (the same cost at the margin as above)
    ("step 2x 30 min after the mark", _late_step(2.0, 1800.0), 1800 + 16 * 60, 0.8, "late"),
    # 2,310 s before
    ("step 3x 30 min after the mark", _late_step(3.0, 1800.0), 1800 + 8 * 60, 1.0, "late"),
    # 32 of 40 caught, at 3,330 s, before
    (
        "ramp 1x to 3x over 20 min from 30 min after the mark",
        lambda dt: 1.0 + 2.0 * min(1.0, max(0.0, dt - 1800.0) / 1200.0),
        1800 + 20 * 60,
        0.95,
        "late",
    ),
]


@pytest.mark.parametrize("case", LATE_REGRESSIONS, ids=[r[0] for r in LATE_REGRESSIONS])
def test_regressions_from_the_mark_and_late_ones_are_caught(case):
    name, shape, limit, share, by = case
    draw = shaped(shape, lognormal_noise(0.25))
    rng = random.Random(47)
    rule_ = rule()
    found: list[float] = []
    fired: list[str] = []
    for _ in range(40):
        window = window_of(draw, rng, before=3600.0, watch=3600.0, regressed=True)
        evidence = judged(rule_, window).evidence
        if evidence["crossed_at"] is not None:
            found.append(evidence["crossed_at"] - MARK)
            fired.append(evidence["fired_by"])
    median = statistics.median(found) if found else math.inf
    print(
        f"\n{name}: detected {len(found)}/40, median delay {median:.0f}s, "
        f"{fired.count('late')} by a late start"
    )
    assert len(found) >= share * 40
    assert median <= limit
    assert fired.count(by) > len(fired) / 2


# --------------------------------------------------------------------------- tiers

# A rule with a slow tier (``slow``): the fast tier at the rule's margin, the slow one at a
# smaller margin on an eighth of alpha. Healthy watches on heavy tails, a
# daily cycle with wander and bursty errors, one and two hours long: the whole rule stays
# within alpha, and the slow tier's own alarms within its quarter. The slow margins here
# are smaller than the presets' (x1.2, not x1.4): the harder case for the bound.
FAST_LATENCY = {"min_ratio": 2.0}
TIERED_LATENCY = {"min_ratio": 2.0, "slow": {"min_ratio": 1.2}}
TIER_HEALTHY = [
    ("lognormal sigma 0.5", lognormal(0.5), TIERED_LATENCY),
    ("pareto shape 1.5 (infinite variance)", pareto(1.5), TIERED_LATENCY),
    ("AR(1) phi 0.9 sigma 0.2 + daily cycle +-30%", ar1_daily(0.9, 0.2, 0.3), TIERED_LATENCY),
    (
        "bursty 2% errors",
        bursty_errors(0.02, stay=0.9),
        {
            **RATIO,
            "min_ratio": 3.0,
            "min_delta": 0.02,
            "slow": {"min_ratio": 1.5, "min_delta": 0.01},
        },
    ),
]


@pytest.mark.parametrize(("name", "draw", "fields"), TIER_HEALTHY, ids=[h[0] for h in TIER_HEALTHY])
@pytest.mark.parametrize("watch", ["1h", "2h"])
def test_a_slow_tier_keeps_healthy_watches_within_alpha(name, draw, fields, watch):
    count = 500
    loose_rule = rule(alpha=0.05, watch=watch, **fields)
    shipped_rule = rule(watch=watch, **fields)
    rng = random.Random(53)
    loose = slow = shipped = 0
    seconds = loose_rule.watch
    for _ in range(count):
        window = window_of(draw, rng, before=3600.0, watch=seconds, regressed=False)
        found = judged(loose_rule, window).evidence
        loose += found["crossed_at"] is not None
        slow += found["tiers"][1]["breached"]
        shipped += judged(shipped_rule, window).evidence["crossed_at"] is not None
    print(
        f"\n{name}, {watch}: {loose} alarms at 0.05 ({slow} by the slow tier), {shipped} at 0.001"
    )
    assert loose <= 0.05 * count
    # The slow tier's share is an eighth: 3.1 alarms expected at most; 8 or more would be a
    # bound broken (Poisson tail 1.5%).
    assert slow <= 7
    assert shipped <= 1


def test_a_slow_tier_keeps_strong_wander_within_alpha():
    # AR(1) log-latency sigma 0.3 correlated over ~5 minutes on a daily cycle: an hour's
    # p99 moves by 2x on its own (see WANDER). With a slow tier at x1.2 the whole rule (both
    # tiers, their late starts too) at 0.05 and 0.01 stays within them.
    count, levels = 1000, (0.05, 0.01)
    rng = random.Random(59)
    draw = ar1_daily(0.9, 0.3, 0.3)
    rules_ = [rule(alpha=alpha, **TIERED_LATENCY) for alpha in levels]
    found = [0] * len(levels)
    for _ in range(count):
        window = window_of(draw, rng, before=3600.0, watch=3600.0, regressed=False)
        for i, rule_ in enumerate(rules_):
            found[i] += judged(rule_, window).evidence["crossed_at"] is not None
    print(f"\nAR(1) phi 0.9 sigma 0.3, slow tier x1.2: alarms at {levels}: {found} of {count}")
    for alpha, flagged in zip(levels, found, strict=True):
        assert flagged <= alpha * count


def error_ratio(base: float, extra: float, *, requests: float = 8400.0) -> Draw:
    """A request error ratio scraped from metrics (a share of ``requests`` a minute, with its
    binomial noise): ``base``, plus ``extra`` from the regression on."""

    def draw(rng: random.Random, times: list[float], bad_from: float) -> list[dict[str, Any]]:
        out = []
        for t in times:
            p = base + (extra if t >= bad_from else 0.0)
            noisy = p + math.sqrt(p * (1 - p) / requests) * rng.gauss(0.0, 1.0)
            out.append({"value": max(0.0, noisy)})
        return out

    return draw


# The presets' request error ratio rule (web-service: bucket medians, no top) without and
# with its slow tier (x2 and +0.5 points).
ERRORS = {
    "field": "value",
    "quantiles": [0.5, 0.9],
    "top": False,
    "min_ratio": 3.0,
    "min_delta": 0.01,
}
ERRORS_TIERED = {**ERRORS, "slow": {"min_ratio": 2.0, "min_delta": 0.005}}

# (name, draw, the rule without and with its slow tier, the share of watches the tiered rule
# must catch and the limit on its median delay in seconds; None: not a regression worth a
# rollback at the slow margin, caught rarely if ever). Latency: lognormal sigma 0.25, the
# fast margin x2, the slow x1.4 (the presets'); the slow tier at x1.2 is printed too.
# Errors: 0.1% of 140 requests/s before the mark, fast +1 point, slow +0.5 (web-service's).
PRESET_TIERED = {"min_ratio": 2.0, "slow": {"min_ratio": 1.4}}
TIER_REGRESSIONS = [
    ("1.3x latency", lognormal(0.25, factor=1.3), FAST_LATENCY, PRESET_TIERED, None, None),
    ("1.5x latency", lognormal(0.25, factor=1.5), FAST_LATENCY, PRESET_TIERED, None, None),
    ("2x latency", lognormal(0.25, factor=2.0), FAST_LATENCY, PRESET_TIERED, 0.95, 15 * 60),
    ("3x latency", lognormal(0.25, factor=3.0), FAST_LATENCY, PRESET_TIERED, 1.0, 12 * 60),
    ("+0.5 points of errors", error_ratio(0.001, 0.005), ERRORS, ERRORS_TIERED, None, None),
    ("+1 point of errors", error_ratio(0.001, 0.01), ERRORS, ERRORS_TIERED, 0.95, 15 * 60),
    ("+2 points of errors", error_ratio(0.001, 0.02), ERRORS, ERRORS_TIERED, 1.0, 8 * 60),
]


@pytest.mark.parametrize("case", TIER_REGRESSIONS, ids=[r[0] for r in TIER_REGRESSIONS])
def test_a_slow_tier_catches_smaller_regressions(case):
    name, draw, fast_fields, tiered_fields, share, limit = case
    watches = 40
    figures = []
    runs = [fast_fields, tiered_fields]
    if tiered_fields is PRESET_TIERED:
        runs.append(TIERED_LATENCY)  # x1.2: printed, what a smaller floor buys
    for fields in runs:
        found = delays(rule(**fields), draw, watches=watches, seed=61)
        detected = sorted(d for d in found if d is not None)
        figures.append((len(detected), statistics.median(detected) if detected else math.inf))
    (fast_n, fast_median), (tiered_n, tiered_median) = figures[:2]
    extra = (
        f"; slow tier at x1.2 {figures[2][0]}/{watches} (median {figures[2][1]:.0f}s)"
        if len(figures) > 2
        else ""
    )
    print(
        f"\n{name}: fast tier alone {fast_n}/{watches} (median {fast_median:.0f}s), "
        f"with the slow tier {tiered_n}/{watches} (median {tiered_median:.0f}s){extra}"
    )
    # The slow tier only adds a test: it never loses a detection, and its fast tier keeps
    # the test from the start's alpha (a large step is flagged as fast as before).
    assert tiered_n >= fast_n
    assert tiered_median <= fast_median
    if share is not None:
        assert tiered_n >= share * watches
        assert tiered_median <= limit


# --------------------------------------------------------------------------- early start

# The early start (module notes of sequential, "Early start"): the reference's highest
# bucket alone, from halfway through the grace to two buckets after it, at alpha x
# EARLY_SHARE. Judged here on its own: which healthy watches it flags (``fired_by: early``,
# it crossed before any other test). At alpha 0.4 its bar is 1 / 0.06 = 16.7, which a single
# bucket above the reference's highest reaches (x120): the test at its most exposed, where
# its share of alpha is the whole of what stops it. Short watches (10 minutes): it ends 3
# minutes after the upgrade.
EARLY_HEALTHY = [
    ("lognormal sigma 0.5, no margin", lognormal(0.5), {"min_ratio": 1.0}),
    ("pareto shape 1.1, no margin", pareto(1.1), {"min_ratio": 1.0}),
    ("pareto shape 1.5", pareto(1.5), {}),
    ("AR(1) phi 0.9 + daily cycle +-30%", ar1_daily(0.9, 0.2, 0.3), {}),
    ("AR(1) phi 0.9 + daily cycle +-30%, no margin", ar1_daily(0.9, 0.2, 0.3), {"min_ratio": 1.0}),
    # A rule with a slow tier: its fast tier keeps the early start at the same share of the
    # rule's alpha (paid from the fast tier's own), judged here alone.
    ("pareto shape 1.1, the fast tier of a tiered rule", pareto(1.1), {"slow": {"min_ratio": 1.2}}),
]


@pytest.mark.parametrize(
    ("name", "draw", "fields"), EARLY_HEALTHY, ids=[h[0] for h in EARLY_HEALTHY]
)
def test_the_early_start_flags_healthy_watches_at_most_its_share_of_alpha(name, draw, fields):
    count = 1500
    loose = sequential.tiers(rule(alpha=0.4, watch="10m", **fields))[0]  # the fast tier
    shipped = sequential.tiers(rule(watch="10m", **fields))[0]
    assert sequential.early_start(loose, 10.0) is not None
    rng = random.Random(41)
    ran = early = early_shipped = 0
    for _ in range(count):
        window = window_of(
            draw,
            rng,
            before=loose.before,
            watch=loose.watch,
            regressed=False,
            before_every=AFTER_EVERY,  # buckets alike on both sides: the exact null
        )
        ev = judged(loose, window).evidence
        ran += ev["early_ran"] is True
        early += ev["fired_by"] == "early"
        early_shipped += judged(shipped, window).evidence["fired_by"] == "early"
    bound = 0.4 * sequential.EARLY_SHARE  # of the rule's alpha, tiered or not
    print(f"\n{name}: early start ran on {ran}, flagged {early} of {count} (bound {bound:g})")
    assert ran >= 0.2 * count  # exercised: the grace's first minute was calm that often
    assert early <= bound * count
    assert early_shipped == 0  # at 0.001 its bar is 6,667: two buckets above the top


def _step_at(draw: Draw, offset: float) -> Draw:
    """``draw``, its regression beginning ``offset`` seconds after the mark."""

    def shifted(rng: random.Random, times: list[float], bad_from: float) -> list[dict[str, Any]]:
        return draw(rng, times, bad_from + offset)

    return shifted


# (name, draw, median delay from the step's onset at most, the test that flags most, None:
# no single one).
EARLY_STEPS = [
    # Steps halfway through the grace: flagged two buckets after their onset, at the grace's
    # end (60 s; 120 s, two buckets after the grace, without the early start).
    ("4x at up+60, lognormal sigma 0.25", _step_at(lognormal(0.25, 4.0), 60.0), 60.0, "early"),
    # Heavier tails: the hour's highest bucket is ~3.7x its median, so 6x is only ~1.6x the
    # highest, barely over the margin (x1.5): two buckets in a row clear it about a third of
    # the time, and the grace's first minute is not calm in about a fifth. The early start
    # flags some, the test from the grace the rest (measured: median 120 s after the onset).
    ("6x at up+60, lognormal sigma 0.5", _step_at(lognormal(0.5, 6.0), 60.0), 120.0, None),
    # Not asserted: under wander (AR(1) phi 0.7 between 30 s buckets) the reference's buckets
    # are worth a fifth of independent ones (``effective_size``), two buckets above its
    # highest are worth ~200, not 6,581, and neither the early start nor the test from the
    # grace flags a 6x step within minutes (measured: median 660 s after its onset).
    # A step at the grace's end meets two healthy buckets in the early start's test: the test
    # from the grace flags it, as before (60 s).
    ("4x at up+120, lognormal sigma 0.25", _step_at(lognormal(0.25, 4.0), 120.0), 60.0, "start"),
]


@pytest.mark.parametrize("case", EARLY_STEPS, ids=[r[0] for r in EARLY_STEPS])
def test_a_large_step_halfway_through_the_grace_is_flagged_at_its_end(case):
    name, draw, limit, by = case
    rule_ = rule(grace="2m", watch="30m")
    rng = random.Random(43)
    found, fired = [], []
    for _ in range(60):
        window = window_of(draw, rng, before=rule_.before, watch=rule_.watch, regressed=True)
        ev = judged(rule_, window).evidence
        if ev["crossed_at"] is not None:
            found.append(ev["crossed_at"] - MARK)
            fired.append(ev["fired_by"])
    onset = 60.0 if "up+60" in name else 120.0
    median = statistics.median(found) - onset
    print(f"\n{name}: detected {len(found)}/60, median {median:.0f}s after the onset, {fired[:5]}")
    assert len(found) >= 57
    assert median <= limit
    if by is not None:
        assert fired.count(by) > len(fired) / 2
    else:
        assert "early" in fired
