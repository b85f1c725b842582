"""The ``bursts`` rule: errors that come back in bursts after an upgrade, not as a level shift."""

from __future__ import annotations

import math
import random

import pydantic
import pytest
from judge_helpers import (
    CRITICAL,
    OK,
    WARNING,
    config,
    decision,
    feed,
    judged_in_full,
    obs,
    upgrade,
)

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.judge import bursts, engine, sequential, vetoes

UP = 10_000.0
RULE = {
    "id": "bursts",
    "kind": "bursts",
    "severity": "critical",
    "probe": "errors",
    "alpha": 0.00025,
}


def _series(
    rng: random.Random,
    *,
    start: float,
    end: float,
    level: float = 0.002,
    bumps: list[tuple[float, float, float]] | None = None,
    every: float = 15.0,
) -> list:
    """An error ratio every ``every`` seconds: ``level`` with binomial-like noise, ``bumps``
    (from, to, ratio) on top."""
    out = []
    t = start
    while t < end:
        p = level
        for lo, hi, bumped in bumps or []:
            if lo <= t < hi:
                p = bumped
        value = max(0.0, rng.gauss(p, math.sqrt(p * (1 - p) / 2400) + 0.0002))
        out.append(obs(t, round(value, 5), source="errors"))
        t += every
    return out


def _bursts_every(first: float, end: float, rng: random.Random) -> list[tuple[float, float, float]]:
    found = []
    t = first
    while t < end:
        found.append((t, t + 60.0, 0.08))
        t += rng.uniform(240.0, 420.0)
    return found


def _judge(items: list, *, now: float):
    cfg = config(RULE)
    return decision(feed(cfg, items, [upgrade(UP)]), "bursts", now=now)


def test_bursts_every_few_minutes_roll_back_and_say_the_shares_the_statistic_and_alpha():
    rng = random.Random(1)
    bumps = _bursts_every(UP + 240.0, UP + 7200.0, rng)
    items = _series(rng, start=UP - 3600.0, end=UP + 7200.0, bumps=bumps)
    cfg = config(RULE)
    judge = feed(cfg, items, [upgrade(UP)])
    fired_at = None
    for now in range(int(UP), int(UP + 7200), 30):
        if decision(judge, "bursts", now=float(now)).severity is CRITICAL:
            fired_at = float(now)
            break
    assert fired_at is not None
    # Three bursts at least, and well within the watch (an hour): the bursts start 4 minutes
    # after the upgrade, 60 s every 4 to 7 minutes.
    assert fired_at - UP < 3600.0
    found = decision(judge, "bursts", now=fired_at)
    evidence = found.evidence
    assert evidence["bursts_after"] >= 3
    assert evidence["bad_before"] == 0
    assert evidence["e_value_peak"] >= 1 / 0.00025
    assert evidence["share_after"] > evidence["share_before"] + 0.01
    assert "separate bursts" in found.summary
    assert "alpha 0.00025" in found.summary
    assert "0 of 120 before" in found.summary  # buckets
    assert "0 of 12 before" in found.summary  # blocks of 5 minutes
    # The e-value is the two-sample test of the bad-block shares, exactly.
    assert evidence["bad_blocks_before"] == 0
    assert evidence["blocks_before"] == 12
    log_e, _ = sequential.two_sample_log_e(
        kind="ratio",
        before=(0.0, 12.0),
        after=(float(evidence["bad_blocks_after"]), float(evidence["blocks_after"])),
        ratio=1.0,
        delta=0.01,
    )
    assert evidence["e_value_peak"] == pytest.approx(math.exp(log_e))
    # Once fired it stays fired until the watch ends, then says only that it is over.
    assert decision(judge, "bursts", now=UP + 7100.0).severity is CRITICAL
    assert decision(judge, "bursts", now=UP + 7300.0).severity is OK


def test_one_dependency_blip_however_long_is_one_burst_and_never_rolls_back():
    rng = random.Random(2)
    items = _series(
        rng,
        start=UP - 3600.0,
        end=UP + 7200.0,
        bumps=[(UP + 600.0, UP + 1200.0, 0.08)],  # 10 minutes of 8% errors, once
    )
    cfg = config(RULE)
    judge = feed(cfg, items, [upgrade(UP)])
    for now in range(int(UP), int(UP + 7200), 60):
        assert decision(judge, "bursts", now=float(now)).severity is OK
    found = decision(judge, "bursts", now=UP + 7190.0)
    # 20 bad buckets in a row, but at most three bad blocks of 5 minutes, and one burst.
    assert found.evidence["bad_after"] >= 19
    assert found.evidence["bad_blocks_after"] <= 3
    assert found.evidence["bursts_after"] == 1


def test_a_host_that_always_burst_is_judged_against_its_own_bursts():
    # Bursts every 4 to 7 minutes before and after: the reference's p95 is a burst, so the
    # bar is above them (bad is "worse than this host's bursts").
    rng = random.Random(3)
    bumps = _bursts_every(UP - 3500.0, UP + 7200.0, rng)
    items = _series(rng, start=UP - 3600.0, end=UP + 7200.0, bumps=bumps)
    judge = feed(config(RULE), items, [upgrade(UP)])
    for now in range(int(UP), int(UP + 7200), 60):
        assert decision(judge, "bursts", now=float(now)).severity is OK
    assert decision(judge, "bursts", now=UP + 7190.0).evidence["bad_after"] == 0
    # Rarer bursts (45 s every 25 to 35 minutes: under 5% of buckets): bad before and after
    # alike, and the shares are compared.
    rng = random.Random(4)
    bumps = []
    t = UP - 3300.0
    while t < UP + 7200.0:
        bumps.append((t, t + 45.0, 0.08))
        t += rng.uniform(1500.0, 2100.0)
    items = _series(rng, start=UP - 3600.0, end=UP + 7200.0, bumps=bumps)
    judge = feed(config(RULE), items, [upgrade(UP)])
    for now in range(int(UP), int(UP + 7200), 60):
        assert decision(judge, "bursts", now=float(now)).severity is OK
    evidence = decision(judge, "bursts", now=UP + 7190.0).evidence
    assert evidence["bursts_before"] >= 2  # its bursts are in the reference: bad there too
    assert evidence["bursts_after"] >= 3


def test_the_grace_is_not_judged_and_a_warm_up_is_one_burst():
    rng = random.Random(4)
    items = _series(
        rng,
        start=UP - 3600.0,
        end=UP + 3600.0,
        bumps=[(UP, UP + 300.0, 0.05)],  # errors while the restarted service warms up
    )
    found = _judge(items, now=UP + 60.0)
    assert found.severity is OK
    assert "warming up" in found.summary
    later = _judge(items, now=UP + 3590.0)
    assert later.severity is OK
    assert later.evidence["bursts_after"] <= 1


def test_too_short_a_reference_is_no_data():
    rng = random.Random(5)
    items = _series(rng, start=UP - 200.0, end=UP + 900.0)
    found = _judge(items, now=UP + 800.0)
    assert found.severity is OK
    assert found.evidence["no_data"] is True
    assert "fewer than 10 buckets" in found.summary


def test_simultaneous_observations_in_any_order_give_identical_decisions():
    rng = random.Random(6)
    bumps = _bursts_every(UP + 240.0, UP + 7200.0, rng)
    items = _series(rng, start=UP - 3600.0, end=UP + 7200.0, bumps=bumps)
    # A second exporter scraped at the same instants: pairs of observations with one time.
    twins = [obs(item.time, round((item.value or 0.0) * 1.1, 5), source="errors") for item in items]
    cfg = config(RULE)
    ordered = [x for pair in zip(items, twins, strict=True) for x in pair]
    swapped = [x for pair in zip(twins, items, strict=True) for x in pair]
    shuffled = list(ordered)
    random.Random(7).shuffle(shuffled)  # any arrival order, late ones included
    first = feed(cfg, ordered, [upgrade(UP)])
    second = feed(cfg, swapped, [upgrade(UP)])
    third = feed(cfg, shuffled, [upgrade(UP)])
    for now in (UP + 300.0, UP + 1234.0, UP + 2400.0, UP + 3600.0, UP + 7000.0):
        expected = first.evaluate_all(now=now)
        assert expected == second.evaluate_all(now=now)
        assert expected == third.evaluate_all(now=now)


def test_replay_judges_it_only_when_its_source_reports_or_a_bucket_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ``bursts.steady_until``: the replay's severity-first path skips the rule while nothing
    # it reads can have moved. A busy second source (every 2 s) makes instants the rule has
    # no news at; the decisions must be those of judging everything in full at every
    # instant, with the rule judged about once per 30 s bucket instead of at every instant.
    rng = random.Random(4)
    bumps = _bursts_every(UP + 240.0, UP + 7200.0, rng)
    items = _series(rng, start=UP - 3600.0, end=UP + 7500.0, bumps=bumps)
    items += [obs(UP - 3600.0 + 2.0 * k + 0.5, 1.0, source="cpu") for k in range(5550)]
    cfg = config(RULE, {"id": "busy", "kind": "threshold", "probe": "cpu", "op": ">", "value": 90})
    marks = [upgrade(UP)]
    expected = judged_in_full(cfg, items, marks)
    calls: list[float] = []
    real = bursts.judge

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(float(kwargs["now"]))  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bursts, "judge", counted)
    got = engine.replay(cfg, items, marks)
    assert got == expected
    assert [d.severity for d in got if d.rule == "bursts"] == [CRITICAL, OK]  # fired, then over
    instants = len({item.time for item in items})
    buckets = 7200 / 30
    assert instants > 6000
    # One call per bucket closed, a few at the mark, the grace's end and the watch's end; the
    # dressing of the two decisions calls it too.
    assert len(calls) <= buckets + 10


def test_a_bad_bucket_is_measured_from_the_reference_quantile_with_both_margins():
    rule = models.BurstRule.model_validate(
        {"id": "b", "kind": "bursts", "probe": "errors", "min_ratio": 3, "min_delta": 0.01}
    )
    assert bursts.bar(rule, 0.002) == pytest.approx(0.012)  # the floor: +1 point
    assert bursts.bar(rule, 0.01) == pytest.approx(0.03)  # three times


def test_a_margin_of_zero_is_refused():
    with pytest.raises(pydantic.ValidationError, match="margin"):
        models.BurstRule.model_validate(
            {"id": "b", "kind": "bursts", "probe": "x", "min_ratio": 1, "min_delta": 0}
        )


def test_the_fleet_veto_can_hold_it_with_rules_auto():
    cfg = config(RULE)
    by_id = {rule.id: rule for rule in cfg.rules}
    assert vetoes.holdable(by_id) == ["bursts"]
    assert vetoes.sources_needed(by_id, ["bursts"]) == {"errors": 3600.0}
    with pytest.raises(errors.ConfigError):
        vetoes.sources_needed(by_id, ["nope"])


@pytest.mark.parametrize("fleet_wide", [True, False], ids=["fleet-wide", "web-1-alone"])
def test_bursts_on_the_whole_fleet_are_held_by_the_fleet_veto(fleet_wide: bool):
    # web-1 upgraded, web-2 not: the same bursts on both (a shared database's pool, not the
    # release) hold web-1's rollback as a warning naming web-2; on web-1 alone they roll back.
    rng = random.Random(8)
    bumps = _bursts_every(UP + 240.0, UP + 7200.0, rng)
    web1 = _series(rng, start=UP - 3600.0, end=UP + 3600.0, bumps=bumps)
    web2 = _series(rng, start=UP - 3600.0, end=UP + 3600.0, bumps=bumps if fleet_wide else [])
    items = sorted(
        [*web1, *(obs(o.time, o.value, source="errors", target="web-2") for o in web2)],
        key=lambda o: (o.time, o.target),
    )
    cfg = models.RollsafeConfig.model_validate(
        {
            "targets": [
                {"id": "web-1", "labels": {"role": "web"}},
                {"id": "web-2", "labels": {"role": "web"}},
            ],
            "rules": [RULE],
            # rules: auto (the default) lists every critical rule it can hold soundly.
            "policy": {"fleet_veto": {"match_labels": ["role"], "wait": "0s"}},
        }
    )
    changed = [
        d
        for d in engine.replay(cfg, items, [upgrade(UP)])
        if d.target == "web-1" and d.rule == "bursts" and d.severity is not OK
    ]
    assert changed, "web-1's bursts must be flagged"
    if fleet_wide:
        assert changed[0].severity is WARNING
        assert changed[0].evidence["fleet_veto"]["peers"] == ["web-2"]
        assert CRITICAL not in [d.severity for d in changed]
    else:
        assert changed[0].severity is CRITICAL
