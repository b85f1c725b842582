"""A restarted daemon reloads the whole reference period of an upgrade that took long.

"Before the upgrade" ends at the upgrade's ``upgrade_started`` mark, which may come up to
``engine.UPGRADE_HOLD_MAX`` before its ``upgrade`` mark: the history a restart reloads
(``Engine.horizon``) must reach back over that hour as well, or the reference is cut short
and the restarted judge compares with a different "before" than the one that never stopped.
"""

from __future__ import annotations

from pathlib import Path

import restart_helpers

from rollsafe.config import models
from rollsafe.domain import ids, observations
from rollsafe.execute import upgrading
from rollsafe.judge import engine
from rollsafe.runtime import daemon

TARGET = ids.TargetId("web-1")
BEFORE = 3600.0
STEP = 30.0


def _config(tmp_path: Path, *, baseline: bool = True) -> models.RollsafeConfig:
    config = restart_helpers.config(
        tmp_path,
        [
            restart_helpers.SLOWER,
            {
                "id": "slower-seq",
                "kind": "regression",
                "probe": "http",
                "field": "latency",
                "before": "1h",
                "watch": "30m",
                "bucket": "30s",
                "severity": "critical",
            },
        ],
    )
    if baseline:
        return config
    rules = [rule for rule in config.rules if rule.kind != "baseline"]
    return config.model_copy(update={"rules": rules})


def _history(started: float, upgraded: float, now: float) -> list[observations.Observation]:
    """Checks every 30 s from two hours before the start to ``now``; the oldest half of the
    reference period is slow, so a reference cut short reads a different baseline."""
    found: list[observations.Observation] = []
    t = started - 2 * BEFORE
    while t < now:
        if started <= t < upgraded:
            latency = None  # the host is being upgraded: no answer
        elif t < started - BEFORE / 2:
            latency = 0.4
        else:
            latency = 0.1 + 0.01 * ((t // STEP) % 3)
        if latency is None:
            found.append(
                observations.Observation(time=t, target=TARGET, source="http", error="refused")
            )
        else:
            found.append(
                observations.Observation(
                    time=t, target=TARGET, source="http", value=1.0, status=200, latency_s=latency
                )
            )
        t += STEP
    found.append(observations.Observation(time=started, target=TARGET, source=upgrading.STARTED))
    found.append(observations.Observation(time=upgraded, target=TARGET, source=upgrading.FINISHED))
    return sorted(found, key=lambda obs: obs.time)


def test_a_restart_after_a_long_upgrade_reloads_the_reference_before_its_start(
    tmp_path: Path,
) -> None:
    # The upgrade ran 55 minutes (a start mark well within UPGRADE_HOLD_MAX of its end); the
    # daemon restarts 25 minutes later, while both rules still judge from that upgrade.
    started = 1_800_000_000.0
    upgraded = started + 55 * 60
    now = upgraded + 25 * 60
    history = _history(started, upgraded, now)
    config = _config(tmp_path)

    # The judge that never stopped saw every observation and both marks.
    watched = restart_helpers.never_stopped(config, history)
    restarted = restart_helpers.restarted(tmp_path, config, history, now=now)
    try:
        # The whole hour before the start mark is back, not only its newest part.
        window = restarted.engine.window("web-1", "http")
        assert window is not None
        reference = window.pinned(started, start=started - BEFORE)
        assert reference is not None
        assert len(reference) == BEFORE / STEP
        assert min(obs.time for obs in reference) == started - BEFORE

        # And the restarted judge decides exactly as the one that never stopped.
        def judged(e: engine.Engine) -> list[tuple[str, str, dict[str, object]]]:
            return [
                (d.rule, d.severity.label, d.evidence)
                for d in e.evaluate("web-1", now=now)
                if d.rule in {"slower", "slower-seq"}
            ]

        mine = judged(restarted.engine)
        assert [rule for rule, _, _ in mine] == ["slower", "slower-seq"]
        assert mine == judged(watched)
        baseline = mine[0][2]
        assert baseline["reference_start"] == started - BEFORE
        assert baseline["reference_end"] == started
        assert baseline["baseline_samples"] == BEFORE / STEP
    finally:
        restarted.store.close()


def test_a_reference_longer_than_the_watch_is_kept_until_its_start_mark(tmp_path: Path) -> None:
    # Only a regression rule reads the probe: its window must hold a ``before`` of 1 hour at
    # the start mark even though its watch (30 minutes) is shorter.
    judge = engine.Engine(_config(tmp_path, baseline=False))
    started = 1_800_000_000.0
    upgraded = started + 10 * 60
    for obs in _history(started, upgraded, upgraded + 60):
        if obs.source.startswith(daemon.MARK_PREFIX):
            name = obs.source.removeprefix(daemon.MARK_PREFIX)
            judge.mark(observations.Mark(time=obs.time, target=TARGET, name=name))
        else:
            judge.observe(obs)
    window = judge.window("web-1", "http")
    assert window is not None
    reference = window.pinned(started, start=started - BEFORE)
    assert reference is not None
    assert len(reference) == BEFORE / STEP
