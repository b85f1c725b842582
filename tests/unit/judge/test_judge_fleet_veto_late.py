"""The fleet veto past ``reach`` (round 13): a rule without a watch (``ceiling``) that breaches
hours after the upgrade is held while peers not upgraded breach it too, as long as their
windows still hold the target's period before its upgrade (kept there by a comparison with
the peers over a day); a fault on the upgraded host alone is rolled back.

held-out-12's ``healthy-fleet-slower-together-at-peak``: three web hosts slow down together
at the day's peak, five hours after web-1's night upgrade; the veto's ``reach`` (2 h) had
ended, and web-1 was rolled back by latency-quantile-far-above.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from judge_helpers import CRITICAL, WARNING, feed, obs, upgrade

from rollsafe.config import models
from rollsafe.domain import observations

UP = 3600.0
PEAK = UP + 5 * 3600.0  # the day's peak: five hours after the night upgrade
END = PEAK + 3600.0
WEB = ["web-1", "web-2", "web-3"]
FAR = {"id": "far", "kind": "ceiling", "probe": "p99", "max_increase": 3, "severity": "critical"}
# The preset's comparison with the peers: its 24 h watch and 6 h reference keep the peers'
# p99 in memory for a day (the veto reads it past its reach).
VS_PEERS = {
    "id": "vs-peers",
    "kind": "regression",
    "probe": "p99",
    "against": "peers",
    "aggregate": "quantile",
    "min_ratio": 1.5,
    "watch": "24h",
    "before": "6h",
    "severity": "warning",
}


def _config(*rules: dict[str, Any]) -> models.RollsafeConfig:
    return models.RollsafeConfig.model_validate(
        {
            "targets": [{"id": t, "labels": {"role": "web"}} for t in WEB],
            "rules": list(rules),
            "policy": {"fleet_veto": {"match_labels": ["role"], "wait": "0s"}},
        }
    )


def _p99(target: str, slow: Callable[[float], bool]) -> list[observations.Observation]:
    """A p99 every 30 s: 0.9 s where ``slow``, else 0.20 to 0.26 s."""
    return [
        obs(float(t), 0.9 if slow(t) else 0.2 + 0.01 * (t // 30 % 7), source="p99", target=target)
        for t in range(0, int(END), 30)
    ]


def _far_on_web_1(cfg: models.RollsafeConfig, items: list[observations.Observation]) -> list[Any]:
    """``far``'s severity on web-1 after each instant from the peak on (every host's value of
    that instant folded in first)."""
    judge = feed(cfg, [], [upgrade(UP, "web-1")])
    seen = []
    for at in sorted({o.time for o in items}):
        for item in (o for o in items if o.time == at):
            judge.observe(item)
        if at >= PEAK:
            seen.extend(d.severity for d in judge.evaluate("web-1", now=at) if d.rule == "far")
    return seen


def at_peak(t: float) -> bool:
    return t >= PEAK


def test_a_peak_the_whole_fleet_shows_hours_after_the_upgrade_is_held() -> None:
    items = [w for target in WEB for w in _p99(target, at_peak)]
    seen = _far_on_web_1(_config(FAR, VS_PEERS), items)
    assert WARNING in seen  # breached, held as a warning
    assert CRITICAL not in seen


def test_the_upgraded_host_alone_at_the_peak_is_rolled_back() -> None:
    items = [
        *_p99("web-1", at_peak),
        *_p99("web-2", lambda t: False),
        *_p99("web-3", lambda t: False),
    ]
    assert CRITICAL in _far_on_web_1(_config(FAR, VS_PEERS), items)


def test_without_the_peers_history_the_veto_ends_at_its_reach_as_before() -> None:
    # No rule keeps the peers' p99 for a day: their windows no longer hold web-1's hour
    # before its upgrade, so they cannot witness; the rollback goes, as before round 13.
    items = [w for target in WEB for w in _p99(target, at_peak)]
    assert CRITICAL in _far_on_web_1(_config(FAR), items)
