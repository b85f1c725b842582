"""The fleet veto and the rules one event decides (round 12): a count over a window that the
first event fires (``above: 0``, as the presets' ``oom-kill-now``, ``stall-now`` and the
database host's ``oom-kills``) is an event on the upgraded host, its own whatever a peer
shows at the same time: never discounted inside a composite, never held alone. A count
that needs several events stays holdable, and a failed health check stays a symptom that a
peer's failure explains.

The fleet: web-1 and web-2 (role web), web-1 upgraded at 3600 s. Each reports every 10 s
``5xx`` (0.1 when well, 1.0 when failing), ``health`` (a check: status 200, or 500 when
failing) and ``oom`` (a log probe: the OOM kills seen since its last look, 0 mostly).
"""

from __future__ import annotations

from typing import Any

import pytest
from judge_helpers import CRITICAL, FIVES, WARNING, obs, upgrade

from rollsafe.config import models
from rollsafe.domain import errors, observations, verdicts
from rollsafe.judge import engine, vetoes

UP = 3600.0
OOM_NOW: dict[str, Any] = {
    "id": "oom-now",
    "kind": "rate",
    "severity": "warning",
    "probe": "oom",
    "window": "1m",
    "per": "1m",
    "above": 0,
}
CHECK_FAILED_NOW: dict[str, Any] = {
    "id": "check-failed-now",
    "kind": "ratio",
    "severity": "warning",
    "probe": "health",
    "when": {"field": "status", "op": ">=", "value": 500},
    "window": "1m",
    "above": 0,
    "min_samples": 1,
}
TARGETS = [{"id": "web-1", "labels": {"role": "web"}}, {"id": "web-2", "labels": {"role": "web"}}]
Events = dict[str, list[float]]


def _config(*rules: dict[str, Any], veto: Any = None) -> models.RollsafeConfig:
    fleet_veto = veto or {"rules": "auto", "match_labels": ["role"], "wait": "0s"}
    return models.RollsafeConfig.model_validate(
        {"targets": TARGETS, "rules": list(rules), "policy": {"fleet_veto": fleet_veto}}
    )


def _signals(
    target: str, *, fives: tuple[float, float] | None = None, events: Events | None = None
) -> list[observations.Observation]:
    """``target``'s three sources every 10 s to 7200 s: 5xx at 1.0 inside ``fives``; at each
    time of ``events["oom"]`` one OOM kill, at each of ``events["health"]`` a failed check."""
    chosen = events or {}
    out = []
    for t in range(0, 7200, 10):
        failing = fives is not None and fives[0] <= t < fives[1]
        out.append(obs(t, 1.0 if failing else 0.1, source="5xx", target=target))
        kills = float(chosen.get("oom", []).count(t))
        out.append(obs(t, kills, source="oom", target=target))
        status = 500 if t in chosen.get("health", []) else 200
        out.append(obs(t, 1.0, source="health", target=target, status=status))
    return out


def _web1(
    cfg: models.RollsafeConfig, items: list[observations.Observation], rule: str
) -> list[tuple[float, verdicts.Severity, dict[str, Any]]]:
    """web-1's decisions of ``rule`` as they change (time, severity, veto evidence)."""
    return [
        (d.time, d.severity, d.evidence.get("fleet_veto", {}))
        for d in engine.replay(cfg, sorted(items, key=lambda o: o.time), [upgrade(UP, "web-1")])
        if d.target == "web-1" and d.rule == rule
    ]


OOM_HURT: dict[str, Any] = {
    "id": "oom-hurt",
    "kind": "all",
    "severity": "critical",
    "rules": ["oom-now", "5xx-up"],
}


def test_a_composites_count_child_the_first_event_fires_is_never_discounted() -> None:
    """web-1: an OOM kill at 5000 s and its 5xx up from then on. web-2, not upgraded, had
    an OOM kill of its own at the same moment. Round 11 discounted ``oom-now`` (web-2 shows
    it) and held the composite, one child of two left; the kill on web-1 is web-1's own:
    rolled back at the first check."""
    cfg = _config(OOM_NOW, FIVES, OOM_HURT)
    web1 = _signals("web-1", fives=(5000.0, 5600.0), events={"oom": [5000.0]})
    got = _web1(cfg, [*web1, *_signals("web-2", events={"oom": [5000.0]})], "oom-hurt")
    assert got[0][:2] == (5000, CRITICAL)
    assert got[0][2] == {}


def test_a_peers_failed_check_discounts_the_check_never_the_kill() -> None:
    """``oom-took-service-down``'s shape (an OOM kill, and a failed check within a minute):
    web-1's kill at 5000 s and its checks failing from then on; web-2 fails one check at
    the same moment. The failed check is a symptom a blip under the whole fleet causes too:
    discounted while web-2 shows it; the kill never is. Held at 5000 s, rolled back at
    web-1's first failed check once web-2's has left the window (5060 s)."""
    kill_now = {**OOM_NOW, "window": "5m", "per": "5m"}
    hurt = {**OOM_HURT, "rules": ["oom-now", "check-failed-now"]}
    cfg = _config(kill_now, CHECK_FAILED_NOW, hurt)
    down = [float(t) for t in range(5000, 5300, 10)]
    web1 = _signals("web-1", events={"oom": [5000.0], "health": down})
    got = _web1(cfg, [*web1, *_signals("web-2", events={"health": [5000.0]})], "oom-hurt")
    assert got[0][:2] == (5000, WARNING)
    assert got[0][2]["discounted"] == {"check-failed-now": ["web-2"]}
    assert got[1][:2] == (5060, CRITICAL)


def test_a_top_level_count_the_first_event_fires_is_never_held() -> None:
    """A critical count over 10 minutes with ``above: 0`` (the database host's
    ``oom-kills``): one OOM kill on web-1 rolls it back though web-2, not upgraded, had one
    at the same moment. ``rules: auto`` leaves it out and listing it is refused, as for an
    alert or a one-check threshold (round 11 held it as a fleet symptom)."""
    kills = {**OOM_NOW, "id": "oom-kills", "severity": "critical", "window": "10m", "per": "10m"}
    cfg = _config(kills)
    both = {"oom": [5000.0]}
    items = [*_signals("web-1", events=both), *_signals("web-2", events=both)]
    got = _web1(cfg, items, "oom-kills")
    assert got[0][:2] == (5000, CRITICAL)
    assert got[0][2] == {}
    by_id = {"oom-kills": models.RateRule.model_validate(kills)}
    assert vetoes.holdable(by_id) == []
    with pytest.raises(errors.ConfigError, match="fires on one event of 'oom-kills'"):
        vetoes.sources_needed(by_id, ["oom-kills"])


def test_a_count_needing_three_events_is_still_held_when_a_peer_shows_it() -> None:
    """``above: 2`` over 10 minutes needs three kills: a count, no single event, that the
    veto holds when web-2 (not upgraded) shows it at the same time (a fleet-wide cause);
    web-1 alone: rolled back."""
    kills = {
        **OOM_NOW,
        "id": "oom-kills",
        "severity": "critical",
        "window": "10m",
        "per": "10m",
        "above": 2,
    }
    cfg = _config(kills)
    three = {"oom": [5000.0, 5010.0, 5020.0]}
    shared = _web1(
        cfg, [*_signals("web-1", events=three), *_signals("web-2", events=three)], "oom-kills"
    )
    assert shared, "three kills must fire the rule on web-1"
    assert CRITICAL not in [s for _, s, _ in shared]
    assert shared[0][1] is WARNING
    assert shared[0][2]["peers"] == ["web-2"]
    alone = _web1(cfg, [*_signals("web-1", events=three), *_signals("web-2")], "oom-kills")
    assert alone[0][:2] == (5020, CRITICAL)


@pytest.mark.parametrize(
    ("changes", "one_event"),
    [
        ({}, True),  # above 0, per = window: the first kill
        ({"per": "1m", "window": "5m", "above": 0.1}, True),  # one kill: 0.2 a minute
        ({"above": 1}, False),  # two kills
        ({"per": "1m", "window": "5m", "above": 0.2}, False),  # one kill is 0.2, not above
        ({"min_samples": 2}, False),  # the kill's own observation is not enough
        ({"same_program": True, "steady": 2.0}, False),  # three crashes at a steady pace
        ({"same_program": True}, True),  # the busiest program's first crash
    ],
)
def test_which_counts_one_event_decides(changes: dict[str, Any], one_event: bool) -> None:
    """A count is decided by one event when its first event fires it: one event over the
    whole window is a rate of ``per / window``, above ``above``, on its own observation
    (``min_samples: 1``), without a steady pace to wait for. Such a rule is never held."""
    rule = {**OOM_NOW, "severity": "critical", "window": "10m", "per": "10m", **changes}
    by_id = {"oom-now": models.RateRule.model_validate(rule)}
    assert vetoes.holdable(by_id) == ([] if one_event else ["oom-now"])
