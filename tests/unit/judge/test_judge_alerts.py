"""The `alert` rule and the alert board: several alerts per source, any delivery order.

Duplicates, reordering and firing -> resolved -> firing must give exactly the decisions the
alerts' own times say, whatever order (and how many times) they arrive in.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import CRITICAL, OK, TARGET, WARNING, config, feed, obs

from rollsafe.domain import alerts, ids, observations
from rollsafe.judge import alerts as judge_alerts
from rollsafe.judge import engine

FIRING = observations.AlertState.FIRING
RESOLVED = observations.AlertState.RESOLVED


def alert(
    time,
    state,
    *,
    name="HighErrorRate",
    identity=None,
    severity="warning",
    labels=None,
    target=TARGET,
    source="am",
):
    details = alerts.AlertDetails(
        identity=identity or name, name=name, severity=severity, labels=labels or {}
    )
    return observations.Observation(
        time=time,
        target=ids.TargetId(target),
        source=source,
        value=1.0 if state is FIRING else 0.0,
        alert_state=state,
        text=details.to_text(),
    )


RULE = {"id": "am", "kind": "alert", "source": "am", "severity": "critical"}


def decide(cfg, items, now=1000.0, rule="am"):
    judge = feed(cfg, items)
    [decision] = [d for d in judge.evaluate(TARGET, now=now) if d.rule == rule]
    return decision


def test_firing_then_resolved():
    cfg = config(RULE)
    assert decide(cfg, []).severity is OK
    assert decide(cfg, []).evidence["no_data"] is True
    firing = decide(cfg, [alert(100, FIRING)])
    assert firing.severity is CRITICAL
    assert firing.evidence["firing"][0]["since"] == 100
    assert decide(cfg, [alert(100, FIRING), alert(200, RESOLVED)]).severity is OK


def test_resolved_delivered_before_its_firing_still_wins():
    cfg = config(RULE)
    assert decide(cfg, [alert(200, RESOLVED), alert(100, FIRING)]).severity is OK


def test_firing_resolved_firing_fires_again():
    cfg = config(RULE)
    items = [alert(100, FIRING), alert(200, RESOLVED), alert(300, FIRING)]
    for order in itertools.permutations(items):
        assert decide(cfg, list(order)).severity is CRITICAL
    # ...and evaluated between the two incidents, it is quiet.
    assert decide(cfg, items, now=250).severity is OK


def test_one_alert_resolving_does_not_hide_another():
    cfg = config(RULE)
    items = [
        alert(100, FIRING, identity="disk-root", name="DiskFull"),
        alert(110, FIRING, identity="disk-var", name="DiskFull"),
        alert(120, RESOLVED, identity="disk-var", name="DiskFull"),
    ]
    decision = decide(cfg, items)
    assert decision.severity is CRITICAL
    assert [a["id"] for a in decision.evidence["firing"]] == ["disk-root"]


def test_duplicates_change_nothing():
    cfg = config(RULE)
    once = decide(cfg, [alert(100, FIRING)])
    many = decide(cfg, [alert(100, FIRING)] * 5)
    assert once == many


def test_filters_by_name_labels_and_severity():
    cfg = config(
        {**RULE, "id": "named", "alertname": ["DiskFull"]},
        {**RULE, "id": "team", "labels": {"team": "web"}},
        {**RULE, "id": "crit", "min_severity": "critical"},
    )
    items = [alert(100, FIRING, name="HighErrorRate", severity="warning", labels={"team": "db"})]
    judge = feed(cfg, items)
    severities = {d.rule: d.severity for d in judge.evaluate(TARGET, now=1000)}
    assert (severities["named"], severities["team"], severities["crit"]) == (OK, OK, OK)
    judge.observe(
        alert(
            150, FIRING, name="DiskFull", identity="d", severity="critical", labels={"team": "web"}
        )
    )
    severities = {d.rule: d.severity for d in judge.evaluate(TARGET, now=1000)}
    assert (severities["named"], severities["team"], severities["crit"]) == (
        CRITICAL,
        CRITICAL,
        CRITICAL,
    )


def test_other_targets_and_sources_are_separate():
    cfg = config(RULE, targets=[{"id": TARGET}, {"id": "web-2"}])
    items = [alert(100, FIRING, target="web-2"), alert(100, FIRING, source="grafana")]
    assert decide(cfg, items).severity is OK


def test_cannot_tell_leaves_states_alone_and_warns_as_blindness():
    cfg = config(RULE, policy={"blind_after": 2})
    errors_ = [obs(t, source="am", error="alert X: cannot tell") for t in (200, 210)]
    judge = feed(cfg, [alert(100, FIRING), *errors_])
    decisions = {d.rule: d.severity for d in judge.evaluate(TARGET, now=1000)}
    assert decisions["am"] is CRITICAL  # still firing: "no data" is not "resolved"
    assert decisions["blind:am"] is WARNING


def test_cross_validated_with_a_probe():
    cfg = config(
        {**RULE, "severity": "warning"},
        {"id": "down", "kind": "threshold", "probe": "http", "op": "<", "value": 1},
        {"id": "both", "kind": "all", "rules": ["am", "down"], "severity": "critical"},
    )
    alone = feed(cfg, [alert(100, FIRING), obs(100, 1.0, source="http")])
    assert {d.rule: d.severity for d in alone.evaluate(TARGET, now=1000)}["both"] is OK
    confirmed = feed(cfg, [alert(100, FIRING), obs(100, 0.0, source="http")])
    assert {d.rule: d.severity for d in confirmed.evaluate(TARGET, now=1000)}["both"] is CRITICAL


def test_a_threshold_rule_reads_an_alert_source_like_a_probe():
    cfg = config(
        {
            "id": "t",
            "kind": "threshold",
            "probe": "am",
            "op": ">=",
            "value": 1,
            "severity": "critical",
        }
    )
    assert decide(cfg, [alert(100, FIRING)], rule="t").severity is CRITICAL
    assert decide(cfg, [alert(100, FIRING), alert(200, RESOLVED)], rule="t").severity is OK


def test_memory_is_bounded_and_forgets_resolved_alerts_first():
    board = judge_alerts.Board(max_alerts=3)
    board.fold(alert(100, FIRING, identity="keep"))
    for n in range(5):
        board.fold(alert(200 + n, FIRING, identity=f"r{n}"))
        board.fold(alert(300 + n, RESOLVED, identity=f"r{n}"))
    firing = board.firing(TARGET, "am", now=1000)
    assert [a.details.identity for a in firing] == ["keep"]


_events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=50),  # time
        st.sampled_from([FIRING, RESOLVED]),
        st.sampled_from(["a", "b", "c"]),  # identity
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(events=_events, seed=st.integers(), now=st.integers(min_value=0, max_value=60))
def test_any_order_and_any_duplicates_give_the_same_decision(events, seed, now):
    cfg = config(RULE)
    items = [alert(t, state, identity=i) for t, state, i in events]
    shuffled = items + items[: len(items) // 2]  # some delivered twice
    random.Random(seed).shuffle(shuffled)
    one = engine.Engine(cfg)
    for item in items:
        one.observe(item)
    two = engine.Engine(cfg)
    for item in shuffled:
        two.observe(item)
    assert one.evaluate(TARGET, now=now) == two.evaluate(TARGET, now=now)


_named_events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=50),  # time
        st.sampled_from([FIRING, RESOLVED]),
        st.sampled_from(["a", "b", "c", "d"]),  # identity
        st.sampled_from(["Disk", "Cpu"]),  # name (the newest delivery's describes the alert)
        st.sampled_from(["critical", "warning"]),
    ),
    max_size=14,
)
FILTERED = {**RULE, "alertname": ["Disk"], "min_severity": "critical"}


@settings(max_examples=200, deadline=None)
@given(events=_named_events, rule=st.sampled_from([RULE, FILTERED]))
def test_judging_between_deliveries_gives_what_judging_all_at_once_gives(events, rule):
    # The running tallies (updated delivery by delivery) against a board built from scratch.
    cfg = config(rule)
    live = engine.Engine(cfg)
    seen = []
    for t, state, identity, name, severity in events:
        item = alert(t, state, identity=identity, name=name, severity=severity)
        seen.append(item)
        live.observe(item)
        fresh = engine.Engine(cfg)
        for earlier in seen:
            fresh.observe(earlier)
        for now in (100, t):  # live (after every state) and, at t, possibly a look back
            assert live.evaluate(TARGET, now=now) == fresh.evaluate(TARGET, now=now)


def test_judging_cost_does_not_grow_with_the_alerts_firing(monkeypatch):
    """Each delivery is followed by judging its target, as in the daemon. Counted: how many
    alerts are looked at (matched against the rule, or decoded), per delivery."""
    looked = 0
    real_matches, real_details = judge_alerts.matches, alerts.details_of

    def counted_matches(rule, active):
        nonlocal looked
        looked += 1
        return real_matches(rule, active)

    def counted_details(obs):
        nonlocal looked
        looked += 1
        return real_details(obs)

    monkeypatch.setattr(judge_alerts, "matches", counted_matches)
    monkeypatch.setattr(alerts, "details_of", counted_details)
    judge = engine.Engine(config(RULE))
    for n in range(500):
        judge.observe(alert(100 + n, FIRING, identity=f"a{n}", name=f"Check{n}"))
        decisions = judge.evaluate(TARGET, now=1000)
    # A few looks per delivery (decode it, match it), not one per alert already firing.
    assert looked <= 5 * 500, looked
    [decision] = [d for d in decisions if d.rule == "am"]
    assert decision.severity is CRITICAL
    assert decision.evidence["firing_count"] == 500
    assert len(decision.evidence["firing"]) == judge_alerts.EVIDENCE_LIMIT
    assert decision.evidence["firing"][0]["name"] == "Check0"  # the oldest first
    assert decision.summary.startswith("am: 500 alert(s) firing: Check0, Check1,")
    assert decision.summary.endswith("and 490 more")
