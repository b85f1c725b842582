"""The fleet veto on real corpus shapes: the shipped presets (``corpus/rollsafe.yaml``, the
veto on by default) replayed over committed recordings, against the same with it off.

A fault on the upgraded host whose peer, never upgraded, is well in the same recording must
still be rolled back, at most one check of the peer's later; a failure of the whole fleet
(a shared dependency, a switch reboot) must not roll the upgraded host back, nor the host
that was never upgraded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rollsafe.backtest import recordings, replaying
from rollsafe.config import loading, models
from rollsafe.domain import verdicts

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "corpus" / "recordings"
CRITICAL = verdicts.Severity.CRITICAL


def _configs() -> tuple[models.RollsafeConfig, models.RollsafeConfig]:
    """(the veto on, the veto off): the shipped config, both with ``before_first_mark:
    judge`` so that the veto is measured alone (``hold`` in corpus/rollsafe.yaml also holds
    web-2, never upgraded, in the switch reboot: no mark of its own)."""
    shipped = loading.load(ROOT / "corpus" / "rollsafe.yaml").config
    assert shipped.policy.fleet_veto.rules == "auto"  # the default, as shipped
    judged = shipped.policy.model_copy(update={"before_first_mark": "judge"})
    on = shipped.model_copy(update={"policy": judged})
    off = shipped.model_copy(
        update={
            "policy": judged.model_copy(
                update={"fleet_veto": models.FleetVeto.model_validate({"rules": []})}
            )
        }
    )
    return on, off


def _first_critical(config: models.RollsafeConfig, name: str, target: str) -> float | None:
    recording = recordings.read(RECORDINGS / f"{name}.jsonl.gz")
    replay = replaying.replay(config, recording)
    return next(
        (d.time for d in replay.decisions if d.target == target and d.severity is CRITICAL),
        None,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "lag"),
    [
        ("fault-outage-a", 0.0),  # web-1 down for good; web-2 answers (down listed: no wait)
        # web-1's error ratio 0.2% -> 8%; its test crosses when a bucket closes, between two
        # scrapes, and web-2's newest scrape is as new as web-1's: no wait (15 s before)
        ("fault-metrics-errors-a", 0.0),
        # OOM kills on web-1; web-2's kernel log quiet: at most one check of web-2's later
        # (its slowest source here: every 30 s)
        ("fault-oom-quoted-c", 30.0),
    ],
)
def test_a_fault_on_the_upgraded_host_with_well_peers_is_still_rolled_back(
    name: str, lag: float
) -> None:
    on, off = _configs()
    without = _first_critical(off, name, "web-1")
    assert without is not None
    held = _first_critical(on, name, "web-1")
    assert held is not None, "the veto must never take a real fault's rollback away"
    assert without <= held <= without + lag


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "healthy-dependency-outage-fleet",
        "healthy-network-partition-fleet",
        # a regression rule's late start crossing on web-1 only: web-2 witnesses its test
        "healthy-payments-slow-fleet",
    ],
)
def test_a_failure_of_the_whole_fleet_does_not_roll_the_upgraded_host_back(name: str) -> None:
    on, off = _configs()
    assert _first_critical(off, name, "web-1") is not None  # what the veto spares
    assert _first_critical(on, name, "web-1") is None


@pytest.mark.slow
def test_a_host_never_upgraded_is_not_rolled_back_for_the_fleet_s_outage() -> None:
    """held-out-5's switch reboot: web-2 has no upgrade of its own, and web-1 (upgraded) is
    down at the same time: a rollback of web-2 would undo nothing of its own."""
    on, off = _configs()
    name = "healthy-network-partition-fleet"
    assert _first_critical(off, name, "web-2") is not None
    assert _first_critical(on, name, "web-2") is None


@pytest.mark.slow
def test_a_network_event_is_witnessed_by_a_host_of_another_role() -> None:
    """held-out-8's switch reconverging: web-1 (the canary) and web-2 (the next wave) are
    both upgraded, so no web host is left to witness; batch-1's runner check slowed at the
    same time and witnesses web-2's latency test (``Veto.other_roles``)."""
    on, off = _configs()
    name = "healthy-canary-then-fleet-network-event"
    assert _first_critical(off, name, "web-2") is not None
    assert _first_critical(on, name, "web-2") is None
