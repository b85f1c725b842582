"""The shipped `memory-rising` leaf of `memory-leak` (web-service, batch-host): memory that
grew and is pinned rolls back only while it is still rising. A page cache filled by a data
import after a healthy upgrade (when the memory signal counts cache as used) jumps and then
stays flat in the 90s; a leak that reaches the 90s keeps climbing until the OOM killer.

Memory is read once a minute with an AR(1) wander (sd about 1.4 points, as in
test_trend_slow_leaks.py), from seeded generators; the leaf is judged every minute while
memory has been pinned as long as its preset's `memory-leak` requires (10 minutes web, 30
minutes batch), as the composite would ask it then. Measured on 40 seeds per shape (the
figures docs/presets.md quotes): the three import shapes fire the leaf at some minute of
their 3 to 4 pinned hours on 1 watch in 120 (without it, memory-leak fired on every one);
over a 30-minute fit it was about 4 in 10. Leaks of 10 and 15 points an hour fire it within 10
minutes of being pinned on 38 to 40 of 40 (all within 20); a leak of 5 points an hour is
too slow for it (memory-trend's, 4 h).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from rollsafe.config import models
from rollsafe.config.presets import expanding
from rollsafe.domain import ids, observations
from rollsafe.judge import trend, windows

HOUR = 3600.0
UPGRADE = 3 * HOUR
PINNED = {"web-service": 600.0, "batch-host": 1800.0}
Curve = Callable[[float], float]


def _shipped(preset: str, rule_id: str) -> models.Rule:
    use = models.PresetUse(preset=preset, signals={"health": "health", "memory": "memory"})
    rules, _ = expanding.expand(
        use, index=0, probes={"health": "http", "memory": "host"}, taken=set()
    )
    (rule,) = [r for r in rules if r.id == f"{preset}.{rule_id}"]
    return rule


def _verdicts_while_pinned(preset: str, curve: Curve, *, seed: int) -> list[bool]:
    """For each minute of the 4 hours after the upgrade at which memory has stayed above 90%
    for as long as `memory-leak` needs: is the `memory-rising` leaf firing?"""
    rule = _shipped(preset, "memory-rising")
    assert isinstance(rule, models.TrendRule)
    rng = random.Random(seed)
    window = windows.Window(span=rule.window + rule.before + 600.0)
    target = ids.TargetId("host-1")
    drift, above_since, fired = 0.0, None, []
    for minute in range(int((UPGRADE + 4 * HOUR) / 60)):
        t = minute * 60.0
        drift = 0.9 * drift + rng.gauss(0.0, 0.6)
        value = round(min(100.0, max(0.0, curve(t) + drift)), 1)
        window.insert(observations.Observation(t, target, "memory", value=value))
        above_since = (above_since if above_since is not None else t) if value > 90 else None
        if above_since is not None and t - above_since >= PINNED[preset]:
            severity, _, _ = trend.judge(rule, window, now=t, reference_at=UPGRADE)
            fired.append(severity.name != "OK")
    return fired


def _import(start_min: float, fill_min: float, top: float) -> Curve:
    """40% until a data import ``start_min`` after the upgrade fills the page cache to ``top``
    over ``fill_min`` minutes; it stays there."""
    start = UPGRADE + start_min * 60.0

    def curve(t: float) -> float:
        return 40.0 + (top - 40.0) * min(1.0, max(0.0, t - start) / (fill_min * 60.0))

    return curve


def _leak(per_hour: float, start: float = 60.0) -> Curve:
    return lambda t: start + per_hour * max(0.0, t - UPGRADE) / HOUR


def test_the_leaf_is_in_memory_leak_and_judges_the_last_half_hour() -> None:
    for preset in PINNED:
        leak = _shipped(preset, "memory-leak")
        assert isinstance(leak, models.AllRule)
        assert f"{preset}.memory-rising" in leak.rules
        rising = _shipped(preset, "memory-rising")
        assert isinstance(rising, models.TrendRule)
        # 90 minutes' fit from the upgrade's grace on: judged from 1 h 40 min after the
        # upgrade, half an hour before memory-trend; out of memory within the hour.
        assert (rising.window, rising.min_window, rising.min_rate) == (5400.0, 5400.0, 3.0)
        assert rising.within == 3600.0
        assert not rising.notify


@pytest.mark.parametrize("preset", sorted(PINNED))
@pytest.mark.parametrize(
    ("start_min", "fill_min", "top"), [(20.0, 10.0, 93.0), (5.0, 30.0, 95.0), (40.0, 3.0, 96.0)]
)
def test_a_page_cache_filled_by_an_import_and_staying_is_not_still_rising(
    preset: str, start_min: float, fill_min: float, top: float
) -> None:
    for seed in range(6):
        fired = _verdicts_while_pinned(preset, _import(start_min, fill_min, top), seed=seed)
        assert len(fired) > 30  # it was pinned long enough for memory-leak to be asked
        assert not any(fired), (seed, fired.index(True))


@pytest.mark.parametrize("preset", sorted(PINNED))
@pytest.mark.parametrize("per_hour", [10.0, 15.0])
def test_a_leak_through_the_90s_is_still_rising_while_pinned(preset: str, per_hour: float) -> None:
    # From 60%, a leak of 10 points an hour passes 90% 3 hours after the upgrade and runs out
    # an hour later; the leaf must fire while it is pinned, well before 100% (within 20
    # minutes; on 40 seeds the latest was 18 minutes, web at 10 points an hour).
    for seed in range(3):
        fired = _verdicts_while_pinned(preset, _leak(per_hour), seed=seed)
        assert fired, "never pinned long enough"
        assert any(fired[:20]), (seed, fired[:20])


# --------------------------------------------------------------------------- a cache, then a leak


def _first_critical(rule_id: str, curve: Curve, *, seed: int | None, hours: float) -> float | None:
    """Seconds from the upgrade to the web-service rule's first critical judgement (every 10
    minutes, as in test_trend_slow_leaks.py), or None; ``seed`` None: no wander."""
    rule = _shipped("web-service", rule_id)
    assert isinstance(rule, models.TrendRule)
    rng = random.Random(seed)
    window = windows.Window(span=rule.window + rule.before + 600.0)
    drift = 0.0
    for minute in range(int((UPGRADE + hours * HOUR) / 60)):
        t = minute * 60.0
        if seed is not None:
            drift = 0.9 * drift + rng.gauss(0.0, 0.6)
        value = round(min(100.0, max(0.0, curve(t) + drift)), 1)
        window.insert(observations.Observation(t, ids.TargetId("web-1"), "memory", value=value))
        if minute % 10 == 0 and t > UPGRADE:
            severity, _, _ = trend.judge(rule, window, now=t, reference_at=UPGRADE)
            if severity.name == "CRITICAL":
                return t - UPGRADE
    return None


def _cache_then_leak(points: float, tau_s: float, per_hour: float) -> Curve:
    """A release that fills a cache (``points`` approached with time constant ``tau_s``) and
    leaks ``per_hour`` on top, from 45% (held-out-8's fault-leak-cache-shape-then-grows)."""
    return lambda t: (
        45.0
        + points * (1.0 - math.exp(-max(0.0, t - UPGRADE) / tau_s))
        + per_hour * max(0.0, t - UPGRADE) / HOUR
    )


@pytest.mark.parametrize(("points", "tau_s", "per_hour"), [(8.0, 600.0, 7.0), (8.0, 600.0, 5.0)])
def test_a_leak_that_first_fills_like_a_cache_is_a_slow_leak_at_its_first_judgement(
    points: float, tau_s: float, per_hour: float
) -> None:
    # The cache is full half an hour after the upgrade, inside the steady rule's first third:
    # its thirds still rise in turn and not less and less. Caught 3 h 10 min after the
    # upgrade without wander and on 11 of 12 seeds with it (on the 12th the wander rose 2
    # points an hour, clearly, in the 2 hours before the upgrade: never a steady leak then).
    curve = _cache_then_leak(points, tau_s, per_hour)
    assert _first_critical("memory-slow-leak", curve, seed=None, hours=4.0) == 3 * HOUR + 600.0
    found = [_first_critical("memory-slow-leak", curve, seed=seed, hours=4.0) for seed in range(12)]
    assert sum(f is not None and f <= 3 * HOUR + 600.0 for f in found) >= 11, found


def test_the_cache_start_makes_memory_trend_project_a_plateau_the_limit_stated() -> None:
    # Without any wander: 2 hours fitted from the grace hold the cache's tail in their early
    # half, the growth reads "slowing" and is projected to level off under 100% (79.5% at
    # 5 points an hour): memory-trend never fires in 4 hours, and at 7 points an hour only
    # 2 h 50 min after the upgrade, once the early half has left the cache behind.
    # held-out-8's recording ends 3 hours after its upgrade, with wander that held memory
    # flat for an hour: missed (docs/presets.md, round 9).
    assert (
        _first_critical("memory-trend", _cache_then_leak(8.0, 600.0, 5.0), seed=None, hours=4.0)
        is None
    )
    late = _first_critical("memory-trend", _cache_then_leak(8.0, 600.0, 7.0), seed=None, hours=4.0)
    assert late is not None
    assert 2.5 * HOUR < late <= 3 * HOUR
