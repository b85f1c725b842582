"""``policy.before_first_mark`` on real corpus shapes: the shipped config
(``corpus/rollsafe.yaml``, ``hold``: this fleet marks every upgrade) against the same with
``judge`` (the default), over committed recordings.

A reboot or power cycle before a target's only mark (nothing logged, no ``upgrade_started``)
is held as a warning, not rolled back; a fault whose outage begins before its first
``upgrade`` mark but after its ``upgrade_started`` mark (the upgrade had begun) is rolled
back at the same time either way.
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
    """(the shipped config, the same with ``before_first_mark: judge``)."""
    shipped = loading.load(ROOT / "corpus" / "rollsafe.yaml").config
    assert shipped.policy.before_first_mark == "hold"
    judged = shipped.model_copy(
        update={"policy": shipped.policy.model_copy(update={"before_first_mark": "judge"})}
    )
    return shipped, judged


def _decisions(config: models.RollsafeConfig, name: str, target: str) -> list[verdicts.Decision]:
    recording = recordings.read(RECORDINGS / f"{name}.jsonl.gz")
    return [d for d in replaying.replay(config, recording).decisions if d.target == target]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "target", "rule", "fired"),
    [
        ("healthy-reboot-kernel", "web-1", "web-service.down", 3553.0),
        ("healthy-reboot-web-one-mark", "web-1", "web-service.down", 3533.0),
        ("healthy-power-cycle-no-shutdown-db", "db-1", "database-host.down", 3493.0),
    ],
)
def test_an_outage_before_the_only_mark_is_held_not_rolled_back(
    name: str, target: str, rule: str, fired: float
) -> None:
    shipped, judged = _configs()
    start = recordings.read(RECORDINGS / f"{name}.jsonl.gz").start
    today = [d for d in _decisions(judged, name, target) if d.severity is CRITICAL]
    assert [(d.rule, d.time - start) for d in today] == [(rule, fired)]
    held = _decisions(shipped, name, target)
    assert not [d for d in held if d.severity is CRITICAL]
    warned = next(d for d in held if d.rule == rule and d.time - start == fired)
    assert warned.evidence["before_first_mark"] == {"held": True, "severity": "critical"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "target"),
    [
        # down from 3,480 s (upgrade_started) and never back: the upgrade had begun
        ("fault-crash-never-starts-run", "web-1"),
        ("fault-crash-db-never-starts-run", "db-1"),
        # a fault well after the mark
        ("fault-outage-a", "web-1"),
    ],
)
def test_a_fault_is_rolled_back_at_the_same_time_either_way(name: str, target: str) -> None:
    shipped, judged = _configs()

    def first(config: models.RollsafeConfig) -> float | None:
        return next(
            (d.time for d in _decisions(config, name, target) if d.severity is CRITICAL), None
        )

    today = first(judged)
    assert today is not None
    assert first(shipped) == today
