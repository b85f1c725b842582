"""The ``ceiling`` rule kind (``rollsafe.judge.ceiling``): latency far above the hour before's
worst, sustained, at any time after the upgrade; the day before raises the bar.

Unit cases on hand-made series, the engine on a config that uses the kind, and a seeded
simulation: healthy 24-hour watches after a night upgrade (a daily cycle of a queue's
latency, 1 / (1 - utilisation), under heavy-tailed noise) and the same watches with a
regression that shows only at the day's peak hours, 3 to 6 hours after the upgrade.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable

import pytest
from ceiling_helpers import first_breach
from judge_helpers import CRITICAL, OK, TARGET, config, decision, feed, obs, upgrade

from rollsafe.config import models
from rollsafe.config.presets import catalog, expanding
from rollsafe.domain import observations
from rollsafe.judge import ceiling, daily, engine

UP = 1_000_000.0 * 0.9  # an upgrade mark (a multiple of the profile's 15-minute blocks)
EVERY = 100.0  # one value every 100 s: three per 5-minute bucket


def _rule(**extra: object) -> models.CeilingRule:
    data: dict[str, object] = {"id": "far", "kind": "ceiling", "probe": "p", "max_increase": 3}
    data.update(extra)
    return models.CeilingRule.model_validate(data)


def _obs(t: float, x: float) -> observations.Observation:
    return observations.Observation(time=t, target=TARGET, source="p", value=x)


def _series(
    f: Callable[[float], float], start: float, end: float
) -> list[observations.Observation]:
    return [_obs(t, f(t)) for t in _times(start, end)]


def _times(start: float, end: float) -> list[float]:
    n = math.ceil((end - start) / EVERY)
    return [start + i * EVERY for i in range(n)]


def test_step_far_above_the_reference_hours_later_breaches_after_for() -> None:
    rule = _rule()
    reference = _series(lambda t: 0.04, UP - 3600, UP)
    onset = UP + 5 * 3600
    after = _series(lambda t: 0.45 if t >= onset else 0.04, UP, UP + 8 * 3600)
    fired = first_breach(rule, reference, after, UP)
    assert fired is not None
    # Three whole 5-minute buckets over the bar: 15 minutes, plus at most one bucket's alignment.
    assert 900 <= fired - onset <= 1200


def test_a_healthy_peak_under_max_increase_times_the_worst_does_not_breach() -> None:
    rule = _rule()
    reference = _series(lambda t: 0.20, UP - 3600, UP)
    after = _series(lambda t: 0.20 + 0.39 * (t >= UP + 4 * 3600), UP, UP + 12 * 3600)
    assert first_breach(rule, reference, after, UP) is None  # 0.59 < 3 x 0.20


def test_the_bar_is_the_reference_s_worst_bucket_not_its_typical_value() -> None:
    rule = _rule()
    # A slow quarter of an hour before the upgrade (0.2): the bar is 0.6, not 3 x 0.04.
    reference = _series(lambda t: 0.2 if t >= UP - 900 else 0.04, UP - 3600, UP)
    after = _series(lambda t: 0.5 if t >= UP + 3 * 3600 else 0.04, UP, UP + 6 * 3600)
    assert first_breach(rule, reference, after, UP) is None
    after = _series(lambda t: 0.7 if t >= UP + 3 * 3600 else 0.04, UP, UP + 6 * 3600)
    assert first_breach(rule, reference, after, UP) is not None


def test_one_bucket_under_the_bar_in_the_last_for_clears_it() -> None:
    rule = _rule()
    reference = _series(lambda t: 0.04, UP - 3600, UP)
    onset = UP + 3 * 3600

    def bursts(t: float) -> float:  # 10 minutes slow, 5 minutes fast, again and again
        return 0.5 if t >= onset and (t - onset) % 900 < 600 else 0.04

    assert first_breach(rule, reference, _series(bursts, UP, UP + 8 * 3600), UP) is None


def test_min_delta_is_required_too() -> None:
    rule = _rule(min_delta=0.05)
    reference = _series(lambda t: 0.005, UP - 3600, UP)
    after = _series(lambda t: 0.03 if t >= UP + 3600 else 0.005, UP, UP + 4 * 3600)
    assert first_breach(rule, reference, after, UP) is None  # x6, but only 25 ms above


def test_too_few_values_before_the_upgrade_is_no_reading() -> None:
    rule = _rule()
    reading = ceiling.read(
        rule,
        reference=_series(lambda t: 0.04, UP - 600, UP),  # 2 of 12 buckets
        reference_end=UP,
        recent=_series(lambda t: 1.0, UP + 3600, UP + 7200),
        start=UP + rule.grace,
        now=UP + 7200,
        profile=None,
    )
    assert reading.worst is None
    assert not reading.breached
    assert reading.reason == "too few values before the upgrade"


def _day_profile(f: Callable[[float], float]) -> daily.Profile:
    profile = daily.Profile("value")
    for o in _series(f, UP - daily.DAY - 2 * 3600, UP):
        profile.add(o)
    return profile


def test_the_day_before_raises_the_bar_to_its_own_peak_at_those_hours() -> None:
    rule = _rule()

    def cycle(t: float) -> float:  # night 0.1, 5 to 9 hours after the upgrade's hour: 0.4
        return 0.4 if 5 * 3600 <= (t - UP) % daily.DAY < 9 * 3600 else 0.1

    reference = _series(cycle, UP - 3600, UP)
    after = _series(cycle, UP, UP + 12 * 3600)
    # Without a day of history the healthy peak (x4 the night) is taken for a regression ...
    assert first_breach(rule, reference, after, UP) is not None
    # ... with it the bar is 3 x 0.4 at those hours: the same peak the day before is healthy.
    assert first_breach(rule, reference, after, UP, _day_profile(cycle)) is None
    # and a regression on top of that peak (x4 of it) is still flagged.
    slow = _series(lambda t: cycle(t) * (4.0 if t >= UP + 5 * 3600 else 1.0), UP, UP + 12 * 3600)
    fired = first_breach(rule, reference, slow, UP, _day_profile(cycle))
    assert fired is not None
    assert fired - (UP + 5 * 3600) <= 1200


def test_a_profile_without_the_day_before_says_so_and_changes_nothing() -> None:
    rule = _rule()
    profile = daily.Profile("value")
    for o in _series(lambda t: 0.04, UP - 3600, UP + 3600):  # two hours only
        profile.add(o)
    assert ceiling.day_bar(rule, profile, UP + 3600) is None
    reference = _series(lambda t: 0.04, UP - 3600, UP)
    after = _series(lambda t: 0.45 if t >= UP + 5 * 3600 else 0.04, UP, UP + 8 * 3600)
    assert first_breach(rule, reference, after, UP, profile) == first_breach(
        rule, reference, after, UP
    )


def test_config_rejects_a_for_shorter_than_a_bucket() -> None:
    with pytest.raises(ValueError, match="at least one bucket"):
        _rule(**{"for": "1m", "bucket": "5m"})


# --------------------------------------------------------------------------- the engine


def _engine_config() -> models.RollsafeConfig:
    rule = {
        "id": "latency-far-above",
        "kind": "ceiling",
        "severity": "critical",
        "probe": "http",
        "field": "latency",
        "max_increase": 3,
        "min_delta": 0.05,
    }
    return config(rule)


def _health(t: float, latency: float) -> observations.Observation:
    return obs(t, 1.0, source="http", status=200, latency=latency)


def _severities(latency: Callable[[float], float], hours: float) -> list[tuple[float, str]]:
    """The rule's severity every 5 minutes of a replay through the engine (full path),
    fed as a daemon would be: each value before the judgement that follows it."""
    judge = feed(_engine_config(), [], marks=[upgrade(UP)])
    out = []
    for i, t in enumerate(_times(UP - 2 * 3600, UP + hours * 3600)):
        judge.observe(_health(t, latency(t)))
        if t >= UP and i % 3 == 0:
            out.append((t, decision(judge, "latency-far-above", now=t).severity.name))
    return out


def test_engine_rolls_back_a_late_latency_step_and_not_a_healthy_day() -> None:
    onset = UP + 5 * 3600
    faulty = _severities(lambda t: 0.45 if t >= onset else 0.04, 7)
    first = next(t for t, s in faulty if s == CRITICAL.name)
    assert 900 <= first - onset <= 1200
    judge = feed(
        _engine_config(),
        [_health(t, 0.45 if t >= onset else 0.04) for t in _times(UP - 2 * 3600, first)],
        marks=[upgrade(UP)],
    )
    got = decision(judge, "latency-far-above", now=first)
    assert "no day before" in got.summary
    assert got.evidence["bar"] == pytest.approx(0.12)
    healthy = _severities(lambda t: 0.04 + 0.03 * (t >= onset), 7)
    assert all(s == OK.name for _, s in healthy)


def test_the_replay_s_fast_path_decides_as_the_full_path() -> None:
    # ``engine.replay`` judges through ``rules.decide`` (the severity and until when it
    # holds); the daemon's path (``evaluate``) above. Both flag the same bucket's close.
    onset = UP + 5 * 3600
    items = [_health(t, 0.45 if t >= onset else 0.04) for t in _times(UP - 2 * 3600, UP + 7 * 3600)]
    decisions = engine.replay(_engine_config(), items, [upgrade(UP)])
    critical = [
        d.time for d in decisions if d.rule == "latency-far-above" and d.severity == CRITICAL
    ]
    full = _severities(lambda t: 0.45 if t >= onset else 0.04, 7)
    first_full = next(t for t, s in full if s == CRITICAL.name)
    assert critical
    # the fast path sees every value; the full path above is asked every third one (300 s)
    assert first_full - 300 < critical[0] <= first_full


# --------------------------------------------------------------------------- simulation


def _watch(
    rng: random.Random,
    *,
    peak_load: float,
    slower: float,
    history: bool,
    rule: models.CeilingRule | None = None,
) -> tuple[float | None, float]:
    """One 24-hour watch after a night upgrade; returns (first breach, regression onset).

    Load follows a daily cycle from 0.1 at night to ``peak_load`` (a random peak hour 6 to
    10 hours after the upgrade, a random width); latency is 40 ms times the queue's factor
    ``(1 - 0.1) / (1 - load)`` times heavy-tailed noise (lognormal sigma 0.3, and one value
    in 50 a Pareto(1.5) outlier up to 30 times). ``slower`` > 1 multiplies latency while
    the load is above 80% of its peak's excess (the peak hours, 3 to 6 hours in at the
    earliest). ``history``: the host also has the day before (same cycle, new noise).
    ``rule``: the rule judged (latency-far-above's shape when None).
    """
    peak_at = rng.uniform(6.0, 10.0) * 3600
    width = rng.uniform(2.0, 4.0) * 3600

    def load(t: float) -> float:
        x = ((t - UP - peak_at + daily.DAY / 2) % daily.DAY) - daily.DAY / 2
        return 0.1 + (peak_load - 0.1) * math.exp(-0.5 * (x / width) ** 2)

    busy = 0.1 + 0.8 * (peak_load - 0.1)
    onset = next(t for t in _times(UP, UP + daily.DAY) if load(t) >= busy)

    def value(t: float, regression: bool) -> float:
        noise = math.exp(rng.gauss(0.0, 0.3))
        if rng.random() < 0.02:
            noise *= min(30.0, rng.paretovariate(1.5))
        bad = slower if regression and t >= onset and load(t) >= busy else 1.0
        return 0.04 * (0.9 / (1.0 - load(t))) * noise * bad

    profile = None
    if history:
        profile = daily.Profile("value")
        for t in _times(UP - daily.DAY - 2 * 3600, UP - 3600):
            profile.add(_obs(t, value(t, False)))
    reference = [_obs(t, value(t, False)) for t in _times(UP - 3600, UP)]
    if profile is not None:
        for o in reference:
            profile.add(o)
    after = [_obs(t, value(t, True)) for t in _times(UP, UP + daily.DAY - 3600)]
    judged = rule or _rule(min_delta=0.05)
    return first_breach(judged, reference, after, UP, profile), onset


def _alarms(
    seed: int,
    n: int,
    *,
    peak_load: tuple[float, float],
    history: bool,
    rule: models.CeilingRule | None = None,
) -> int:
    rng = random.Random(seed)
    flagged = 0
    for _ in range(n):
        load = rng.uniform(*peak_load)
        fired, _onset = _watch(rng, peak_load=load, slower=1.0, history=history, rule=rule)
        flagged += fired is not None
    return flagged


@pytest.mark.slow
def test_simulated_healthy_days_of_a_queue_up_to_60_percent_are_not_flagged() -> None:
    # 2,000 healthy 24-hour watches, peak utilisation 30-60% (the queue's latency at the
    # peak 1.75 to 2.25 times the night's), heavy tails: no alarm (a rate under 0.001 would
    # allow 2). Printed with ``pytest -s``.
    alarms = _alarms(13, 2000, peak_load=(0.3, 0.6), history=False)
    print(f"ceiling: healthy watches, peak 30-60%, no day before: {alarms}/2000 flagged")
    assert alarms <= 2


@pytest.mark.slow
def test_simulated_hot_peaks_need_the_day_before() -> None:
    # A host run hot at its peak (utilisation 75-85%: latency x3.6 to x6 the night's) is
    # flagged without a day of history: the limit of the hour before, stated, not hidden.
    # With the day before (same cycle, fresh noise) the bar follows the peak: no alarm.
    without = _alarms(17, 300, peak_load=(0.75, 0.85), history=False)
    with_day = _alarms(17, 300, peak_load=(0.75, 0.85), history=True)
    print(f"ceiling: hot peaks 75-85%: {without}/300 flagged without the day, {with_day}/300 with")
    assert without >= 200
    assert with_day == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("slower", "history", "limit"),
    # Measured: x4 without the day before 199/200, median 1,000 s; with it 197/200, 2,300 s
    # (the day's bar is 3 times the worst quarter hour within an hour of the same time: on
    # the climb to the peak that is the hour ahead's level); x6 with it 200/200, 900 s.
    [(4.0, False, 1500.0), (4.0, True, 2700.0), (6.0, True, 1500.0)],
)
def test_simulated_peak_only_regressions_are_flagged(
    slower: float, history: bool, limit: float
) -> None:
    rng = random.Random(int(slower * 10) + history)
    delays: list[float] = []
    for _ in range(200):
        fired, onset = _watch(rng, peak_load=rng.uniform(0.3, 0.6), slower=slower, history=history)
        if fired is not None and fired >= onset:
            delays.append(fired - onset)
    median = statistics.median(delays) if delays else math.inf
    print(
        f"ceiling: x{slower} at the peak, history {history}: "
        f"{len(delays)}/200, median {median:.0f} s"
    )
    assert len(delays) >= 190
    assert median <= limit


# ------------------------------------ the shipped ceilings of round 13's second wave (lat2)


def _shipped(preset: str, rule_id: str) -> models.CeilingRule:
    """The preset's rule as it ships (its parameters' defaults), reading ``value``."""
    use = models.PresetUse(
        preset=preset, signals={s: f"p-{s}" for s in catalog.get(preset).signals}
    )
    kinds = {f"p-{n}": (s.kinds or ("promql",))[0] for n, s in catalog.get(preset).signals.items()}
    rules, _ = expanding.expand(use, index=0, probes=kinds, taken=set())
    (rule,) = [r for r in rules if r.id == f"{preset}.{rule_id}"]
    assert isinstance(rule, models.CeilingRule)
    return rule.model_copy(update={"field": "value"})


def _wavy(level: float) -> Callable[[float], float]:
    """A level with a deterministic wobble of +-5% (a 7-minute wave)."""
    return lambda t: level * (1.0 + 0.05 * math.sin(2 * math.pi * t / 420.0))


def _first(rule: models.CeilingRule, f: Callable[[float], float], hours: float) -> float | None:
    return first_breach(rule, _series(f, UP - 3600, UP), _series(f, UP, UP + hours * 3600), UP)


def test_lasting_above_flags_a_lasting_x2_5_after_an_hour_and_not_a_50_minute_x3() -> None:
    lasting = _shipped("web-service", "latency-lasting-above")
    assert (lasting.max_increase, lasting.for_, lasting.min_delta) == (2.0, 3600.0, 0.05)
    onset = UP + 4 * 3600
    base = _wavy(0.04)
    step = _first(lasting, lambda t: base(t) * (2.5 if t >= onset else 1.0), 7)
    assert step is not None
    assert 3600 <= step - onset <= 3600 + 300  # 12 whole buckets, aligned on the grace
    # latency-far-above (x3 for 15 minutes) does not see a x2.5 at all
    assert (
        _first(_rule(min_delta=0.05), lambda t: base(t) * (2.5 if t >= onset else 1.0), 7) is None
    )
    # a load test or a neighbour's burst: x3 for 50 minutes, then back
    burst = _first(lasting, lambda t: base(t) * (3.0 if onset <= t < onset + 3000 else 1.0), 7)
    assert burst is None
    # under the delta: a 10 ms check going to 30 ms for hours is not a regression here
    assert _first(lasting, lambda t: 0.01 * (3.0 if t >= onset else 1.0), 7) is None


@pytest.mark.slow
def test_lasting_above_on_simulated_healthy_days_and_its_limit() -> None:
    # The simulation above (a queue's latency over a daily cycle, heavy tails), judged by the
    # shipped latency-lasting-above (x2 the night's worst 5 minutes, for an hour). Measured:
    # peaks of 30-60% (x1.75 to x2.25 the night's typical latency) 0 of 300 flagged without
    # the day before; hot peaks of 60-75% (x2.25 to x3.6) 8 of 100 without it, 0 of 100
    # with it: the limit of an hour of night, as latency-far-above's at 75-85%.
    lasting = _shipped("web-service", "latency-lasting-above")
    healthy = _alarms(23, 300, peak_load=(0.3, 0.6), history=False, rule=lasting)
    print(f"lasting: healthy peaks 30-60%, no day before: {healthy}/300 flagged")
    assert healthy == 0
    hot = _alarms(29, 100, peak_load=(0.6, 0.75), history=False, rule=lasting)
    hot_day = _alarms(29, 100, peak_load=(0.6, 0.75), history=True, rule=lasting)
    print(f"lasting: hot peaks 60-75%: {hot}/100 without the day, {hot_day}/100 with")
    assert hot >= 5
    assert hot_day == 0


def test_database_ceiling_waits_out_a_backup_and_flags_a_lasting_p99_climb() -> None:
    far = _shipped("database-host", "latency-quantile-far-above")
    assert (far.max_increase, far.for_, far.min_delta) == (3.0, 3600.0, 0.02)
    onset = UP + 3 * 3600
    p99 = _wavy(0.012)
    # a backup's writes: x50 for 25 minutes, twice (a nightly backup and its verify run)
    backup = [(UP + 2 * 3600, 1500.0), (UP + 5 * 3600, 1500.0)]
    healthy = _first(
        far, lambda t: p99(t) * (50.0 if any(a <= t < a + d for a, d in backup) else 1.0), 8
    )
    assert healthy is None
    bloat = _first(far, lambda t: p99(t) * (1.0 + 9.0 * min(1.0, max(0.0, t - onset) / 5400)), 8)
    assert bloat is not None
    assert 3600 <= bloat - onset <= 3600 + 1800  # x3 (plus 20 ms) reached 27 minutes in


def test_batch_ceiling_flags_a_runner_slowed_by_the_nightly_queue_in_15_minutes() -> None:
    far = _shipped("batch-host", "latency-far-above")
    assert (far.max_increase, far.for_, far.min_delta) == (3.0, 900.0, 0.05)
    onset = UP + 2.5 * 3600
    runner = _wavy(0.04)
    fired = _first(far, lambda t: 0.6 if t >= onset else runner(t), 5)
    assert fired is not None
    assert 900 <= fired - onset <= 1200
    # a job run that slows the check to x2.5 for as long as it runs is not over the bar
    assert _first(far, lambda t: runner(t) * (2.5 if t >= onset else 1.0), 5) is None
