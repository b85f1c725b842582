"""The fleet veto's witnesses of another role (round 9): a network event slows every host's
check at once, whatever its role.

held-out-8 ``healthy-canary-then-fleet-network-event``: web-1 (the canary) and web-2 (the
next wave) are both upgraded, so the web role has no peer left that was not; a switch
reconverging for 6 minutes doubles every host's check latency, and web-2's latency test
crossed. batch-1, another role never upgraded, slowed on its own check at the same time:
the test that flagged web-2, asked of batch-1's check over the same buckets, reaches the
witness bar (``vetoes.Veto.other_roles``). A bad release on the upgraded hosts alone, a host
of another role upgraded itself, a blip long before, or a service metric rather than a
check's round trip: rolled back as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from judge_helpers import CRITICAL, REGRESSED, WARNING, obs, upgrade

from rollsafe.config import models
from rollsafe.domain import observations, verdicts
from rollsafe.judge import engine, vetoes

UP = 3600.0
WEB = ["web-1", "web-2"]
# The same regression, bound to the web hosts' check and to the batch host's runner check
# (another preset would name them so: web-service.latency-up, batch-host.latency-up).
WEB_RULE: dict[str, Any] = {**REGRESSED, "targets": {"labels": {"role": "web"}}}
BATCH_RULE: dict[str, Any] = {
    **REGRESSED,
    "id": "runner-regressed",
    "probe": "runner",
    "targets": {"labels": {"role": "batch"}},
}


def _config(
    *rules: dict[str, Any], veto: dict[str, Any], web: list[str] = WEB
) -> models.RollsafeConfig:
    targets = [{"id": t, "labels": {"role": "web"}} for t in web]
    targets.append({"id": "batch-1", "labels": {"role": "batch"}})
    return models.RollsafeConfig.model_validate(
        {"targets": targets, "rules": list(rules), "policy": {"fleet_veto": veto}}
    )


def _latency(
    target: str, slow: Callable[[int], bool], *, source: str = "http"
) -> list[observations.Observation]:
    """A check every 10 s: 0.6 s where ``slow``, else 0.10 to 0.16 s (a little noise)."""
    return [
        obs(
            float(t),
            1.0,
            source=source,
            target=target,
            latency=0.6 if slow(t) else 0.1 + 0.01 * (t % 7),
        )
        for t in range(0, 6000, 10)
    ]


def _event(t: int) -> bool:
    return 5000 <= t < 5360  # six minutes


def _lasting(t: int) -> bool:
    return t >= 5000


def _never(t: int) -> bool:
    return False


def _changes(
    cfg: models.RollsafeConfig,
    items: list[observations.Observation],
    marks: list[observations.Mark],
    target: str,
    rule: str = "regressed",
) -> list[tuple[float, verdicts.Severity, dict[str, Any], str]]:
    return [
        (d.time, d.severity, d.evidence.get("fleet_veto", {}), d.summary)
        for d in engine.replay(cfg, items, marks)
        if d.target == target and d.rule == rule
    ]


CANARY_THEN_WAVE = [upgrade(UP, "web-1"), upgrade(UP + 300, "web-2")]


def test_a_network_event_is_witnessed_by_a_host_of_another_role() -> None:
    cfg = _config(WEB_RULE, BATCH_RULE, veto={"rules": "auto", "wait": "0s"})
    items = [
        *_latency("web-1", _event),
        *_latency("web-2", _event),
        *_latency("batch-1", _event, source="runner"),
    ]
    off = _config(WEB_RULE, BATCH_RULE, veto={"rules": []})
    # web-2's late start (21 minutes after its upgrade) crosses as the event ends; web-1's
    # tests, begun earlier, hold more healthy buckets and do not (as in the recording).
    assert [s for _, s, _, _ in _changes(off, items, CANARY_THEN_WAVE, "web-2")] == [CRITICAL]
    assert _changes(off, items, CANARY_THEN_WAVE, "web-1") == []
    got = _changes(cfg, items, CANARY_THEN_WAVE, "web-2")
    assert got, "web-2's slowdown must be flagged"
    assert CRITICAL not in [s for _, s, _, _ in got]
    _, severity, veto, summary = got[0]
    assert severity is WARNING
    assert veto["peers"] == ["batch-1"]  # the other web host is upgraded: no peer
    assert veto["other_roles"] == ["batch-1"]
    witness = veto["witness"]
    assert witness["other_roles"] == {"batch-1": "runner"}
    assert witness["e_threshold"] == 1 / vetoes.WITNESS_ALPHA  # one host asked
    assert witness["peer_e_values"]["batch-1"] >= witness["e_threshold"]
    assert "another role, not upgraded" in summary


def test_a_bad_release_on_every_upgraded_host_is_still_rolled_back() -> None:
    """web-1 and web-2 carry the release and slow; batch-1, not upgraded, is well: asked
    the same test over the same buckets, it witnesses nothing."""
    cfg = _config(WEB_RULE, BATCH_RULE, veto={"rules": "auto", "wait": "0s"})
    off = _config(WEB_RULE, BATCH_RULE, veto={"rules": []})
    items = [
        *_latency("web-1", _lasting),
        *_latency("web-2", _lasting),
        *_latency("batch-1", _never, source="runner"),
    ]
    for target in WEB:
        got = _changes(cfg, items, CANARY_THEN_WAVE, target)
        assert got[0][:2] == _changes(off, items, CANARY_THEN_WAVE, target)[0][:2]
        assert got[0][1] is CRITICAL
        assert got[0][2] == {}  # not held, not waited for


def test_a_host_of_another_role_upgraded_itself_is_no_witness() -> None:
    """A system upgrade rolled out to every role: batch-1 got it too (its mark 20 minutes
    before web-1's); its slowdown may be the same release's, so it witnesses nothing."""
    cfg = _config(WEB_RULE, BATCH_RULE, veto={"rules": "auto", "wait": "0s"})
    items = [
        *_latency("web-1", _event),
        *_latency("web-2", _event),
        *_latency("batch-1", _event, source="runner"),
    ]
    marks = [*CANARY_THEN_WAVE, upgrade(UP - 1200, "batch-1")]
    got = _changes(cfg, items, marks, "web-2")
    assert got[0][1] is CRITICAL


def test_a_blip_of_another_role_long_before_witnesses_nothing() -> None:
    cfg = _config(WEB_RULE, BATCH_RULE, veto={"rules": "auto", "wait": "0s"})
    items = [
        *_latency("web-1", _event),
        *_latency("web-2", _event),
        *_latency("batch-1", lambda t: 4000 <= t < 4360, source="runner"),
    ]
    got = _changes(cfg, items, CANARY_THEN_WAVE, "web-2")
    assert got[0][1] is CRITICAL


def test_only_a_check_s_round_trip_is_compared_across_roles() -> None:
    """A regression of a service's own metric (a value, not a check's latency) says nothing
    comparable on a host of another role: its slowdown there holds nothing."""
    metric = {**WEB_RULE, "field": "value"}
    batch_metric = {**BATCH_RULE, "field": "value"}
    cfg = _config(metric, batch_metric, veto={"rules": "auto", "wait": "0s"})

    def values(target: str, source: str) -> list[observations.Observation]:
        return [
            obs(float(t), 0.6 if _event(t) else 0.1 + 0.01 * (t % 7), source=source, target=target)
            for t in range(0, 6000, 10)
        ]

    items = [*values("web-1", "http"), *values("web-2", "http"), *values("batch-1", "runner")]
    got = _changes(cfg, items, CANARY_THEN_WAVE, "web-2")
    assert got[0][1] is CRITICAL


def test_the_witness_bar_is_shared_with_the_peers_of_the_same_role() -> None:
    """web-3, not upgraded, is a peer of web-2's role; batch-1 another role's host: both are
    asked, each at 1 / (WITNESS_ALPHA / 2), so that some healthy host of either kind
    witnesses a canary's own regression with probability at most WITNESS_ALPHA."""
    cfg = _config(WEB_RULE, BATCH_RULE, veto={"rules": "auto", "wait": "0s"}, web=[*WEB, "web-3"])
    items = [
        *_latency("web-1", _event),
        *_latency("web-2", _event),
        *_latency("web-3", _event),
        *_latency("batch-1", _event, source="runner"),
    ]
    got = _changes(cfg, items, CANARY_THEN_WAVE, "web-2")
    _, severity, veto, _ = got[0]
    assert severity is WARNING
    assert veto["peers"] == ["web-3", "batch-1"]
    assert veto["other_roles"] == ["batch-1"]
    assert veto["witness"]["e_threshold"] == 2 / vetoes.WITNESS_ALPHA
