"""The fleet veto: a rollback held when peers not upgraded fail the same rule at the same time.

The fleet here: web-1 and web-2 (role web) and db-1 (role db), a health check every 10 s,
web-1 upgraded at 3600 s. A shared dependency failing for the whole fleet slows web-1 and
web-2 alike: web-1's rollback is held as a warning naming web-2. A fault on web-1 alone, a
blip on web-2 that does not overlap it, an upgraded peer, a peer of another role, a peer
failing another rule: none holds it. The peer is read as of just before ``now``, so which of
two simultaneous observations is folded first never changes a decision (live and replay).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import (
    CRITICAL,
    DOWN,
    OK,
    REGRESSED,
    WARNING,
    decision,
    feed,
    obs,
    upgrade,
)

from rollsafe.config import models
from rollsafe.domain import errors, ids, observations, verdicts
from rollsafe.judge import engine

UP = 3600.0
SLOWER: dict[str, Any] = {
    "id": "slower",
    "kind": "baseline",
    "severity": "critical",
    "probe": "http",
    "field": "latency",
    "window": "1m",
    "before": "10m",
    "max_increase": 2.0,
    "min_samples": 3,
}
ERRORS: dict[str, Any] = {**SLOWER, "id": "errors-up", "probe": "app", "field": "value"}
TARGETS = [
    {"id": "web-1", "labels": {"role": "web"}},
    {"id": "web-2", "labels": {"role": "web"}},
    {"id": "db-1", "labels": {"role": "db"}},
]


def _config(*rules: dict[str, Any], veto: dict[str, Any] | None = None) -> models.RollsafeConfig:
    policy: dict[str, Any] = {}
    if veto is not None:
        policy["fleet_veto"] = veto
    return models.RollsafeConfig.model_validate(
        {"targets": TARGETS, "rules": list(rules) or [SLOWER], "policy": policy}
    )


# No wait: what is held at one instant (the wait is tested on its own below).
VETO = {"rules": ["slower"], "match_labels": ["role"], "wait": "0s"}


def _checks(
    target: str,
    slow: list[tuple[float, float]] = (),  # type: ignore[assignment]
    *,
    end: float = 7200.0,
    source: str = "http",
) -> list[observations.Observation]:
    """A check every 10 s from 0 to ``end``: 0.1 s, or 1 s inside the ``slow`` periods."""
    out = []
    for t in range(0, int(end), 10):
        latency = 1.0 if any(a <= t < b for a, b in slow) else 0.1
        if source == "http":
            out.append(obs(float(t), 1.0, source="http", target=target, latency=latency))
        else:
            out.append(obs(float(t), latency * 10, source=source, target=target))
    return out


def _fleet(
    web1: list[tuple[float, float]],
    web2: list[tuple[float, float]],
    db1: list[tuple[float, float]] = (),  # type: ignore[assignment]
    *,
    end: float = 7200.0,
) -> list[observations.Observation]:
    return [
        *_checks("web-1", web1, end=end),
        *_checks("web-2", web2, end=end),
        *_checks("db-1", db1, end=end),
    ]


def _judged(
    cfg: models.RollsafeConfig,
    items: list[observations.Observation],
    *,
    now: float,
    marks: list[observations.Mark] | None = None,
) -> verdicts.Decision:
    judge = feed(cfg, [o for o in items if o.time <= now], [upgrade(UP, "web-1"), *(marks or [])])
    return decision(judge, "slower", now=now, target="web-1")


def test_a_fleet_wide_slowdown_is_held_as_a_warning_naming_the_peer() -> None:
    items = _fleet([(5000, 5600)], [(5000, 5600)], [(5000, 5600)])
    held = _judged(_config(veto=VETO), items, now=5200)
    assert held.severity is WARNING
    assert held.evidence["fleet_veto"]["peers"] == ["web-2"]  # db-1: another role
    assert "also failing on web-2, not upgraded" in held.summary
    assert "held as a warning" in held.summary
    # Without the veto (``rules: []``), the same data rolls web-1 back.
    assert _judged(_config(veto={"rules": []}), items, now=5200).severity is CRITICAL
    # On by default (``rules: auto``: every critical rule it can hold), no labels to match.
    assert _judged(_config(), items, now=5200).evidence["fleet_veto"]["peers"] == [
        "db-1",
        "web-2",
    ]


def test_a_fault_on_the_upgraded_host_alone_is_not_held() -> None:
    # web-2 had a blip before web-1's fault, and db-1 (another role) fails at the same time.
    items = _fleet([(5000, 5600)], [(4000, 4100)], [(5000, 5600)])
    decided = _judged(_config(veto=VETO), items, now=5200)
    assert decided.severity is CRITICAL
    assert "fleet_veto" not in decided.evidence


def test_a_peer_failing_another_rule_does_not_hold_it() -> None:
    # web-2's error lines rise while web-1 slows down; web-2's latency does not.
    items = [
        *_checks("web-1", [(5000, 5600)]),
        *_checks("web-1", [], source="app"),
        *_checks("web-2", []),
        *_checks("web-2", [(5000, 5600)], source="app"),
    ]
    cfg = _config(SLOWER, ERRORS, veto={"rules": ["slower", "errors-up"], "wait": 0})
    judge = feed(cfg, [o for o in items if o.time <= 5200], [upgrade(UP, "web-1")])
    assert decision(judge, "slower", now=5200, target="web-1").severity is CRITICAL


def test_a_peer_upgraded_recently_does_not_count() -> None:
    items = _fleet([(5000, 5600)], [(5000, 5600)])
    marks = [upgrade(3000, "web-2")]
    assert _judged(_config(veto=VETO), items, now=5200, marks=marks).severity is CRITICAL
    # Upgraded longer ago than `not_upgraded_for`: a peer again.
    veto = {**VETO, "not_upgraded_for": "30m"}
    assert _judged(_config(veto=veto), items, now=5200, marks=marks).severity is WARNING


def test_the_veto_ends_when_the_peer_recovers_and_the_fault_outlasts_it() -> None:
    items = _fleet([(5000, 6500)], [(5000, 5600)])
    cfg = _config(veto=VETO)
    assert _judged(cfg, items, now=5500).severity is WARNING
    assert _judged(cfg, items, now=5800).severity is CRITICAL
    changed = [
        (d.time, d.severity)
        for d in engine.replay(cfg, items, [upgrade(UP, "web-1")])
        if d.target == "web-1" and d.rule == "slower"
    ]
    assert [s for _, s in changed] == [WARNING, CRITICAL, OK]
    # Held at the first breach, rolled back once web-2 had been well for a minute.
    assert changed[0][0] <= 5030
    assert 5600 < changed[1][0] <= 5670


def test_beyond_reach_after_the_upgrade_nothing_is_held() -> None:
    items = _fleet([(5000, 5600)], [(5000, 5600)])
    veto = {**VETO, "reach": "20m"}  # the slowdown starts 23 min after the upgrade
    assert _judged(_config(veto=veto), items, now=5200).severity is CRITICAL


def test_a_peer_keeps_the_reference_period_until_reach_and_no_more() -> None:
    # The slowdown starts 1h58m after the upgrade, within the default reach (2h): the peer,
    # never upgraded, is judged against web-1's 10 minutes before the upgrade, far beyond
    # what the rule itself reads (1m + 10m). Its window keeps reach plus that period (plus
    # the engine's margin), the longer of that and the rule's own history plus the wait;
    # not their sum.
    now = UP + 7100.0
    items = _fleet([(now - 100, now + 300)], [(now - 100, now + 300)], end=now + 300)
    veto = {"rules": ["slower"], "match_labels": ["role"], "wait": "0s"}
    cfg = _config(veto=veto)
    judge = feed(cfg, [o for o in items if o.time <= now], [upgrade(UP, "web-1")])
    assert decision(judge, "slower", now=now, target="web-1").severity is WARNING
    window = judge.window("web-2", "http")
    assert window is not None
    oldest = window.range(-1.0, now).first_time
    assert oldest is not None
    reach, before, margin, interval = 7200.0, 600.0, 60.0, 10.0
    # (A window may keep one value older than its span.)
    assert now - reach - before - margin - interval <= oldest <= UP - before


def test_once_an_instant_is_in_the_order_it_came_in_changes_nothing() -> None:
    # web-1 and web-2 start failing at the very same instant (a shared dependency).
    items = _fleet([(5000, 5600)], [(5000, 5600)])
    cfg = _config(veto=VETO)
    before = [o for o in items if o.time < 5000]
    at = [o for o in items if o.time == 5000]
    judged = []
    for order in (at, at[::-1]):
        judge = feed(cfg, [*before, *order], [upgrade(UP, "web-1")])
        got = decision(judge, "slower", now=5000, target="web-1")
        judged.append((got.severity, got.summary, got.evidence))
    assert judged[0] == judged[1]
    assert judged[0][0] is WARNING  # held from the very first breach


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    lag=st.sampled_from([-20.0, 0.0, 10.0, 30.0]),
    wait=st.sampled_from([0.0, 60.0, 180.0]),
)
def test_simultaneous_observations_in_any_order_give_the_same_decisions(
    seed: int, lag: float, wait: float
) -> None:
    """The daemon's path (every observation of an instant folded, in a shuffled order, then
    each target judged) and ``replay`` over a shuffled feed give the same decisions, whether
    web-2 starts failing before web-1, with it, or after it."""
    start = 5000.0 + lag
    items = [o for o in _fleet([(5000, 5400)], [(start, 5300)]) if o.time >= 3000]
    cfg = _config(veto={**VETO, "wait": wait})
    mark = upgrade(UP, "web-1")
    rng = random.Random(seed)
    by_time: dict[float, list[observations.Observation]] = {}
    for item in items:
        by_time.setdefault(item.time, []).append(item)
    live = engine.Engine(cfg)
    live.mark(mark)
    seen: list[tuple[float, verdicts.Severity, str]] = []
    last: verdicts.Severity = OK
    for t in sorted(by_time):
        batch = by_time[t]
        rng.shuffle(batch)
        for item in batch:
            live.observe(item)
        got = decision(live, "slower", now=t, target="web-1")
        if got.severity is not last:
            seen.append((t, got.severity, got.summary))
            last = got.severity
    shuffled = list(items)
    rng.shuffle(shuffled)
    replayed = [
        (d.time, d.severity, d.summary)
        for d in engine.replay(cfg, shuffled, [mark])
        if d.target == "web-1" and d.rule == "slower"
    ]
    assert seen == replayed
    # Held while web-2 fails; rolled back when web-1 fails alone (before web-2, or after):
    # web-2 is checked at the same instants, so it is known at once, and no wait is spent.
    assert [s for _, s, _ in seen][-1] is OK
    assert (seen[0][1] is WARNING) is (lag <= 0)
    assert seen[0][0] == 5000
    assert CRITICAL in [s for _, s, _ in seen]  # web-1 fails 100 s longer than web-2


@pytest.mark.parametrize(
    ("rules", "listed", "why"),
    [
        ([SLOWER], ["nope"], "unknown rule 'nope'"),
        (
            [{"id": "panic", "kind": "threshold", "probe": "kern", "op": ">=", "value": 1}],
            ["panic"],
            "fires on one event of 'panic'",
        ),
        (
            [
                {"id": "panic", "kind": "threshold", "probe": "kern", "op": ">=", "value": 1},
                SLOWER,
                {"id": "either", "kind": "any", "rules": ["panic", "slower"]},
            ],
            ["either"],
            "'either' fires on one event of 'panic'",
        ),
        (
            [
                {
                    "id": "regressed",
                    "kind": "regression",
                    "probe": "http",
                    "field": "latency",
                    "before": "30m",
                    "against": "cohort",
                },
            ],
            ["regressed"],
            "reads regression rule 'regressed', which compares with peers itself",
        ),
    ],
)
def test_rules_it_cannot_hold_soundly_are_refused(
    rules: list[dict[str, Any]], listed: list[str], why: str
) -> None:
    with pytest.raises(errors.ConfigError, match=why):
        engine.Engine(_config(*rules, veto={"rules": listed}))


def test_an_alert_among_two_witnesses_may_be_listed() -> None:
    alert = {"id": "alerting", "kind": "alert", "source": "am", "severity": "warning"}
    both = {"id": "confirmed", "kind": "at_least", "count": 2, "rules": ["alerting", "slower"]}
    warn = {**SLOWER, "severity": "warning"}
    engine.Engine(_config(warn, alert, both, veto={"rules": ["confirmed"]}))


@pytest.mark.parametrize(
    ("web2", "held"),
    [([(5000, 5600)], True), ([], False), ([(4000, 4300)], False)],
    ids=["fleet-wide", "web-1-alone", "web-2-earlier"],
)
def test_a_regression_test_is_held_while_a_peer_regresses_against_the_same_upgrade(
    web2: list[tuple[float, float]], held: bool
) -> None:
    """The peer never upgraded is tested against web-1's own period before its upgrade,
    with a sequential state of its own (web-2's own watch is untouched)."""
    cfg = _config(REGRESSED, veto={**VETO, "rules": ["regressed"]})
    items = _fleet([(5000, 5600)], web2)
    changed = [
        d
        for d in engine.replay(cfg, items, [upgrade(UP, "web-1")])
        if d.target == "web-1" and d.rule == "regressed" and d.severity is not OK
    ]
    assert changed, "web-1's slowdown must be flagged"
    first = changed[0]
    if held:
        assert first.severity is WARNING
        assert first.evidence["fleet_veto"]["peers"] == ["web-2"]
        assert CRITICAL not in [d.severity for d in changed]
    else:
        assert first.severity is CRITICAL
    # web-2, never upgraded, has no decision of its own from the rule.
    judge = feed(cfg, [o for o in items if o.time <= 5300], [upgrade(UP, "web-1")])
    assert decision(judge, "regressed", now=5300, target="web-2").severity is OK


def _offset(
    items: list[observations.Observation], target: str, by: float
) -> list[observations.Observation]:
    """``items`` with ``target``'s checks ``by`` seconds later (probes out of phase)."""
    return [
        observations.Observation(
            time=o.time + by, target=o.target, source=o.source, value=o.value, latency_s=o.latency_s
        )
        if o.target == target
        else o
        for o in items
    ]


def _web1(
    cfg: models.RollsafeConfig, items: list[observations.Observation], rule: str = "slower"
) -> list[tuple[float, verdicts.Severity, dict[str, Any]]]:
    return [
        (d.time, d.severity, d.evidence.get("fleet_veto", {}))
        for d in engine.replay(cfg, items, [upgrade(UP, "web-1")])
        if d.target == "web-1" and d.rule == rule
    ]


@pytest.mark.parametrize("fleet_wide", [True, False], ids=["fleet-wide", "web-1-alone"])
def test_a_peer_not_observed_since_is_waited_for_until_its_next_check(fleet_wide: bool) -> None:
    """web-2's checks come 5 s after web-1's: when web-1 turns critical at 5000, web-2 was
    last seen at 4995, before; its next check (5005) decides, and web-1, held, is judged
    again at that check (``Engine.held_targets``): one check of the peer, not the whole
    ``wait``, nor web-1's next check (5010)."""
    items = _offset(_fleet([(5000, 5600)], [(5000, 5600)] if fleet_wide else []), "web-2", 5)
    got = _web1(_config(veto={**VETO, "wait": "3m"}), items)
    assert got[0][:2] == (5000, WARNING)
    assert got[0][2]["waiting"] is True
    assert got[0][2]["waiting_for"] == ["web-2"]
    if fleet_wide:
        assert CRITICAL not in [s for _, s, _ in got]
        at = [o for o in items if o.time <= 5010]
        judge = feed(_config(veto={**VETO, "wait": "3m"}), at, [upgrade(UP, "web-1")])
        assert decision(judge, "slower", now=5010, target="web-1").evidence["fleet_veto"][
            "peers"
        ] == ["web-2"]
    else:
        assert got[1][:2] == (5005, CRITICAL)
        assert "fleet_veto" not in got[1][2]


SCRAPED: dict[str, Any] = {**REGRESSED, "id": "scraped", "probe": "prom", "field": "value"}


def _scraped(web2_regresses: bool) -> list[observations.Observation]:
    """A scrape every 30 s at :15 and :45 on web-1 and web-2 alike (0.1, or 1.0 from 5000
    on), and a health check every 10 s on both, at :00, :10 ...: the regression's 30 s
    buckets (from the upgrade plus its grace, 3660) close at :00 and :30, between scrapes,
    and web-1 is judged there on its health check's arrival."""
    out = []
    for t in range(15, 7200, 30):
        for target, regresses in (("web-1", True), ("web-2", web2_regresses)):
            value = 1.0 if regresses and 5000 <= t < 6500 else 0.1 + 0.001 * (t % 7)
            out.append(obs(float(t), value, source="prom", target=target))
    return [*out, *_checks("web-1", []), *_checks("web-2", [])]


@pytest.mark.parametrize("fleet_wide", [True, False], ids=["fleet-wide", "web-1-alone"])
def test_a_peer_scraped_as_recently_as_the_target_is_not_waited_for(fleet_wide: bool) -> None:
    """web-1's test crosses when a bucket closes (on a health check's instant, no scrape):
    its newest scrape and web-2's are the same instant, so web-2, judged at that ``now``,
    has seen as much as web-1. Alone, web-1 is rolled back there, as with the veto off (it
    waited for web-2's next scrape, 15 s, before); fleet-wide, web-2 fails too: held."""
    cfg = _config(SCRAPED, veto={**VETO, "rules": ["scraped"], "wait": "3m"})
    items = _scraped(fleet_wide)
    got = [(t, s) for t, s, _ in _web1(cfg, items, rule="scraped") if s is not OK]
    off = [(t, s) for t, s, _ in _web1(_config(SCRAPED, veto={"rules": []}), items, "scraped")]
    crossed = next(t for t, s in off if s is CRITICAL)
    assert crossed % 30 == 0, "the crossing must fall between two scrapes (a bucket's end)"
    if fleet_wide:
        assert got[0] == (crossed, WARNING)
        assert CRITICAL not in [s for _, s in got]
    else:
        assert got[0] == (crossed, CRITICAL)


def _refused(
    target: str, down: tuple[float, float], *, end: float = 7200.0, every: float = 10.0
) -> list[observations.Observation]:
    """A health check every ``every`` s, refused (value 0) inside ``down``."""
    return [
        obs(float(t), 0.0 if down[0] <= t < down[1] else 1.0, source="http", target=target)
        for t in range(0, int(end), int(every))
    ]


def test_a_network_partition_downs_both_hosts_and_the_upgraded_one_is_held() -> None:
    """held-out-5's shape: a switch reboots, web-1 (upgraded) and web-2 (not) refuse checks
    for a minute. web-2's third refused check comes 10 s after web-1's (its outage seen one check
    later): when web-1's ``down`` turns critical, web-2 has two failed checks, the condition
    starting to hold (pending), so web-1 waits; one check later web-2 is down too: held.
    ``down`` is a lasting threshold (3 checks over 30 s) and may be listed."""
    items = [*_refused("web-1", (5000, 5060)), *_refused("web-2", (5010, 5070))]
    cfg = _config(DOWN, veto={**VETO, "rules": ["down"], "wait": "3m"})
    got = _web1(cfg, items, rule="down")
    assert [s for _, s, _ in got] == [WARNING, OK]
    assert got[0][0] == 5030  # where ``down`` would have rolled web-1 back
    assert got[0][2]["waiting_for"] == ["web-2"]
    judge = feed(cfg, [o for o in items if o.time <= 5040], [upgrade(UP, "web-1")])
    held = decision(judge, "down", now=5040, target="web-1")
    assert held.evidence["fleet_veto"]["peers"] == ["web-2"]
    # Without the veto, the same data rolls web-1 back at its third refused check.
    off = _web1(_config(DOWN, veto={"rules": []}), items, rule="down")
    assert off[0][:2] == (5030, CRITICAL)


def test_a_crash_on_the_upgraded_host_alone_is_rolled_back_at_once() -> None:
    """``down`` listed: web-1 stays down, web-2 (not upgraded, checked at the same instants)
    answers: known and well, so no wait at all."""
    items = [*_refused("web-1", (5000, 7200)), *_refused("web-2", (0, 0))]
    cfg = _config(DOWN, veto={**VETO, "rules": ["down"], "wait": "3m"})
    got = _web1(cfg, items, rule="down")
    assert got[0][:2] == (5030, CRITICAL)
    assert got == _web1(_config(DOWN, veto={"rules": []}), items, rule="down")


def test_a_fault_on_the_upgraded_host_alone_goes_at_once() -> None:
    items = _fleet([(5000, 6500)], [])
    cfg = _config(veto={**VETO, "wait": "3m"})
    changed = _web1(cfg, items)
    assert [(t, s) for t, s, _ in changed[:1]] == [(5000, CRITICAL)]
    assert "fleet_veto" not in changed[0][2]


def test_with_no_peer_observed_there_is_no_wait() -> None:
    """web-2 and db-1 are configured but never reported: no witness either way."""
    items = _checks("web-1", [(5000, 6500)])
    changed = _web1(_config(veto={**VETO, "wait": "3m", "match_labels": []}), items)
    assert changed[0][:2] == (5000, CRITICAL)


def test_a_peer_gone_blind_is_waited_for_at_most_the_wait() -> None:
    """web-2's probe errors from 4900 on (its last value at 4890): its state is unknown, so
    web-1 waits, but a peer silent longer than ``wait`` (3m) is no witness: at 5080 web-1 rolls
    back (the bound; sooner than 3m after its own breach, since web-2 went silent first)."""
    items = [
        *_checks("web-1", [(5000, 6500)]),
        *[o for o in _checks("web-2", []) if o.time < 4900],
        *[
            observations.Observation(
                time=float(t), target=ids.TargetId("web-2"), source="http", error="timeout"
            )
            for t in range(4900, 7200, 10)
        ],
    ]
    changed = _web1(_config(veto={**VETO, "wait": "3m"}), items)
    assert [(t, s) for t, s, _ in changed[:2]] == [(5000, WARNING), (5080, CRITICAL)]
    assert changed[0][2]["waiting_for"] == ["web-2"]


def test_wait_beyond_reach_is_refused() -> None:
    with pytest.raises(ValueError, match="wait must not exceed"):
        models.FleetVeto.model_validate({"rules": ["slower"], "wait": "3h", "reach": "1h"})


def _instants(
    cfg: models.RollsafeConfig,
    items: list[observations.Observation],
    rng: random.Random,
    rule: str,
) -> list[tuple[float, verdicts.Severity, str]]:
    """The daemon's path: every observation of an instant folded in a shuffled order, then
    web-1 judged (when it reported, or when it is held and a peer did); its severity
    changes."""
    by_time: dict[float, list[observations.Observation]] = {}
    for item in items:
        by_time.setdefault(item.time, []).append(item)
    live = engine.Engine(cfg)
    live.mark(upgrade(UP, "web-1"))
    seen: list[tuple[float, verdicts.Severity, str]] = []
    last: verdicts.Severity = OK
    for t in sorted(by_time):
        batch = by_time[t]
        rng.shuffle(batch)
        for item in batch:
            live.observe(item)
        if all(o.target != "web-1" for o in batch) and "web-1" not in live.held_targets():
            continue  # as ``replay``: a target is judged when it reports, or held when a peer does
        got = decision(live, rule, now=t, target="web-1")
        if got.severity is not last:
            seen.append((t, got.severity, got.summary))
            last = got.severity
    return seen


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    start=st.sampled_from([-30.0, -10.0, 0.0, 10.0, 20.0, 60.0]),
    length=st.sampled_from([20.0, 40.0, 90.0]),
    phase=st.sampled_from([0.0, 3.0, 5.0, 9.0]),
    wait=st.sampled_from([0.0, 30.0, 180.0]),
)
def test_down_listed_decides_the_same_in_any_order_of_simultaneous_observations(
    seed: int, start: float, length: float, phase: float, wait: float
) -> None:
    """``down`` (a lasting threshold) listed, web-2's checks ``phase`` s out of step with
    web-1's and its outage ``start`` s after web-1's: the daemon's path over shuffled
    instants and ``replay`` over a shuffled feed give the same decisions on web-1."""
    items = [
        *[o for o in _refused("web-1", (5000, 5200)) if o.time >= 4000],
        *_offset(
            [o for o in _refused("web-2", (5000 + start, 5000 + start + length)) if o.time >= 4000],
            "web-2",
            phase,
        ),
    ]
    cfg = _config(DOWN, veto={**VETO, "rules": ["down"], "wait": wait})
    rng = random.Random(seed)
    seen = _instants(cfg, items, rng, "down")
    shuffled = list(items)
    rng.shuffle(shuffled)
    replayed = [
        (d.time, d.severity, d.summary)
        for d in engine.replay(cfg, shuffled, [upgrade(UP, "web-1")])
        if d.target == "web-1" and d.rule == "down"
    ]
    assert seen == replayed
    # web-1 is down 50 s longer than any outage of web-2's: always rolled back.
    assert CRITICAL in [s for _, s, _ in seen]


@settings(max_examples=30, deadline=None)
@given(
    fault=st.sampled_from([(5000.0, 5120.0), (5000.0, 7000.0), (4500.0, 4700.0)]),
    blip=st.sampled_from([None, (3000.0, 3040.0), (6000.0, 6040.0), (4200.0, 4260.0)]),
    phase=st.sampled_from([0.0, 2.0, 5.0, 9.0]),
    every=st.sampled_from([10.0, 15.0]),
    wait=st.sampled_from([0.0, 60.0, 180.0]),
)
def test_a_fault_on_the_upgraded_host_alone_is_never_vetoed(
    fault: tuple[float, float],
    blip: tuple[float, float] | None,
    phase: float,
    every: float,
    wait: float,
) -> None:
    """A canary's own outage, its peers not upgraded and well at the time (web-2 may have a
    blip of its own that does not overlap it; its checks out of step, every 10 or 15 s): the
    rollback comes, at most one of web-2's checks and one of web-1's later than with the veto
    off (web-2's next check tells; web-1's next judgement acts on it), never more than
    ``wait`` later."""
    web2 = _offset(_refused("web-2", blip or (0.0, 0.0), every=every), "web-2", phase)
    items = [*_refused("web-1", fault), *web2]
    on = _web1(_config(DOWN, veto={**VETO, "rules": ["down"], "wait": wait}), items, "down")
    off = _web1(_config(DOWN, veto={"rules": []}), items, "down")
    first_on = next(t for t, s, _ in on if s is CRITICAL)
    first_off = next(t for t, s, _ in off if s is CRITICAL)
    assert first_off <= first_on <= first_off + every + 10.0
    assert first_on - first_off <= wait
