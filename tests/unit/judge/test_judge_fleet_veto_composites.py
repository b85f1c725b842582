"""The fleet veto inside composites (round 11): a child a peer not upgraded shows at the same
time is a fleet symptom, no witness of the upgrade's fault.

The fleet: web-1 and web-2 (role web), each with two error signals every 10 s (``5xx``, the
share of 5xx answers, and ``app``, error lines), 0.1 when well and 1.0 when failing; web-1
upgraded at 3600 s. ``confirmed`` (critical) needs both children (two independent witnesses,
each a warning alone). A dependency outage raises 5xx on both hosts: that child is not
web-1's upgrade's, so ``confirmed`` on web-1 is held though web-1's error lines are up too.
Both signals on web-1 alone: rolled back as before. A peer not checked yet: waited for, at
most ``wait``.
"""

from __future__ import annotations

from typing import Any

import pytest
from judge_helpers import CRITICAL, FIVES, REGRESSED, WARNING, decision, feed, obs, upgrade

from rollsafe.config import models
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine

UP = 3600.0
APP: dict[str, Any] = {**FIVES, "id": "app-errors-up", "probe": "app"}
LOGS: dict[str, Any] = {**FIVES, "id": "log-errors-up", "probe": "logs"}
CONFIRMED: dict[str, Any] = {
    "id": "confirmed",
    "kind": "all",
    "severity": "critical",
    "rules": ["5xx-up", "app-errors-up"],
}
TARGETS = [{"id": "web-1", "labels": {"role": "web"}}, {"id": "web-2", "labels": {"role": "web"}}]
VETO = {"rules": ["confirmed"], "match_labels": ["role"], "wait": "0s"}
Spans = dict[str, list[tuple[float, float]]]


def _config(*rules: dict[str, Any], veto: dict[str, Any] | None = None) -> models.RollsafeConfig:
    listed = list(rules) or [FIVES, APP, CONFIRMED]
    return models.RollsafeConfig.model_validate(
        {"targets": TARGETS, "rules": listed, "policy": {"fleet_veto": veto or VETO}}
    )


def _signals(
    target: str, failing: Spans, *, end: float = 7200.0, offset: float = 0.0
) -> list[observations.Observation]:
    """Every source of ``failing`` (and ``5xx``, ``app``) every 10 s: 1.0 inside its spans."""
    out = []
    for source in sorted({"5xx", "app", *failing}):
        spans = failing.get(source, [])
        for t in range(0, int(end), 10):
            value = 1.0 if any(a <= t < b for a, b in spans) else 0.1
            out.append(obs(t + offset, value, source=source, target=target))
    return out


def _web1(
    cfg: models.RollsafeConfig, items: list[observations.Observation], rule: str = "confirmed"
) -> list[tuple[float, verdicts.Severity, dict[str, Any], str]]:
    """web-1's decisions of ``rule`` as they change (time, severity, veto evidence, summary)."""
    return [
        (d.time, d.severity, d.evidence.get("fleet_veto", {}), d.summary)
        for d in engine.replay(cfg, sorted(items, key=lambda o: o.time), [upgrade(UP, "web-1")])
        if d.target == "web-1" and d.rule == rule
    ]


OUTAGE = [(5000.0, 5600.0)]


def test_a_dependency_outage_on_both_hosts_is_no_witness_of_the_upgrade() -> None:
    """(a) 5xx up on web-1 and web-2 (not upgraded) at once, error lines up on web-1 only:
    ``confirmed`` on web-1 is held, naming the child not counted and the peer showing it."""
    items = [
        *_signals("web-1", {"5xx": OUTAGE, "app": OUTAGE}),
        *_signals("web-2", {"5xx": OUTAGE}),
    ]
    judge = feed(_config(), [o for o in items if o.time <= 5200], [upgrade(UP, "web-1")])
    held = decision(judge, "confirmed", now=5200, target="web-1")
    assert held.severity is WARNING
    veto = held.evidence["fleet_veto"]
    assert veto["discounted"] == {"5xx-up": ["web-2"]}
    assert veto["peers"] == ["web-2"]
    assert (
        "5xx-up also firing on web-2, not upgraded: a fleet symptom, not counted; too few are "
        "left that only the upgraded host shows, held as a warning (fleet veto)"
    ) in held.summary
    # Both children fire on web-1: the composite itself is critical there, and without the
    # veto it rolls web-1 back; web-2's own ``confirmed`` is not critical (one child), so
    # the veto of round 8 (the whole rule on a peer) did not hold it.
    assert held.evidence["firing"] == 2
    assert decision(judge, "confirmed", now=5200, target="web-2").severity is verdicts.Severity.OK
    unvetoed = feed(
        _config(veto={"rules": []}), [o for o in items if o.time <= 5200], [upgrade(UP, "web-1")]
    )
    assert decision(unvetoed, "confirmed", now=5200, target="web-1").severity is CRITICAL
    # Over the whole replay, never critical; released when the outage ends on both.
    assert CRITICAL not in [s for _, s, _, _ in _web1(_config(), items)]


def test_a_fault_of_the_upgraded_host_alone_is_rolled_back_as_before() -> None:
    """(b) Both signals up on web-1 only (web-2 had a 5xx blip an hour before, long over):
    critical at the first check that fires both, nothing discounted."""
    items = [
        *_signals("web-1", {"5xx": OUTAGE, "app": OUTAGE}),
        *_signals("web-2", {"5xx": [(3000.0, 3100.0)]}),
    ]
    got = _web1(_config(), items)
    assert got[0][:2] == (5000, CRITICAL)
    assert got[0][2] == {}


def test_a_child_only_the_upgraded_host_shows_still_counts_in_at_least() -> None:
    """``at_least 2`` of three: the 5xx a peer shows is not counted, but web-1's two own
    signals (error lines and log errors) are enough; with only one own signal, held."""
    at_least = {**CONFIRMED, "kind": "at_least", "count": 2}
    at_least["rules"] = ["5xx-up", "app-errors-up", "log-errors-up"]
    cfg = _config(FIVES, APP, LOGS, at_least)
    both = {"5xx": OUTAGE, "app": OUTAGE, "logs": OUTAGE}
    peer = _signals("web-2", {"5xx": OUTAGE, "logs": []})
    got = _web1(cfg, [*_signals("web-1", both), *peer])
    assert got[0][:2] == (5000, CRITICAL)
    one = {"5xx": OUTAGE, "app": OUTAGE, "logs": []}
    got = _web1(cfg, [*_signals("web-1", one), *peer])
    assert CRITICAL not in [s for _, s, _, _ in got]


def test_a_nested_composite_counts_only_with_children_of_its_own() -> None:
    """``all`` of 5xx and (``any`` of error lines, log errors): web-1's error lines up alone
    keep the nested ``any`` web-1's own, so it counts; but 5xx is shared: held. With the 5xx
    web-1's own and only the log errors (the nested child) shared, the nested ``any`` has
    none left: held too, naming the grandchild."""
    nested = {
        "id": "lines",
        "kind": "any",
        "severity": "warning",
        "rules": ["app-errors-up", "log-errors-up"],
    }
    top = {**CONFIRMED, "rules": ["5xx-up", "lines"]}
    cfg = _config(FIVES, APP, LOGS, nested, top)
    web1 = _signals("web-1", {"5xx": OUTAGE, "logs": OUTAGE})
    shared_logs = _signals("web-2", {"logs": OUTAGE})
    judge = feed(cfg, [o for o in [*web1, *shared_logs] if o.time <= 5200], [upgrade(UP, "web-1")])
    held = decision(judge, "confirmed", now=5200, target="web-1")
    assert held.severity is WARNING
    assert held.evidence["fleet_veto"]["discounted"] == {"log-errors-up": ["web-2"]}
    # web-1's own error lines too: the nested ``any`` keeps a child of its own, and fires.
    own = _signals("web-1", {"5xx": OUTAGE, "app": OUTAGE, "logs": OUTAGE})
    assert _web1(cfg, [*own, *shared_logs])[0][:2] == (5000, CRITICAL)


def test_a_peer_not_checked_yet_is_waited_for_at_its_next_check() -> None:
    """(c) web-2's signals come 5 s after web-1's: when ``confirmed`` turns critical on web-1
    at 5000, web-2 was last seen at 4995. Held, waiting for web-2 about both children; at web-2's
    next check (5005) it is known: a shared outage holds it, web-1 alone rolls back."""
    veto = {**VETO, "wait": "3m"}
    web1 = _signals("web-1", {"5xx": OUTAGE, "app": OUTAGE})
    shared = _web1(_config(veto=veto), [*web1, *_signals("web-2", {"5xx": OUTAGE}, offset=5)])
    first = shared[0]
    assert first[:2] == (5000, WARNING)
    assert first[2]["awaited"] == {"5xx-up": ["web-2"], "app-errors-up": ["web-2"]}
    assert (
        "waiting up to 3m for web-2 (not upgraded) to show 5xx-up, app-errors-up or not"
        in (first[3])
    )
    assert CRITICAL not in [s for _, s, _, _ in shared]
    alone = _web1(_config(veto=veto), [*web1, *_signals("web-2", {}, offset=5)])
    assert [(t, s) for t, s, _, _ in alone[:2]] == [(5000, WARNING), (5005, CRITICAL)]


def test_a_peer_gone_silent_is_waited_for_at_most_the_wait() -> None:
    """(c) web-2's 5xx probe errors from 4900 on (its last value at 4890): web-1 waits, but
    no longer than ``wait`` (3m): rolled back by 5180, and no sooner than 5000."""
    web2 = [o for o in _signals("web-2", {}) if o.source == "app" or o.time < 4900]
    silent = [
        observations.Observation(
            time=float(t), target=ids.TargetId("web-2"), source="5xx", error="timeout"
        )
        for t in range(4900, 7200, 10)
    ]
    items = [*_signals("web-1", {"5xx": OUTAGE, "app": OUTAGE}), *web2, *silent]
    got = _web1(_config(veto={**VETO, "wait": "3m"}), items)
    assert got[0][:2] == (5000, WARNING)
    assert got[1][1] is CRITICAL
    assert 5000 < got[1][0] <= 5000 + 180


def test_any_fires_on_a_child_of_its_own_and_is_held_on_shared_ones_only() -> None:
    """``any``: the shared 5xx alone is held; web-1's own error lines fire it whatever the
    shared 5xx. (Round 8 compared the whole composite: web-2's ``any``, critical on its
    5xx, held web-1's own error lines too.)"""
    either = {**CONFIRMED, "kind": "any"}
    cfg = _config(FIVES, APP, either)
    peer = _signals("web-2", {"5xx": OUTAGE})
    only_shared = _web1(cfg, [*_signals("web-1", {"5xx": OUTAGE}), *peer])
    assert CRITICAL not in [s for _, s, _, _ in only_shared]
    assert only_shared[0][2]["discounted"] == {"5xx-up": ["web-2"]}
    own = _web1(cfg, [*_signals("web-1", {"5xx": OUTAGE, "app": OUTAGE}), *peer])
    assert own[0][:2] == (5000, CRITICAL)


def test_a_child_one_event_decides_is_never_discounted() -> None:
    """A child that one failing check fires (``consecutive: 1``) is an event on the upgraded
    host, its own whatever a peer shows (as the veto never holds such a rule alone): the
    peer's same event at the same time discounts nothing, and web-1's own 5xx completes it."""
    event = {
        "id": "app-error",
        "kind": "threshold",
        "severity": "warning",
        "probe": "app",
        "field": "value",
        "op": ">",
        "value": 0.5,
    }
    cfg = _config(FIVES, event, {**CONFIRMED, "rules": ["5xx-up", "app-error"]})
    items = [
        *_signals("web-1", {"5xx": OUTAGE, "app": OUTAGE}),
        *_signals("web-2", {"app": OUTAGE}),
    ]
    got = _web1(cfg, items)
    assert got[0][:2] == (5000, CRITICAL)


@pytest.mark.parametrize("shared", [True, False], ids=["5xx-on-both", "web-1-alone"])
def test_a_regression_child_is_discounted_when_the_peer_regresses_too(shared: bool) -> None:
    """A regression child (a warning alone) is asked of web-2 as a listed regression rule
    is: judged against web-1's period before its upgrade, or by the test that flagged web-1
    reaching its witness bar on web-2. 5xx up on both: not counted, held; web-1 alone: the
    composite rolls web-1 back."""
    regressed = {**REGRESSED, "id": "5xx-regressed", "severity": "warning", "probe": "5xx"}
    regressed["field"] = "value"
    cfg = _config(regressed, APP, {**CONFIRMED, "rules": ["5xx-regressed", "app-errors-up"]})
    peer = _signals("web-2", {"5xx": OUTAGE} if shared else {})
    got = _web1(cfg, [*_signals("web-1", {"5xx": OUTAGE, "app": OUTAGE}), *peer])
    assert got, "web-1's two signals must fire the composite"
    if shared:
        assert CRITICAL not in [s for _, s, _, _ in got]
        assert got[0][2]["discounted"] == {"5xx-regressed": ["web-2"]}
    else:
        assert got[0][1] is CRITICAL
        assert got[0][2] == {}
