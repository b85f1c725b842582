"""The fleet veto's peers, round 8: what counts as a peer showing the same symptom, a target
with no upgrade of its own, and when a held target is judged again.

* A regression rule is critical on the first of its many tests to reach its bar; a peer
  with the very same shift, and noise of its own, may reach that bar later or never. The
  veto asks the peer the *test that flagged the target* (same tier, same start, same
  reference) at a witness bar (100 for one peer), read around where it crossed on the
  target (``vetoes.Veto.witness_test``).
* A target with no upgrade mark has nothing of its own to undo: while an upgraded peer
  fails the same rule at the same time, its rollback is held (a switch reboot under both).
  With no mark anywhere, or alone, it is rolled back as before.
* A bad release on every upgraded host is rolled back on each: upgraded hosts are never
  one another's peers.
* A held target is judged again when another target reports (``Engine.held_targets``), and
  any order of simultaneous observations gives the same decisions on every target.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

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
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine, vetoes

UP = 3600.0
WEB = ["web-1", "web-2", "web-3"]


def _config(*rules: dict[str, Any], veto: dict[str, Any]) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": t, "labels": {"role": "web"}} for t in WEB],
            "rules": list(rules),
            "policy": {"fleet_veto": veto},
        }
    )


def _latency(
    target: str, slow: Callable[[int], bool], *, end: int = 6000
) -> list[observations.Observation]:
    """A check every 10 s: 0.6 s where ``slow``, else 0.10 to 0.16 s (a little noise)."""
    return [
        obs(
            float(t),
            1.0,
            source="http",
            target=target,
            latency=0.6 if slow(t) else 0.1 + 0.01 * (t % 7),
        )
        for t in range(0, end, 10)
    ]


def _refused(
    target: str, down: tuple[float, float], *, end: int = 6000, phase: float = 0.0
) -> list[observations.Observation]:
    return [
        obs(float(t) + phase, 0.0 if down[0] <= t < down[1] else 1.0, source="http", target=target)
        for t in range(0, end, 10)
    ]


def _changes(
    cfg: models.RollsafeConfig,
    items: list[observations.Observation],
    marks: list[observations.Mark],
    target: str,
    rule: str,
) -> list[tuple[float, verdicts.Severity, dict[str, Any]]]:
    return [
        (d.time, d.severity, d.evidence.get("fleet_veto", {}))
        for d in engine.replay(cfg, items, marks)
        if d.target == target and d.rule == rule
    ]


def _slowdown(t: int) -> bool:
    return 5000 <= t < 5600


def _noisier(t: int) -> bool:
    """The same slowdown on a peer whose every fourth bucket escapes it (its own noise)."""
    return _slowdown(t) and (t // 30) % 4 != 0


# ------------------------------------------------------------------ witness of a regression


def test_a_peer_with_the_same_shift_witnesses_the_test_that_flagged_the_target() -> None:
    """held-out-6 ``healthy-payments-slow-fleet``'s shape: web-2's own test of the rule has
    not crossed its bar when web-1's does (one bucket in four escapes the slowdown), but the
    very test that flagged web-1, asked of web-2, reaches the witness bar: held."""
    cfg = _config(REGRESSED, veto={"rules": ["regressed"], "wait": "0s"})
    items = [*_latency("web-1", _slowdown), *_latency("web-2", _noisier)]
    marks = [upgrade(UP, "web-1")]
    got = _changes(cfg, items, marks, "web-1", "regressed")
    assert got, "web-1's slowdown must be flagged"
    at, severity, veto = got[0]
    assert severity is WARNING
    assert CRITICAL not in [s for _, s, _ in got]
    assert veto["peers"] == ["web-2"]
    witness = veto["witness"]
    assert witness["e_threshold"] == 100.0  # 1 / (WITNESS_ALPHA / one peer)
    assert witness["peer_e_values"]["web-2"] >= 100.0
    assert witness["crossed_at"] == at
    # web-2's own test, against web-1's reference, had not crossed: the witness held it.
    judge = feed(cfg, [o for o in items if o.time <= at], marks)
    own = judge._veto._fleet.judge("regressed", ids.TargetId("web-2"), now=at, reference=(UP, None))
    assert own.severity is OK
    # Without the veto, the same data rolls web-1 back at the same time.
    off = _changes(_config(REGRESSED, veto={"rules": []}), items, marks, "web-1", "regressed")
    assert off[0][:2] == (at, CRITICAL)


def test_a_canary_regression_with_a_well_peer_is_rolled_back_at_once() -> None:
    cfg = _config(REGRESSED, veto={"rules": ["regressed"], "wait": "3m"})
    items = [*_latency("web-1", _slowdown), *_latency("web-2", lambda t: False)]
    marks = [upgrade(UP, "web-1")]
    got = _changes(cfg, items, marks, "web-1", "regressed")
    off = _changes(_config(REGRESSED, veto={"rules": []}), items, marks, "web-1", "regressed")
    assert got[0][:2] == off[0][:2]
    assert got[0][1] is CRITICAL


def test_a_peer_blip_long_before_the_crossing_witnesses_nothing() -> None:
    """web-2 was slow for 3 minutes 20 minutes before web-1's regression began: the witness
    test's e-value on web-2 peaked then, and healthy buckets have answered it since; read
    around web-1's crossing, it is far below the bar: rolled back."""
    cfg = _config(REGRESSED, veto={"rules": ["regressed"], "wait": "0s"})
    items = [
        *_latency("web-1", _slowdown),
        *_latency("web-2", lambda t: 3800 <= t < 3980),
    ]
    got = _changes(cfg, items, [upgrade(UP, "web-1")], "web-1", "regressed")
    assert got[0][1] is CRITICAL


def test_the_witness_bar_is_shared_among_the_peers() -> None:
    """Two peers: each is asked at 1 / (WITNESS_ALPHA / 2), so that some healthy peer
    witnesses a canary's own regression with probability at most WITNESS_ALPHA."""
    cfg = _config(REGRESSED, veto={"rules": ["regressed"], "wait": "0s"})
    items = [o for t in WEB for o in _latency(t, _slowdown)]
    got = _changes(cfg, items, [upgrade(UP, "web-1")], "web-1", "regressed")
    assert got[0][1] is WARNING
    assert got[0][2]["peers"] == ["web-2", "web-3"]
    assert got[0][2]["witness"]["e_threshold"] == 2 / vetoes.WITNESS_ALPHA


# ------------------------------------------------------------------ no upgrade of its own


def test_a_host_never_upgraded_is_held_while_an_upgraded_peer_fails_the_same() -> None:
    """held-out-5 ``healthy-network-partition-fleet``: a switch reboot refuses both hosts'
    checks. web-1 (upgraded) is held by web-2; web-2 (never upgraded) is held by web-1: a
    rollback of web-2 would undo nothing of its own."""
    cfg = _config(DOWN, veto={"rules": ["down"], "wait": "3m"})
    items = [*_refused("web-1", (5000, 5040)), *_refused("web-2", (5000, 5040))]
    marks = [upgrade(UP, "web-1")]
    web2 = _changes(cfg, items, marks, "web-2", "down")
    assert [s for _, s, _ in web2] == [WARNING, OK]
    assert web2[0][2]["peers"] == ["web-1"]
    assert web2[0][2]["peers_upgraded"] is True
    judge = feed(cfg, [o for o in items if o.time <= 5030], marks)
    held = decision(judge, "down", now=5030, target="web-2")
    assert "also failing on web-1 (upgraded) while web-2 has no upgrade" in held.summary
    assert [s for _, s, _ in _changes(cfg, items, marks, "web-1", "down")] == [WARNING, OK]


def test_a_host_never_upgraded_failing_alone_is_still_rolled_back() -> None:
    cfg = _config(DOWN, veto={"rules": ["down"], "wait": "3m"})
    items = [*_refused("web-1", (0, 0)), *_refused("web-2", (5000, 5600))]
    web2 = _changes(cfg, items, [upgrade(UP, "web-1")], "web-2", "down")
    assert web2[0][:2] == (5030, CRITICAL)


def test_with_no_upgrade_mark_anywhere_a_shared_outage_is_rolled_back_as_before() -> None:
    """Upgrades made by a tool that reports none: "not upgraded" cannot be told from
    "upgraded without a mark", so nothing is held (docs/operations.md: install the hook)."""
    cfg = _config(DOWN, veto={"rules": ["down"], "wait": "3m"})
    items = [*_refused("web-1", (5000, 5600)), *_refused("web-2", (5000, 5600))]
    for target in ("web-1", "web-2"):
        assert _changes(cfg, items, [], target, "down")[0][:2] == (5030, CRITICAL)


def test_a_host_being_upgraded_is_not_held_by_its_peers() -> None:
    """web-2 has an ``upgrade_started`` mark and no ``upgrade`` yet: it is being upgraded,
    not "never upgraded"; its peer web-1 failing too does not hold it."""
    cfg = _config(DOWN, veto={"rules": ["down"], "wait": "0s"})
    items = [*_refused("web-1", (5000, 5600)), *_refused("web-2", (5000, 5600))]
    started = observations.Mark(time=4990.0, target=ids.TargetId("web-2"), name="upgrade_started")
    judge = feed(cfg, [o for o in items if o.time <= 5100], [upgrade(UP, "web-1"), started])
    assert judge._veto.why_held(ids.TargetId("web-2"), "down", now=5100.0) is None


# ------------------------------------------------------------------ a bad release everywhere


def test_a_bad_release_on_every_upgraded_host_is_rolled_back_on_each() -> None:
    """web-1 and web-2 got the same bad release (both marked) and fail alike; web-3, not
    upgraded, is well: the reference. Upgraded hosts are not one another's peers, and the
    one that is (web-3) is well: both rolled back, no later than with the veto off."""
    cfg = _config(DOWN, REGRESSED, veto={"rules": "auto", "wait": "3m"})
    items = [
        *_refused("web-1", (5000, 5600)),
        *_refused("web-2", (5000, 5600), phase=3.0),
        *_refused("web-3", (0, 0), phase=6.0),
    ]
    marks = [upgrade(UP, "web-1"), upgrade(UP + 60, "web-2")]
    off_cfg = _config(DOWN, REGRESSED, veto={"rules": []})
    for target in ("web-1", "web-2"):
        on = _changes(cfg, items, marks, target, "down")
        off = _changes(off_cfg, items, marks, target, "down")
        first = next(t for t, s, _ in on if s is CRITICAL)
        assert first <= off[0][0] + 10.0  # web-3's next check at most
        assert not any(v.get("peers") for _, _, v in on)  # waited for web-3 at most
    # The whole fleet upgraded: no peer at all, nothing held, nothing waited for.
    marks3 = [*marks, upgrade(UP + 120, "web-3")]
    items3 = [*items[: len(items) * 2 // 3], *_refused("web-3", (5000, 5600), phase=6.0)]
    for target in WEB:
        on = _changes(cfg, items3, marks3, target, "down")
        off = _changes(off_cfg, items3, marks3, target, "down")
        assert on[0][:2] == off[0][:2]
        assert on[0][1] is CRITICAL


# ------------------------------------------------------------------ judged again, any order


def test_a_held_target_is_judged_again_when_its_peer_reports() -> None:
    """web-2's checks come 5 s after web-1's; web-1 turns critical at 5000 and waits for
    web-2 (seen at 4995); web-2's check at 5005 shows it well: web-1's rollback goes at
    5005 (the peer's check), not at web-1's own next check (5010)."""
    cfg = _config(DOWN, veto={"rules": ["down"], "wait": "3m"})
    items = [*_refused("web-1", (4970, 5600)), *_refused("web-2", (0, 0), phase=5.0)]
    marks = [upgrade(UP, "web-1")]
    got = _changes(cfg, items, marks, "web-1", "down")
    assert [(t, s) for t, s, _ in got[:2]] == [(5000.0, WARNING), (5005.0, CRITICAL)]
    judge = feed(cfg, [o for o in items if o.time <= 5000], marks)
    decision(judge, "down", now=5000, target="web-1")
    assert judge.held_targets() == [ids.TargetId("web-1")]
    judge.observe(next(o for o in items if o.target == "web-2" and o.time == 5005))
    decision(judge, "down", now=5005, target="web-1")
    assert judge.held_targets() == []


def _daemon_path(
    cfg: models.RollsafeConfig,
    items: list[observations.Observation],
    marks: list[observations.Mark],
    rng: random.Random,
) -> list[tuple[str, str, float, verdicts.Severity, str]]:
    """What the daemon does: every observation of an instant folded in a shuffled order,
    then the targets that reported judged in a shuffled order, then the held ones."""
    live = engine.Engine(cfg)
    for mark in marks:
        live.mark(mark)
    by_time: dict[float, list[observations.Observation]] = {}
    for item in items:
        by_time.setdefault(item.time, []).append(item)
    last: dict[tuple[str, str], verdicts.Severity] = {}
    seen: list[tuple[str, str, float, verdicts.Severity, str]] = []

    def judge(target: str, now: float) -> None:
        for d in live.evaluate(target, now=now):
            if d.rule.startswith("blind:"):
                continue
            if last.get((target, d.rule), OK) is not d.severity:
                last[(target, d.rule)] = d.severity
                seen.append((target, d.rule, now, d.severity, d.summary))

    for t in sorted(by_time):
        batch = by_time[t]
        rng.shuffle(batch)
        for item in batch:
            live.observe(item)
        reported = sorted({o.target for o in batch})
        for target in sorted(reported):
            judge(target, t)
        for target in live.held_targets():
            if target not in reported:
                judge(target, t)
    return sorted(seen, key=lambda x: (x[2], x[0], x[1]))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    lag=st.sampled_from([-20.0, 0.0, 10.0, 30.0]),
    phase=st.sampled_from([0.0, 5.0]),
    wait=st.sampled_from([0.0, 60.0, 180.0]),
)
def test_any_order_of_simultaneous_observations_gives_the_same_decisions_everywhere(
    seed: int, lag: float, phase: float, wait: float
) -> None:
    """web-1 upgraded, web-2 and web-3 not; a switch reboot downs web-1 and web-2 (web-2
    ``lag`` s later, its checks ``phase`` s out of step), web-3 stays up; a regression on
    web-1 alone later. The daemon's path over shuffled instants and ``replay`` over a
    shuffled feed give the same decisions on every target, held ones judged again when a
    peer reports, and whichever order the simultaneous observations came in."""
    cfg = _config(DOWN, REGRESSED, veto={"rules": ["down", "regressed"], "wait": wait})
    start = 5000.0 + lag

    def web1(t: int) -> float:
        return 0.6 if 5200 <= t < 5900 else 0.1

    items = [
        obs(
            float(t),
            0.0 if 5000 <= t < 5040 else 1.0,
            source="http",
            target="web-1",
            latency=web1(t),
        )
        for t in range(3000, 6200, 10)
    ]
    items += [
        obs(
            float(t) + phase,
            0.0 if start <= t < start + 40 else 1.0,
            source="http",
            target="web-2",
            latency=0.1,
        )
        for t in range(3000, 6200, 10)
    ]
    items += [
        obs(float(t), 1.0, source="http", target="web-3", latency=0.1)
        for t in range(3000, 6200, 10)
    ]
    marks = [upgrade(UP, "web-1")]
    rng = random.Random(seed)
    live = _daemon_path(cfg, items, marks, rng)
    shuffled = list(items)
    rng.shuffle(shuffled)
    replayed = sorted(
        (
            (str(d.target), str(d.rule), d.time, d.severity, d.summary)
            for d in engine.replay(cfg, shuffled, marks)
            if not d.rule.startswith("blind:")
        ),
        key=lambda x: (x[2], x[0], x[1]),
    )
    assert live == replayed
    # web-1's own regression later (web-2, web-3 well) is rolled back.
    assert any(
        target == "web-1" and rule == "regressed" and severity is CRITICAL
        for target, rule, _, severity, _ in live
    )
