"""The daemon's path applies the fleet veto: judging web-1 the moment its check arrives (one
target at a time), the rollback a fleet-wide slowdown would cause is held as a warning naming
web-2, and a slowdown on web-1 alone is critical once web-2 has been seen well: at web-2's
check (a held target is judged again when a peer reports), not the whole wait, as
``engine.replay`` says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollsafe.config import loading, models
from rollsafe.domain import ids, observations, verdicts
from rollsafe.runtime import daemon
from rollsafe.testing import clocks

START = 1_700_000_000.0
UP = START + 3600
RULE = {
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


def _daemon(tmp_path: Path, clock: clocks.FakeClock) -> daemon.Daemon:
    config = models.RollsafeConfig.model_validate(
        {
            "state_dir": str(tmp_path),
            "policy": {
                "dry_run": True,
                "fleet_veto": {"rules": ["slower"], "match_labels": ["role"], "wait": "1m"},
            },
            "targets": [
                {"id": "web-1", "labels": {"role": "web"}},
                {"id": "web-2", "labels": {"role": "web"}},
            ],
            "probes": [
                {"name": "http", "kind": "http", "url": "http://{address}/", "interval": 10}
            ],
            "rules": [RULE],
        }
    )
    loaded = loading.LoadedConfig(
        config=config, path=tmp_path / "rollsafe.yaml", state_dir=tmp_path
    )
    return daemon.Daemon(loaded, clock=clock)


def _check(time: float, target: str, latency: float) -> observations.Observation:
    return observations.Observation(
        time=time, target=ids.TargetId(target), source="http", value=1.0, latency_s=latency
    )


@pytest.mark.parametrize("fleet_wide", [True, False], ids=["fleet-wide", "web-1-alone"])
def test_the_daemon_holds_a_fleet_wide_slowdown_and_rolls_back_a_lone_one(
    tmp_path: Path, fleet_wide: bool
) -> None:
    clock = clocks.FakeClock(START)
    d = _daemon(tmp_path, clock)
    try:
        mark = observations.Observation(
            time=UP, target=ids.TargetId("web-1"), source="mark:upgrade", value=1.0
        )
        for t in range(0, 5400, 10):
            now = START + t
            clock.set(now)
            if now == UP:
                d._observe(mark, save=False)
            slow = 5000 <= t < 5600
            # web-2's check of the instant arrives after web-1's, as probes' replies do.
            d._observe(_check(now, "web-1", 1.0 if slow else 0.1), save=False)
            d._observe(_check(now, "web-2", 1.0 if slow and fleet_wide else 0.1), save=False)
        said = [
            (x.time - START, x.severity, x.evidence.get("fleet_veto", {}))
            for x in d.store.list_decisions(target=ids.TargetId("web-1"), limit=1000)
            if x.rule == "slower"
        ]
        now = [x for x in d.engine.evaluate("web-1", now=clock.now()) if x.rule == "slower"]
    finally:
        d.store.close()
    severities = [s for _, s, _ in said]
    # Stored decisions are severity changes: the first hold is the wait (web-2's check of
    # that instant had not arrived yet when web-1 was judged).
    held: dict[str, Any] = next(v for _, s, v in said if s is verdicts.Severity.WARNING)
    assert held["waiting"] is True
    if fleet_wide:
        assert verdicts.Severity.CRITICAL not in severities
        assert now[0].severity is verdicts.Severity.WARNING
        assert now[0].evidence["fleet_veto"]["peers"] == ["web-2"]
        assert "also failing on web-2, not upgraded" in now[0].summary
    else:
        # Held until web-2's check of 5000 is in, then critical as soon as it is: web-1,
        # held, is judged again when its peer reports (``Engine.held_targets``); web-2 was
        # looked at and is well (the wait, 1m, is only the bound).
        critical_at = next(t for t, s, _ in said if s is verdicts.Severity.CRITICAL)
        assert critical_at == 5000
        assert now[0].severity is verdicts.Severity.CRITICAL
