"""Corpora: every labelled recording of a directory, replayed and scored together.

``rollsafe backtest --corpus DIR`` measures a policy on a set of incidents and healthy
upgrades: each ``*.jsonl`` (or ``*.jsonl.gz``) file of ``DIR`` (not its subdirectories), in
name order, is replayed with the same configuration and scored (``scoring``). Files whose
header has no ``labels`` cannot be scored and are listed as skipped, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollsafe.backtest import recordings, replaying, scoring
from rollsafe.config import models

__all__ = ["CorpusResult", "Skipped", "files", "run"]


@dataclass(frozen=True, slots=True)
class Skipped:
    file: str
    reason: str


@dataclass(frozen=True)
class CorpusResult:
    directory: Path
    scenarios: tuple[scoring.ScenarioScore, ...]
    skipped: tuple[Skipped, ...]

    @property
    def totals(self) -> scoring.Totals:
        return scoring.total(self.scenarios)

    def to_json(self) -> dict[str, Any]:
        return {
            "corpus": str(self.directory),
            "scenarios": [
                {"file": Path(s.replay.recording.file).name, **s.to_json()} for s in self.scenarios
            ],
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "total": self.totals.to_json(),
        }


def files(directory: Path) -> list[Path]:
    """The recordings of ``directory``, in name order."""
    return sorted(
        path
        for path in Path(directory).iterdir()
        if path.is_file() and (path.name.endswith(".jsonl") or path.name.endswith(".jsonl.gz"))
    )


def run(config: models.RollsafeConfig, directory: Path) -> CorpusResult:
    """Replay and score every labelled recording in ``directory``.

    RecordingError when a file cannot be read (a corpus with a broken file measures nothing).
    """
    scenarios: list[scoring.ScenarioScore] = []
    skipped: list[Skipped] = []
    for path in files(directory):
        recording = recordings.read(path)
        if not recording.header.labelled:
            skipped.append(Skipped(path.name, "no labels in its header: nothing to score"))
            continue
        replayed = replaying.replay(config, recording)
        scenarios.append(scoring.score(replayed))
    return CorpusResult(
        directory=Path(directory), scenarios=tuple(scenarios), skipped=tuple(skipped)
    )
