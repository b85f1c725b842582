"""The presets' repeat counters, simulated: crashes at random against a crash loop.

``segfaults-repeat`` (every preset: more than 3 segfaults in 30 minutes, at least twice the
pace of the hour before the upgrade) is mostly a count, so its false-rollback rate depends on
how often a healthy host crashes anyway. docs/presets.md states it for crashes at random
(Poisson) over a two-hour watch; here thousands of such watches go through the shipped
preset (the judge's replay, as ``rollsafe backtest`` runs it) and the rate must stay under
what the docs say, while a crash loop minutes apart is caught by its fourth crash every time,
and a host that crashed at the same pace before its upgrade is not rolled back. The log probe
says "none" every 10 minutes here instead of every 15 s (zero counts add nothing to a sum),
which keeps thousands of watches cheap.
"""

from __future__ import annotations

import random

from rollsafe.config import models
from rollsafe.config import presets as preset_catalog
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine
from support import presets_docs

TARGET = ids.TargetId("t-1")
HOUR = 3600.0
RULE = "web-service.segfaults-repeat"
CRITICAL = verdicts.Severity.CRITICAL


# docs/presets.md (round 9): the steady-loop rule a user writes to opt in, beside the preset,
# read from the block the docs show. It is measured but not shipped on by default (a helper
# crashing at random once an hour is rolled back in 4.6% of watches with it, 2.97% without):
# its own rules, since rules you write cannot list the preset's in a composite.
STEADY_LOOP = presets_docs.steady_loop("s")


def _config(rules: list[dict[str, object]] | None = None) -> models.RollsafeConfig:
    """web-service bound to a health check and a segfault log, with ``rules`` of the user's."""
    return preset_catalog.apply(
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": TARGET}],
                "probes": [
                    {"kind": "http", "name": "h", "url": "http://x/health"},
                    {"kind": "log", "name": "s", "path": "/k", "presets": ["segfault"]},
                ],
                "rules": rules or [],
                "presets": [
                    {"preset": "web-service", "signals": {"health": "h", "segfaults": "s"}}
                ],
            }
        )
    )


def _decided(
    config: models.RollsafeConfig,
    crashes: list[float],
    *,
    upgrade: float = HOUR,
    rules: frozenset[str] = frozenset({RULE}),
) -> list[tuple[float, verdicts.Severity, str]]:
    """``segfaults-repeat``'s (or ``rules``') decisions, crashes at ``crashes`` (one event
    each, of one program: the observations name none), the target upgraded at ``upgrade``."""
    # The probe has been watching since long before the crashes (a rate
    # over a source first seen less than a window ago divides by the time since, see
    # docs/configuration.md, `rate`), and says "none" every 10 minutes (a log probe: 15 s).
    quiet = [float(t) for t in range(-3 * 3600, 4 * 3600, 600)]
    seen = [observations.Observation(t, TARGET, "s", value=0.0) for t in quiet]
    seen += [observations.Observation(t, TARGET, "s", value=1.0) for t in sorted(crashes)]
    seen.sort(key=lambda o: o.time)
    marks = [observations.Mark(time=upgrade, target=TARGET, name="upgrade")]
    decisions = engine.replay(config, seen, marks)
    return [(d.time, d.severity, str(d.rule)) for d in decisions if d.rule in rules]


def _fired_at(config: models.RollsafeConfig, crashes: list[float]) -> list[float]:
    """Times ``segfaults-repeat`` rolled back (see :func:`_decided`)."""
    return [t for t, severity, _ in _decided(config, crashes) if severity is CRITICAL]


def _poisson_times(rng: random.Random, per_hour: float, hours: float) -> list[float]:
    times, t = [], rng.expovariate(per_hour / HOUR)
    while t < hours * HOUR:
        times.append(t)
        t += rng.expovariate(per_hour / HOUR)
    return times


def _false_rollbacks(per_hour: float, *, watches: int, seed: int) -> int:
    """Watches (an hour before the upgrade, two after) rolled back during the two hours."""
    config, rng = _config(), random.Random(seed)
    count = 0
    for _ in range(watches):
        fired = _fired_at(config, _poisson_times(rng, per_hour, 3.0))
        count += any(t > HOUR for t in fired)
    return count


def test_random_crashes_roll_back_no_more_often_than_the_docs_say() -> None:
    # docs/presets.md: 0.2% of two-hour watches at 0.5 crashes an hour, about 2.5% at one an
    # hour (these seeds: 3 and 49 of 2,000). Bounds with room for a sample's noise: 0.5% is
    # 10 (expected about 4) and 3.5% is 70 (expected about 50, sd 7).
    assert _false_rollbacks(0.5, watches=2000, seed=5) <= 10
    assert _false_rollbacks(1.0, watches=2000, seed=6) <= 70


SHIPPED = frozenset(f"web-service.{rule}" for rule in ("segfault-loop", "segfaults-repeat"))
OPTED_IN = SHIPPED | {"segfault-steady-loop"}


def test_the_steady_loop_rule_is_not_shipped_on_by_default() -> None:
    ids_ = {r.id for r in _config().rules}
    assert ids_ >= SHIPPED
    assert not [i for i in ids_ if "steady" in i or "same-program" in i]
    assert "segfault-steady-loop" in {r.id for r in _config(STEADY_LOOP).rules}


def test_the_opt_in_docs_presets_md_shows_is_the_rule_measured_here() -> None:
    # The yaml block a user copies (docs/presets.md, segfault-loop, round 9) is what every
    # test here measures (STEADY_LOOP reads it): its values are the ones the docs' figures
    # were measured with, so a change to them shows here first.
    shown = {r["id"]: r for r in presets_docs.steady_loop()}
    assert shown["segfault-steady-loop"] == {
        "id": "segfault-steady-loop",
        "kind": "all",
        "severity": "critical",
        "rules": ["segfaults-same-program", "segfaults-pace-up"],
    }
    same = shown["segfaults-same-program"]
    assert (same["kind"], same["window"], same["above"], same["same_program"]) == (
        "rate",
        "30m",
        2,
        True,
    )
    assert (same["steady"], same["probe"], same["notify"]) == (1.5, "segfaults", False)
    pace = shown["segfaults-pace-up"]
    assert (pace["aggregate"], pace["before"], pace["max_increase"], pace["min_delta"]) == (
        "rate",
        "1h",
        2,
        0.066,
    )


def test_random_crashes_of_one_program_roll_back_no_more_often_than_the_docs_say() -> None:
    # docs/presets.md (round 9): one helper crashing at random, the two shipped segfault rules
    # together (segfault-loop, segfaults-repeat) fire in 0.36% of two-hour watches at 0.5 an
    # hour and 2.97% at one an hour; with the opt-in steady-loop rule beside them, 0.70% and
    # 4.60% (why it is not shipped on). One replay each, both sets read from it. Bounds with
    # room for a sample's noise, of 1,000 watches: shipped 1.0% (expected about 4) and 4.5%
    # (expected about 30, sd 5.4); opted in 1.5% (about 7) and 6.5% (about 46, sd 6.6).
    config = _config(STEADY_LOOP)
    for per_hour, seed, shipped_bound, opted_bound in ((0.5, 21, 10, 15), (1.0, 22, 45, 65)):
        rng = random.Random(seed)
        shipped = opted = 0
        for _ in range(1000):
            decided = _decided(config, _poisson_times(rng, per_hour, 3.0), rules=OPTED_IN)
            rolled = {rule for t, severity, rule in decided if t > HOUR and severity is CRITICAL}
            shipped += bool(rolled & SHIPPED)
            opted += bool(rolled)
        assert shipped <= shipped_bound, (per_hour, shipped)
        assert opted <= opted_bound, (per_hour, opted)


def test_a_user_written_steady_loop_rule_catches_one_program_at_its_third_crash() -> None:
    # The rate options stay for users (docs/configuration.md, `same_program`, `steady`): the
    # rule written beside the preset rolls back at the third crash of a steady loop, where the
    # shipped segfaults-repeat waits for the fourth.
    config = _config(STEADY_LOOP)
    rules = frozenset({"segfault-steady-loop"})
    for gap in (300.0, 480.0, 600.0, 840.0):  # every 5 to 14 minutes, steady
        crashes = [HOUR + 200.0 + gap * k + (15.0 if k == 1 else 0.0) for k in range(5)]
        fired = [t for t, sev, _ in _decided(config, crashes, rules=rules) if sev is CRITICAL]
        assert fired, gap
        assert fired[0] == crashes[2], (gap, fired)
        # The preset alone is not rolled back by these three crashes (more than 10 minutes
        # from the first to the third: not segfault-loop's).
        shipped = _decided(_config(), crashes[:3], rules=SHIPPED)
        assert not [sev for _, sev, _ in shipped if sev is CRITICAL], gap
    # Two minutes then fifteen: not a steady pace, left to the count rules.
    uneven = [HOUR + 200.0, HOUR + 320.0, HOUR + 1220.0]
    assert not [t for t, sev, _ in _decided(config, uneven, rules=rules) if sev is CRITICAL]


def test_a_single_crash_or_three_never_roll_back() -> None:
    config = _config()
    assert _fired_at(config, [4200.0]) == []
    assert _fired_at(config, [4200.0, 4260.0, 4320.0]) == []  # three in 3 minutes: not over 3
    assert _fired_at(config, [4200.0, 4260.0, 4320.0, 4380.0]) == [4380.0]


def test_a_host_that_crashed_as_often_before_the_upgrade_is_not_rolled_back() -> None:
    # A crash every 6 minutes for hours, before and after the upgrade: the same pace is not
    # the release's. Four in 30 minutes alone would have rolled it back. Before the upgrade
    # mark there is no "before the upgrade" (segfaults-up has no data), so the crash loop
    # that began hours before it is not rolled back either: nothing was upgraded yet.
    config = _config()
    steady = [float(t) for t in range(-2 * 3600, 4 * 3600, 360)]
    assert _decided(config, steady) == []
    # The same pace starting at the upgrade, after a quiet hour, is.
    assert _fired_at(config, [t for t in steady if t > HOUR]) != []


def test_a_crash_loop_minutes_apart_is_caught_at_its_fourth_crash() -> None:
    # One crash every 6 to 10 minutes (held-out-4's slow loop): the fourth comes at most 30
    # minutes after the first, and the rule fires at it.
    config, rng = _config(), random.Random(7)
    for _ in range(200):
        crashes = [HOUR + 420.0]  # from 7 minutes after the upgrade
        while len(crashes) < 8:
            crashes.append(crashes[-1] + rng.uniform(360.0, 600.0))
        fired = _fired_at(config, crashes)
        assert fired, crashes
        assert fired[0] == crashes[3] or crashes[3] - crashes[0] == 1800.0, (fired, crashes)


# --------------------------------------------------------------------------- outages-repeat
#
# web-service's and database-host's outages-repeat (3 outages within an hour, each 3 failed
# checks in a row spanning 15 s) against health checks that fail at random: a dependency
# failing a share of them, timeouts under load. docs/presets.md states the rates for checks
# every 10 s (a simulation of 100,000 outages: 1.3% of 8-minute outages failing 25% of
# checks, 0.4% of hours failing 10%; episodes of two checks: 39%).


def _outages_config(preset: str, params: dict[str, object]) -> models.RollsafeConfig:
    return preset_catalog.apply(
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": TARGET}],
                "probes": [{"kind": "tcp", "name": "h", "host": "x", "port": 1}],
                "presets": [{"preset": preset, "signals": {"health": "h"}, "params": params}],
            }
        )
    )


def _flapping_rolled_back(
    preset: str, *, share: float, minutes: int, watches: int, seed: int, **params: object
) -> int:
    """Watches in which outages-repeat rolled back: checks every 10 s from 5 minutes after the
    upgrade, failing at random with ``share`` for ``minutes`` from 10 minutes after it (the
    rule counts runs that end in the flapping; nothing after it adds one)."""
    config, rng = _outages_config(preset, params), random.Random(seed)
    rule = f"{preset}.outages-repeat"
    marks = [observations.Mark(time=HOUR, target=TARGET, name="upgrade")]
    start, end = HOUR + 600, HOUR + 600 + minutes * 60
    count = 0
    for _ in range(watches):
        seen = [
            observations.Observation(
                float(t),
                TARGET,
                "h",
                value=0.0 if start <= t < end and rng.random() < share else 1.0,
            )
            for t in range(int(start) - 300, int(end) + 60, 10)
        ]
        decisions = engine.replay(config, seen, marks)
        count += any(d.rule == rule and d.severity is CRITICAL for d in decisions)
    return count


def test_checks_failing_at_random_rarely_make_three_outages() -> None:
    # 1.3% of 400 is about 5 (sd 2.3); 0.4% about 1.5. Bounds with room for a sample's noise.
    assert _flapping_rolled_back("web-service", share=0.25, minutes=8, watches=400, seed=1) <= 14
    assert _flapping_rolled_back("database-host", share=0.1, minutes=60, watches=200, seed=2) <= 5
    # Why an outage is three checks: with two (spanning 10 s) the same dependency outage
    # rolls back about 39% of the time.
    two = _flapping_rolled_back(
        "web-service", share=0.25, minutes=8, watches=200, seed=3, down_checks=2, outage_for="10s"
    )
    assert two >= 50
