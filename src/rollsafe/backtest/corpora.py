"""Corpora: every labelled recording of a directory, replayed and scored together.

``rollsafe backtest --corpus DIR`` measures a policy on a set of incidents and healthy
upgrades: each ``*.jsonl`` (or ``*.jsonl.gz``) file of ``DIR`` (not its subdirectories), in
name order, is replayed with the same configuration and scored (``scoring``). Files whose
header has no ``labels`` cannot be scored and are listed as skipped, with the reason.

A recording's header ``meta`` may name its ``family`` (the kind of fault or of healthy
disturbance it shows: ``oom-repeated``, ``warmup-restart`` ...) and its ``half`` (``design``
or ``held-out``: presets are tuned on the first only). The result then also reports each
family and each half on its own (:meth:`CorpusResult.groups`), and the critical decisions
taken over the recordings of the ``healthy-week`` family (a week of healthy noise: every
critical decision there is a rollback of a healthy host).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollsafe.backtest import recordings, replaying, scoring
from rollsafe.config import models

__all__ = ["WEEK_FAMILY", "CorpusResult", "Group", "Skipped", "files", "run"]

WEEK_FAMILY = "healthy-week"
_NO_FAMILY = "-"


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

    def groups(self, *, by: str) -> list[Group]:
        """The scenarios grouped by ``family`` or ``half`` (from the header's ``meta``)."""
        grouped: dict[str, list[scoring.ScenarioScore]] = {}
        for scenario in self.scenarios:
            grouped.setdefault(_meta(scenario, by), []).append(scenario)
        return [Group(name, tuple(listed)) for name, listed in sorted(grouped.items())]

    def table(self) -> list[tuple[str, str, Group]]:
        """``(family, half, group)`` for every family and half present, halves as ``all`` too."""
        out: list[tuple[str, str, Group]] = []
        for family in self.groups(by="family"):
            out.append((family.name, "all", family))
            halves = {_meta(s, "half") for s in family.scenarios}
            if halves - {_NO_FAMILY}:
                for half in sorted(halves):
                    chosen = tuple(s for s in family.scenarios if _meta(s, "half") == half)
                    out.append((family.name, half, Group(family.name, chosen)))
        return out

    @property
    def week_rollbacks(self) -> int | None:
        """Critical decisions over the ``healthy-week`` recordings (None: there are none)."""
        weeks = [s for s in self.scenarios if _meta(s, "family") == WEEK_FAMILY]
        if not weeks:
            return None
        return sum(s.criticals for s in weeks)

    def to_json(self) -> dict[str, Any]:
        return {
            "families": [
                {"family": family, "half": half, **group.to_json()}
                for family, half, group in self.table()
            ],
            "halves": [group.to_json() for group in self.groups(by="half")],
            "week_rollbacks": self.week_rollbacks,
            "corpus": str(self.directory),
            "scenarios": [
                {"file": Path(s.replay.recording.file).name, **s.to_json()} for s in self.scenarios
            ],
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "total": self.totals.to_json(),
        }


@dataclass(frozen=True)
class Group:
    """Some scenarios of a corpus (one family, one half), scored together."""

    name: str
    scenarios: tuple[scoring.ScenarioScore, ...]

    @property
    def totals(self) -> scoring.Totals:
        return scoring.total(self.scenarios)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "recordings": len(self.scenarios),
            "criticals": sum(s.criticals for s in self.scenarios),
            **self.totals.to_json(),
        }


def _meta(scenario: scoring.ScenarioScore, key: str) -> str:
    value = scenario.replay.recording.header.meta.get(key)
    return value if isinstance(value, str) and value else _NO_FAMILY


def files(directory: Path) -> list[Path]:
    """The recordings of ``directory``, in name order."""
    return sorted(
        path
        for path in Path(directory).iterdir()
        if path.is_file() and (path.name.endswith(".jsonl") or path.name.endswith(".jsonl.gz"))
    )


def run(config: models.RollsafeConfig, directory: Path, *, half: str | None = None) -> CorpusResult:
    """Replay and score every labelled recording in ``directory`` (of ``half`` only, if given).

    RecordingError when a file cannot be read (a corpus with a broken file measures nothing).
    """
    scenarios: list[scoring.ScenarioScore] = []
    skipped: list[Skipped] = []
    for path in files(directory):
        recording = recordings.read(path)
        if not recording.header.labelled:
            skipped.append(Skipped(path.name, "no labels in its header: nothing to score"))
            continue
        if half is not None and recording.header.meta.get("half") != half:
            skipped.append(Skipped(path.name, f"not in the {half} half"))
            continue
        replayed = replaying.replay(config, recording)
        scenarios.append(scoring.score(replayed))
    return CorpusResult(
        directory=Path(directory), scenarios=tuple(scenarios), skipped=tuple(skipped)
    )
