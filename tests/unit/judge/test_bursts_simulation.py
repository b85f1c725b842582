"""Simulated watches: the ``bursts`` rule's false-alarm rate over thousands of healthy
watches, and its detection delay on injected bursts.

Each healthy watch draws an hour of an error ratio before an ``upgrade`` mark and the two-hour
watch after it (one value every 30 s, like a Prometheus rate scraped at that interval) from
the *same* process, and asks the rule at the end of the watch whether it ever fired (it
records its first crossing, so one question at the end is the same as asking after every
bucket). Processes: the binomial noise of a service's own traffic, lognormal and Pareto
tails, AR(1) wander, a baseline that already has blips now and then (Poisson-timed, 30 s
to 3 minutes), an hourly cron burst, and the healthy events the issue names on the
watch alone: one dependency blip of up to 10 minutes, a restart's warm-up.

Two bounds are checked. With the burst count off (``min_bursts: 1``) and ``alpha`` 0.05, the
two-sample test of bad 5-minute blocks alone flags at most its alpha of the watches
(1,000 per process: 50 allowed, a bound broken to 0.1 would show about 100). With the preset's
settings (``min_bursts: 3``, alpha 0.00025), 2,000 watches per process (18,000 in all) must
show at most one each (0.5 expected at the bound), and at alpha 0.05 at most 5%. Why blocks
and not buckets: the same test on buckets (measured while designing the rule, not kept)
flagged 27 of 2,000 watches of the blips process and 6 of 2,000 of the AR(1) one at alpha
0.00025, 50 and 12 times the bound: bad buckets of a healthy host come in runs. Every draw
is seeded: the figures are exact and repeatable (printed with ``pytest -s``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from rollsafe.config import models
from rollsafe.domain import ids, observations
from rollsafe.judge import bursts, windows

MARK = 1_000_000.0
EVERY = 30.0
TARGET = ids.TargetId("sim")
BEFORE = 3600.0
WATCH = 7200.0

# One error ratio per observation time; ``bad_from``: where injected bursts start (inf: none).
Draw = Callable[[random.Random, list[float]], list[float]]


def rule(**fields: Any) -> models.BurstRule:
    data: dict[str, Any] = {
        "id": "b",
        "kind": "bursts",
        "severity": "critical",
        "probe": "sim",
        "quantile": 0.95,
        "min_ratio": 3,
        "min_delta": 0.01,
        "min_bursts": 3,
        "alpha": 0.00025,
    }
    data.update(fields)
    return models.BurstRule.model_validate(data)


def _times() -> list[float]:
    first = MARK - BEFORE
    return [first + k * EVERY for k in range(int((BEFORE + WATCH) / EVERY))]


def crossed(rules: list[models.BurstRule], values: list[float]) -> list[float | None]:
    """Each rule's first crossing on one watch (None: never), judged at the watch's end."""
    window = windows.Window(span=BEFORE + WATCH + 60.0, max_samples=100_000)
    for t, value in zip(_times(), values, strict=True):
        window.insert(observations.Observation(time=t, target=TARGET, source="sim", value=value))
    found = []
    for rule_ in rules:
        outcome = bursts.judge(
            rule_,
            window,
            now=MARK + WATCH - 1.0,
            reference_at=MARK,
            reference_end=None,
            floor=EVERY,
            state=bursts.State(),
        )
        found.append(outcome.evidence.get("crossed_at"))
    return found


# --------------------------------------------------------------------------- processes


def _binomial(rng: random.Random, p: float, requests: float = 2400.0) -> float:
    """The ratio of failed requests in one scrape: normal approximation of a binomial."""
    sd = math.sqrt(max(p * (1 - p), 1e-9) / requests)
    return min(1.0, max(0.0, rng.gauss(p, sd)))


def steady(p: float) -> Draw:
    def draw(rng: random.Random, times: list[float]) -> list[float]:
        return [_binomial(rng, p) for _ in times]

    return draw


def lognormal(p: float, sigma: float) -> Draw:
    def draw(rng: random.Random, times: list[float]) -> list[float]:
        return [min(1.0, p * math.exp(rng.gauss(0.0, sigma))) for _ in times]

    return draw


def pareto(p: float, shape: float) -> Draw:
    def draw(rng: random.Random, times: list[float]) -> list[float]:
        return [min(1.0, p * rng.paretovariate(shape)) for _ in times]

    return draw


def ar1(p: float, phi: float, sigma: float) -> Draw:
    """log error ratio wandering (AR(1), ``phi`` between values 30 s apart)."""

    def draw(rng: random.Random, times: list[float]) -> list[float]:
        x = rng.gauss(0.0, sigma)
        out = []
        for _ in times:
            x = phi * x + math.sqrt(1 - phi * phi) * rng.gauss(0.0, sigma)
            out.append(_binomial(rng, min(1.0, p * math.exp(x))))
        return out

    return draw


def _bumped(base: Draw, episodes: Callable[[random.Random], list[tuple[float, float, float]]]):
    def draw(rng: random.Random, times: list[float]) -> list[float]:
        values = base(rng, times)
        for lo, hi, p in episodes(rng):
            for i, t in enumerate(times):
                if lo <= t < hi:
                    values[i] = _binomial(rng, p)
        return values

    return draw


def blips_now_and_then(per_hour: float) -> Draw:
    """A healthy host whose dependency blips now and then, before and after alike: Poisson
    times, 30 s to 3 minutes each, 3% to 15% of requests failing."""

    def episodes(rng: random.Random) -> list[tuple[float, float, float]]:
        found = []
        t = MARK - BEFORE + rng.expovariate(per_hour / 3600.0)
        while t < MARK + WATCH:
            found.append((t, t + rng.uniform(30.0, 180.0), rng.uniform(0.03, 0.15)))
            t += rng.expovariate(per_hour / 3600.0)
        return found

    return _bumped(steady(0.002), episodes)


def hourly_cron() -> Draw:
    """A cron job at a fixed minute of every hour fails 5% of requests for 2 minutes."""

    def episodes(rng: random.Random) -> list[tuple[float, float, float]]:
        minute = rng.uniform(0.0, 3600.0)
        return [(MARK - BEFORE + minute + h * 3600.0, 0.0, 0.05) for h in range(3)]

    def fixed(rng: random.Random) -> list[tuple[float, float, float]]:
        return [(lo, lo + 120.0, p) for lo, _, p in episodes(rng)]

    return _bumped(steady(0.002), fixed)


def one_blip_after() -> Draw:
    """One dependency blip somewhere in the watch: 1 to 10 minutes at 5% to 20%."""

    def episodes(rng: random.Random) -> list[tuple[float, float, float]]:
        at = MARK + rng.uniform(0.0, WATCH - 600.0)
        return [(at, at + rng.uniform(60.0, 600.0), rng.uniform(0.05, 0.2))]

    return _bumped(steady(0.002), episodes)


def warm_up() -> Draw:
    """A restart's warm-up: 3% to 10% failing for the first 2 to 6 minutes, then as before."""

    def episodes(rng: random.Random) -> list[tuple[float, float, float]]:
        return [(MARK, MARK + rng.uniform(120.0, 360.0), rng.uniform(0.03, 0.1))]

    return _bumped(steady(0.002), episodes)


def pool_bursts(p: float, length: float, low: float, high: float) -> Draw:
    """The release's bursts: from 4 minutes after the mark, ``length`` seconds at ``p``
    every ``low`` to ``high`` seconds."""

    def episodes(rng: random.Random) -> list[tuple[float, float, float]]:
        found = []
        t = MARK + 240.0
        while t < MARK + WATCH:
            found.append((t, t + length, p))
            t += rng.uniform(low, high)
        return found

    return _bumped(steady(0.002), episodes)


INDEPENDENT = [
    ("binomial-0.2%", steady(0.002)),
    ("binomial-2%", steady(0.02)),
    ("lognormal-sigma1", lognormal(0.003, 1.0)),
    ("pareto-1.5", pareto(0.002, 1.5)),
    ("blips-4-per-hour", blips_now_and_then(4.0)),
]
HEALTHY = [
    *INDEPENDENT,
    ("ar1-0.9", ar1(0.003, 0.9, 0.8)),
    ("blips-2-per-hour", blips_now_and_then(2.0)),
    ("hourly-cron", hourly_cron()),
    ("one-blip-after", one_blip_after()),
    ("warm-up", warm_up()),
]


@pytest.mark.parametrize(("name", "draw"), INDEPENDENT, ids=[h[0] for h in INDEPENDENT])
def test_the_share_test_alone_stays_within_alpha_on_independent_buckets(name, draw):
    rng = random.Random(f"bursts-share-{name}")
    alone = rule(min_bursts=1, alpha=0.05)
    watches = 1000
    flagged = sum(crossed([alone], draw(rng, _times()))[0] is not None for _ in range(watches))
    print(f"{name}: {flagged} of {watches} flagged by the share test alone at alpha 0.05")
    assert flagged <= 0.05 * watches


@pytest.mark.parametrize(("name", "draw"), HEALTHY, ids=[h[0] for h in HEALTHY])
def test_healthy_watches_are_not_rolled_back_at_the_presets_alpha(name, draw):
    rng = random.Random(f"bursts-healthy-{name}")
    shipped = rule()
    loose = rule(alpha=0.05)  # the same rule at alpha 0.05: the burst count's own margin
    watches = 2000
    flagged = [0, 0]
    for _ in range(watches):
        for i, at in enumerate(crossed([shipped, loose], draw(rng, _times()))):
            flagged[i] += at is not None
    print(
        f"{name}: {flagged[0]} of {watches} at alpha 0.00025, {flagged[1]} at alpha 0.05 "
        "(min_bursts 3)"
    )
    # At most its alpha: 0.5 expected at the bound over 2,000 watches; one is allowed.
    assert flagged[0] <= 1
    assert flagged[1] <= 0.05 * watches


BURSTS = [
    # (name, draw, most detected, median delay limit from the first burst, in minutes)
    # Measured: every watch, medians 53, 33 and 33 minutes (the seeds' burst times differ).
    ("8%-60s-every-4-7min", pool_bursts(0.08, 60.0, 240.0, 420.0), 0.95, 60.0),
    ("3%-60s-every-4-7min", pool_bursts(0.03, 60.0, 240.0, 420.0), 0.95, 60.0),
    ("8%-30s-every-3-5min", pool_bursts(0.08, 30.0, 180.0, 300.0), 0.95, 60.0),
    # The limit of what 12 reference blocks can tell: half the blocks bad (90 s bursts every
    # 8 to 12 minutes) is not enough evidence within two hours at a bar of 4,000.
    ("8%-90s-every-8-12min", pool_bursts(0.08, 90.0, 480.0, 720.0), 0.0, math.inf),
]


@pytest.mark.parametrize("case", BURSTS, ids=[b[0] for b in BURSTS])
def test_injected_bursts_are_detected(case):
    name, draw, most, limit = case
    rng = random.Random(f"bursts-detect-{name}")
    shipped = rule()
    watches = 200
    found = [crossed([shipped], draw(rng, _times()))[0] for _ in range(watches)]
    delays = sorted((at - MARK - 240.0) / 60.0 for at in found if at is not None)
    share = len(delays) / watches
    median = delays[len(delays) // 2] if delays else math.inf
    print(f"{name}: detected {share:.0%}, median {median:.1f} min after the first burst")
    assert share >= most
    if most > 0:
        assert median <= limit
