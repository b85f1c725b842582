"""What a preset decides on a small recording, replayed as ``rollsafe backtest`` replays one:
the helpers the preset tests that build their own recordings share."""

from __future__ import annotations

from rollsafe.backtest import recordings, replaying
from rollsafe.config import models
from rollsafe.domain import verdicts

START = 1_700_000_000.0  # the recordings' start (their times are seconds from it)


def decided(
    config: models.RollsafeConfig, preset: str, recording: recordings.Recording
) -> list[tuple[float, str, str]]:
    """(seconds from the start, rule id without the preset's prefix, severity) of every
    decision that is not ``ok``, in time order."""
    replayed = replaying.replay(config, recording)
    return [
        (d.time - START, d.rule.removeprefix(f"{preset}."), d.severity.label)
        for d in replayed.decisions
        if d.severity is not verdicts.Severity.OK
    ]


def criticals(decided: list[tuple[float, str, str]]) -> list[tuple[float, str]]:
    """(time, rule) of the critical decisions among ``decided``."""
    return [(t, rule) for t, rule, severity in decided if severity == "critical"]
