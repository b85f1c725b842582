"""Blindness never rolls back on its own, even inside composites or next to alert rules.

A target whose probes cannot observe (errors, no data) is judged by what the other inputs say:
a composite counts a blind child as not firing, so ``all`` needs every child to really fail,
``any``/``at_least`` only fire on the children that do; an alert rule whose source only sent
errors (or nothing) stays OK.
"""

from __future__ import annotations

import pytest
from judge_helpers import CRITICAL, OK, WARNING, config, decision, feed, obs

from rollsafe.domain import observations


def leaf(rule_id: str, probe: str) -> dict:
    return {
        "id": rule_id,
        "kind": "threshold",
        "probe": probe,
        "op": "<",
        "value": 1,
        "severity": "warning",
    }


LEAVES = [leaf("http-down", "http"), leaf("tcp-down", "tcp"), leaf("log-bad", "log")]
ALERT = {"id": "pager", "kind": "alert", "source": "am", "severity": "critical"}


def composite(kind: str, **extra) -> dict:
    return {
        "id": "gate",
        "kind": kind,
        "rules": ["http-down", "tcp-down", "log-bad"],
        "severity": "critical",
        **extra,
    }


def blind(source: str, n: int = 5) -> list[observations.Observation]:
    return [obs(float(t), source=source, error="connect timeout") for t in range(n)]


def failing(source: str, n: int = 5) -> list[observations.Observation]:
    return [obs(float(t), 0.0, source=source) for t in range(n)]


COMPOSITES = [("all", {}), ("any", {}), ("at_least", {"count": 2})]


@pytest.mark.parametrize(("kind", "extra"), COMPOSITES)
def test_a_fully_blind_target_is_never_critical(kind, extra) -> None:
    cfg = config(*LEAVES, composite(kind, **extra), ALERT, policy={"blind_after": 3})
    alert_errors = [
        observations.Observation(
            time=float(t),
            target=obs(0).target,
            source="am",
            error="intake: bad payload",
            alert_state=observations.AlertState.FIRING,
        )
        for t in range(5)
    ]
    judge = feed(cfg, blind("http") + blind("tcp") + blind("log") + alert_errors)
    decisions = judge.evaluate("web-1", now=5)
    assert all(d.severity < CRITICAL for d in decisions), decisions
    assert decision(judge, "blind:http", now=5).severity == WARNING
    assert decision(judge, "gate", now=5).severity == OK
    assert decision(judge, "pager", now=5).severity == OK


def test_all_does_not_fire_when_one_child_is_blind_and_the_rest_fail() -> None:
    cfg = config(*LEAVES, composite("all"))
    judge = feed(cfg, blind("http") + failing("tcp") + failing("log"))
    assert decision(judge, "gate", now=5).severity == OK


def test_at_least_counts_only_the_children_that_really_fail() -> None:
    cfg = config(*LEAVES, composite("at_least", count=2))
    one = feed(cfg, blind("http") + blind("tcp") + failing("log"))
    assert decision(one, "gate", now=5).severity == OK
    two = feed(cfg, blind("http") + failing("tcp") + failing("log"))
    assert decision(two, "gate", now=5).severity == CRITICAL  # two real failures, not blindness


def test_any_fires_on_a_real_failure_next_to_a_blind_child_only() -> None:
    cfg = config(*LEAVES, composite("any"))
    blind_only = feed(cfg, blind("http") + blind("tcp") + blind("log"))
    assert decision(blind_only, "gate", now=5).severity == OK
    real = feed(cfg, blind("http") + blind("tcp") + failing("log"))
    assert decision(real, "gate", now=5).severity == CRITICAL
    assert decision(real, "gate", now=5).evidence["firing_rules"] == ["log-bad"]


def test_an_alert_rule_with_a_blind_probe_beside_it_judges_only_the_alerts() -> None:
    cfg = config(*LEAVES, ALERT)
    judge = feed(cfg, blind("http"))
    assert decision(judge, "pager", now=5).severity == OK
    assert decision(judge, "pager", now=5).evidence["no_data"] is True
