"""Composite rules: all / any / at_least over other rules' decisions, and their guards."""

from __future__ import annotations

from typing import Any

import pytest
from judge_helpers import CRITICAL, OK, config, decision, feed, obs

from rollsafe.domain import errors, observations
from rollsafe.judge import engine

LEAVES: list[dict[str, Any]] = [
    {"id": "cpu-high", "kind": "threshold", "probe": "cpu", "op": ">", "value": 90},
    {"id": "mem-high", "kind": "threshold", "probe": "mem", "op": ">", "value": 90},
    {"id": "down", "kind": "threshold", "probe": "http", "op": "<", "value": 1},
]


def _composite(kind: str, **extra: object) -> dict[str, object]:
    rule: dict[str, object] = {
        "id": "combined",
        "kind": kind,
        "rules": ["cpu-high", "mem-high", "down"],
        "severity": "critical",
    }
    rule.update(extra)
    return rule


def _state(*, cpu: float, mem: float, up: float) -> list[observations.Observation]:
    return [obs(1, cpu, source="cpu"), obs(1, mem, source="mem"), obs(1, up, source="http")]


@pytest.mark.parametrize(
    ("kind", "extra", "firing_needed"),
    [("all", {}, 3), ("any", {}, 1), ("at_least", {"count": 2}, 2)],
)
def test_composites_fire_with_enough_children(
    kind: str, extra: dict[str, object], firing_needed: int
) -> None:
    cfg = config(*LEAVES, _composite(kind, **extra))
    states = [
        _state(cpu=10, mem=10, up=1),  # none firing
        _state(cpu=95, mem=10, up=1),  # one
        _state(cpu=95, mem=95, up=1),  # two
        _state(cpu=95, mem=95, up=0),  # three
    ]
    for firing, items in enumerate(states):
        got = decision(feed(cfg, items), "combined", now=2)
        expected = CRITICAL if firing >= firing_needed else OK
        assert got.severity == expected, (kind, firing)
        assert got.evidence["firing"] == firing
        assert got.evidence["needed"] == firing_needed


def test_composite_takes_its_own_severity_over_warning_children() -> None:
    cfg = config(*LEAVES, _composite("at_least", count=2))
    judge = feed(cfg, _state(cpu=95, mem=95, up=1))
    assert decision(judge, "cpu-high", now=2).severity.label == "warning"
    got = decision(judge, "combined", now=2)
    assert got.severity == CRITICAL
    assert got.evidence["firing_rules"] == ["cpu-high", "mem-high"]
    children = got.evidence["children"]
    assert [c["rule"] for c in children] == ["cpu-high", "mem-high", "down"]
    assert children[0]["severity"] == "warning"
    assert children[0]["summary"] == "cpu value 95 > 90"
    assert got.summary == "2 of 3 rules firing, 2 needed (cpu-high, mem-high)"


def test_children_without_data_do_not_fire() -> None:
    cfg = config(*LEAVES, _composite("any"))
    got = decision(feed(cfg, []), "combined", now=2)
    assert got.severity == OK
    assert all(c["no_data"] for c in got.evidence["children"])


def test_composites_of_composites() -> None:
    rules = [
        *LEAVES,
        {"id": "resources", "kind": "any", "rules": ["cpu-high", "mem-high"]},
        {"id": "rollback", "kind": "all", "rules": ["resources", "down"], "severity": "critical"},
    ]
    judge = feed(config(*rules), _state(cpu=10, mem=95, up=0))
    assert decision(judge, "rollback", now=2).severity == CRITICAL


def test_a_child_that_does_not_apply_to_the_target_does_not_fire() -> None:
    rules = [
        {**LEAVES[0], "targets": {"labels": {"role": "db"}}},
        LEAVES[2],
        {"id": "both", "kind": "all", "rules": ["cpu-high", "down"], "severity": "critical"},
    ]
    judge = feed(config(*rules), _state(cpu=95, mem=0, up=0))
    decided = {d.rule for d in judge.evaluate("web-1", now=2)}
    assert "cpu-high" not in decided
    got = decision(judge, "both", now=2)
    assert got.severity == OK
    assert got.evidence["children"][0]["summary"] == "cpu-high does not apply to web-1"


def test_unknown_children_are_refused() -> None:
    cfg = config(LEAVES[0], {"id": "c", "kind": "any", "rules": ["cpu-high", "nope"]})
    with pytest.raises(errors.ConfigError, match="unknown rule 'nope'"):
        engine.Engine(cfg)


def test_cycles_are_refused_even_if_loading_missed_them() -> None:
    cfg = config(
        LEAVES[0],
        {"id": "a", "kind": "any", "rules": ["cpu-high", "b"]},
        {"id": "b", "kind": "all", "rules": ["a"]},
    )
    with pytest.raises(errors.ConfigError, match="cycle: a -> b -> a"):
        engine.Engine(cfg)
