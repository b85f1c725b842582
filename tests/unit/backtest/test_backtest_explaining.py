"""How ``explaining`` measures a regression rule's near miss, and that it lists them.

The sequential test's evidence (``rollsafe.judge.sequential``) grows multiplicatively, so its
share is on a log scale, 100% at 1/alpha; the effect says in words how far the signal moved
and where the rule's margin was. The listing keeps regression rules that ran a test even when
other rules came closer.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from rollsafe.backtest import explaining, recordings
from rollsafe.config import models
from rollsafe.domain import ids, observations

REGRESSION: dict[str, Any] = {
    "kind": "regression",
    "e_value": 10**1.5,
    "e_value_exact": True,
    "e_threshold": 1000.0,
    "alpha": 0.001,
    "effect": "p50 latency",
    "current": 0.3,
    "baseline": 0.1,
    "min_ratio": 2.0,
    "min_delta": 0.05,
    "against": "self",
    "no_data": False,
}


def test_a_regression_is_its_evidence_on_a_log_scale_with_the_effect_in_words() -> None:
    share, detail = explaining.closeness(REGRESSION)
    assert share == pytest.approx(0.5)  # 10^1.5 of 10^3
    assert detail == (
        "p50 latency 0.3 vs 0.1 before the upgrade (x3; worse above 0.2, the larger of x2 and "
        "+0.05); e-value 31.6 of 1e+03 needed (alpha 0.001)"
    )


def test_no_evidence_is_0_and_the_margin_can_be_the_delta_or_the_cohort_s() -> None:
    evidence = {
        **REGRESSION,
        "e_value": 0.02,
        "e_value_exact": False,  # far below the bar: the judge gives an upper bound
        "current": 0.12,
        "baseline": 0.01,
        "against": "cohort",
    }
    share, detail = explaining.closeness(evidence)
    assert share == 0.0
    # 0.01 + 0.05 beats 0.01 x 2: the absolute margin is the one to pass.
    assert detail.startswith("p50 latency 0.12 vs 0.01 the baseline cohort (x12; worse above 0.06")
    assert detail.endswith("e-value at most 0.02 of 1e+03 needed (alpha 0.001)")


def test_a_regression_before_its_test_says_so() -> None:
    assert explaining.closeness({"kind": "regression", "e_threshold": None}) == (0.0, "no test yet")
    assert explaining.closeness({**REGRESSION, "no_data": True}) == (0.0, "no data")


def _recording(factor: float) -> recordings.Recording:
    """Probe ``m`` every 30 s, 10 +- 1 before an upgrade at +1 h, ``factor`` times as much
    after it; labelled a fault from the upgrade on."""
    web = ids.TargetId("web-1")
    items = tuple(
        observations.Observation(
            float(t), web, "m", value=(9.0 + (t // 30) % 3) * (factor if t >= 3600 else 1.0)
        )
        for t in range(0, 7200, 30)
    )
    return _upgraded("m-up", items, web, upgrade=3600.0, end=7200.0)


def _upgraded(
    name: str,
    items: tuple[observations.Observation, ...],
    target: ids.TargetId,
    *,
    upgrade: float,
    end: float,
) -> recordings.Recording:
    """``items`` from 0 to ``end``, ``target`` upgraded at ``upgrade`` and labelled a fault
    from then on."""
    return recordings.Recording(
        name=name,
        header=recordings.Header(
            start=0.0, end=end, labelled=True, faults=(recordings.Fault(target, upgrade, "x"),)
        ),
        observations=items,
        marks=(observations.Mark(upgrade, target, "upgrade"),),
        log_lines=(),
    )


CONFIG = models.RollsafeConfig.model_validate(
    {
        "targets": [{"id": "web-1"}],
        "rules": [
            {"id": "m-up", "kind": "regression", "severity": "critical", "probe": "m"},
            # Two rules with larger shares than a regression gathering no evidence (0%).
            {
                "id": "m-over-20",
                "kind": "threshold",
                "severity": "critical",
                "probe": "m",
                "op": ">",
                "value": 20,
            },
            {
                "id": "m-over-30",
                "kind": "threshold",
                "severity": "critical",
                "probe": "m",
                "op": ">",
                "value": 30,
            },
        ],
    }
)


def test_regression_rules_that_ran_are_listed_even_past_the_limit() -> None:
    # x1.4 against the default margin of x1.5: the test gathers no evidence (0%), both
    # thresholds come closer (about 70% and 47%), and the limit is one rule.
    near = explaining.near_misses(CONFIG, _recording(1.4), target="web-1", since=3600.0, limit=1)
    assert [(n.rule, n.kind) for n in near] == [("m-over-20", "threshold"), ("m-up", "regression")]
    regression = near[1]
    assert regression.closeness == 0.0
    assert regression.time >= 3600.0
    # Its leading component: the hour's p99 (11), the margin x1.5 of it.
    assert regression.detail.startswith(
        "p99 value 15.4 vs 11 before the upgrade (x1.4; worse above 16.5, the larger of x1.5 "
        "and +0); e-value "
    )
    # Without a test to run (no upgrade mark: no reference), it is not listed past the limit.
    unmarked = dataclasses.replace(_recording(1.4), marks=())
    near = explaining.near_misses(CONFIG, unmarked, target="web-1", since=3600.0, limit=1)
    assert [n.rule for n in near] == ["m-over-20"]


LATE: dict[str, Any] = {
    **REGRESSION,
    "e_threshold": 1333.0,  # the test from the upgrade at 3/4 of alpha
    "late_starts_s": [720.0, 1320.0, 1920.0, 2520.0],
    "late_e_threshold": 16000.0,  # each late start at alpha / 4 / 4
}


def test_a_late_start_closer_to_its_bar_is_the_one_named() -> None:
    evidence = {
        **LATE,
        "e_value": 1.2,  # the test from the upgrade, sunk by the early buckets
        "late_best_start_s": 1920.0,
        "late_best_e_value": 16000.0**0.75,
    }
    share, detail = explaining.closeness(evidence)
    assert share == pytest.approx(0.75)
    assert detail.endswith(
        "; closest: the test started 32 min after the upgrade (a late start): e-value up to "
        "1.42e+03 of 1.6e+04 needed (75%); the test from the upgrade: e-value 1.2 of 1.33e+03 "
        "needed (alpha 0.001) (3%)"
    )


def test_the_test_from_the_upgrade_stays_named_first_when_it_came_closer() -> None:
    evidence = {
        **LATE,
        "e_value": 1333.0**0.9,
        "late_best_start_s": 720.0,
        "late_best_e_value": 16000.0**0.5,
    }
    share, detail = explaining.closeness(evidence)
    assert share == pytest.approx(0.9)
    assert "; closest: the test from the upgrade: e-value 649 of 1.33e+03" in detail
    assert detail.endswith(
        "; the test started 12 min after the upgrade (a late start): e-value "
        "up to 126 of 1.6e+04 needed (50%)"
    )


def test_late_starts_without_evidence_yet_leave_the_test_from_the_upgrade() -> None:
    share, detail = explaining.closeness(
        {**LATE, "late_best_start_s": None, "late_best_e_value": None}
    )
    assert share == pytest.approx(1.5 / math.log10(1333.0))
    assert detail.endswith(
        "e-value 31.6 of 1.33e+03 needed (alpha 0.001); no late start's test above 1 yet"
    )


# --------------------------------------------------------------------------- units

GAVE_UP: dict[str, Any] = {
    "kind": "threshold",
    "op": ">=",
    "threshold": 1.0,
    "value": 1.0,
    "values": [1.0],
    "consecutive": 1,
    "breached": False,
    "no_data": False,
    "units": [],  # the presets' default: no unit declared
    "named_units": ["motd-news.service"],
}


def test_a_unit_the_rule_does_not_guard_is_no_near_miss() -> None:
    # unit-gave-up with no units listed cannot roll back for motd-news: 0%, not 100%.
    share, detail = explaining.closeness(GAVE_UP)
    assert share == 0.0
    assert detail == "value 1, about motd-news.service: not a unit the rule guards (none listed)"
    # A guarded unit, or an event naming none, counts as the value says.
    guarded = {**GAVE_UP, "units": ["slurmd", "munge"], "named_units": ["slurmd.service"]}
    assert explaining.closeness(guarded) == (1.0, "value 1 vs limit 1")
    assert explaining.closeness({**GAVE_UP, "named_units": []}) == (1.0, "value 1 vs limit 1")
    other = {**GAVE_UP, "units": ["slurmd"], "named_units": ["motd-news.service"]}
    assert explaining.closeness(other)[0] == 0.0
    assert explaining.closeness(other)[1].endswith("not a unit the rule guards (slurmd)")


def _gave_up(text: str) -> recordings.Recording:
    """systemd gives up on one unit 10 minutes after an upgrade (a fault from the upgrade)."""
    host = ids.TargetId("batch-1")
    quiet = [
        observations.Observation(float(t), host, "gave-up", value=0.0) for t in range(0, 3600, 60)
    ]
    gave_up = observations.Observation(3001.0, host, "gave-up", value=1.0, text=text)
    return _upgraded("gave-up", (*quiet, gave_up), host, upgrade=2400.0, end=3600.0)


def test_near_misses_of_a_unit_threshold_reflect_what_it_could_count() -> None:
    # Quoted from systemd's wording (src/core/unit.c, "Start request repeated too quickly.").
    config = _critical(
        "batch-1", "threshold", id="unit-gave-up", probe="gave-up", op=">=", value=1, units="slurmd"
    )
    [near] = explaining.near_misses(
        config,
        _gave_up("motd-news.service: Start request repeated too quickly."),
        target="batch-1",
        since=2400.0,
    )
    assert near.closeness == 0.0  # was 100%: the rule could never have counted it
    [near] = explaining.near_misses(
        config,
        _gave_up("slurmd.service: Start request repeated too quickly."),
        target="batch-1",
        since=2400.0,
    )
    assert (near.closeness, near.time) == (1.0, 3001.0)


def _slow_probe(failing: set[int], *, missing: int | None = None) -> recordings.Recording:
    """A health check every 20 s (but at ``missing``), failing at ``failing``, an upgrade at
    +1 h; a fault from the upgrade on."""
    web = ids.TargetId("web-1")
    items = tuple(
        observations.Observation(float(t), web, "health", value=0.0 if t in failing else 1.0)
        for t in range(0, 7200, 20)
        if t != missing
    )
    return _upgraded("slow-down", items, web, upgrade=3600.0, end=7200.0)


def _critical(target: str, kind: str, **rule: object) -> models.RollsafeConfig:
    """One critical rule of ``kind`` (``rule``: its fields; ``for_`` for ``for``) on ``target``."""
    fields = {("for" if k == "for_" else k): v for k, v in rule.items()}
    return models.RollsafeConfig.model_validate(
        {"targets": [{"id": target}], "rules": [{"kind": kind, "severity": "critical", **fields}]}
    )


DOWN = _critical(
    "web-1", "threshold", id="down", probe="health", op="<", value=1, consecutive=4, for_="30s"
)


def test_a_slow_probe_s_short_run_is_measured_as_the_judge_counts_it() -> None:
    # A check every 20 s: two failing checks at its pace need only span `for` (the judge's
    # streak, rules._counts), so the run has the checks it needs and lacks 10 s of 30.
    [near] = explaining.near_misses(DOWN, _slow_probe({3620, 3640}), target="web-1", since=3600.0)
    assert near.detail == (
        "2 of 2 checks < 1 in a row at the probe's pace (of 4 otherwise), 20 s of 30 s"
    )
    assert near.closeness == pytest.approx((1.0 + 20.0 / 30.0) / 2)  # was (2/4 + 20/30) / 2


def test_two_checks_across_a_gap_still_need_consecutive() -> None:
    # The same probe missing the check at 3640: 40 s apart is not its pace, so the run needs
    # 4 checks, as the judge's does.
    recording = _slow_probe({3620, 3660}, missing=3640)
    [near] = explaining.near_misses(DOWN, recording, target="web-1", since=3600.0)
    assert near.detail == "2 of 4 checks < 1 in a row, 40 s of 30 s"
    assert near.closeness == pytest.approx((2 / 4 + 1.0) / 2)
