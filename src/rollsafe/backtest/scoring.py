"""Scoring: how good were the decisions on a labelled recording, and on a corpus of them.

A recording is *labelled* when its header has ``labels``: the faults listed there (target and
time the fault is present from) should be rolled back, and every other target in the
recording should not. A rollback is a ``critical`` decision. Each target of a recording is
one case:

* a target without a fault is a **negative**: a false positive (FP) when any critical
  decision was taken on it, else a true negative (TN);
* a target with a fault is a **positive**: a true positive (TP) when a decision turned
  critical at or after the fault's start, else a false negative (FN). A critical decision
  *before* the fault's start also counts as a false positive: at that time the target was
  healthy, and rolling it back would have been wrong.

Precision is TP / (TP + FP), recall TP / (TP + FN); each is None when its denominator is 0.
The detection delay of a TP is the time from the fault's start to the first critical decision
at or after it; a corpus reports the median and the maximum over all TPs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rollsafe.backtest import recordings, replaying
from rollsafe.domain import ids, verdicts

__all__ = ["Counts", "ScenarioScore", "TargetScore", "Totals", "score", "total"]


@dataclass(frozen=True, slots=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            tp=self.tp + other.tp,
            fp=self.fp + other.fp,
            fn=self.fn + other.fn,
            tn=self.tn + other.tn,
        )

    @property
    def precision(self) -> float | None:
        return _share(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _share(self.tp, self.tp + self.fn)

    def to_json(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(frozen=True, slots=True)
class TargetScore:
    """One target's case in one recording."""

    target: ids.TargetId
    fault: recordings.Fault | None
    false_alarms: tuple[verdicts.Decision, ...]  # critical while the target was healthy
    detection: verdicts.Decision | None  # first critical at or after the fault's start

    @property
    def counts(self) -> Counts:
        fp = 1 if self.false_alarms else 0
        if self.fault is None:
            return Counts(fp=fp, tn=1 - fp)
        found = self.detection is not None
        return Counts(tp=int(found), fn=int(not found), fp=fp)

    @property
    def delay(self) -> float | None:
        """Seconds from the fault's start to its detection (TPs only)."""
        if self.fault is None or self.detection is None:
            return None
        return self.detection.time - self.fault.start

    @property
    def outcome(self) -> str:
        """``TP``, ``FN``, ``TN`` or ``FP``; ``FP+TP`` / ``FP+FN`` for an early rollback."""
        counts = self.counts
        named = [name for name in ("fp", "tp", "fn", "tn") if getattr(counts, name)]
        return "+".join(name.upper() for name in named)

    def to_json(self, *, start: float | None) -> dict[str, Any]:
        return {
            "target": self.target,
            "fault": None
            if self.fault is None
            else {
                "kind": self.fault.kind,
                "start": self.fault.start,
                "offset": _offset(self.fault.start, start),
            },
            "outcome": self.outcome,
            **self.counts.to_json(),
            "delay_s": self.delay,
            "detection": None
            if self.detection is None
            else replaying.decision_json(self.detection, start=start),
            "false_alarms": [replaying.decision_json(d, start=start) for d in self.false_alarms],
        }


@dataclass(frozen=True)
class ScenarioScore:
    """The cases of one labelled recording."""

    replay: replaying.Replay
    targets: tuple[TargetScore, ...]

    @property
    def counts(self) -> Counts:
        return sum((t.counts for t in self.targets), Counts())

    @property
    def delays(self) -> list[float]:
        return [d for d in (t.delay for t in self.targets) if d is not None]

    @property
    def criticals(self) -> int:
        """Decisions that turned critical (each one a rollback, live)."""
        return sum(1 for d in self.replay.decisions if d.severity is verdicts.Severity.CRITICAL)

    def to_json(self) -> dict[str, Any]:
        start = self.replay.recording.start
        meta = self.replay.recording.header.meta
        return {
            "name": self.replay.recording.name,
            "description": self.replay.recording.header.description,
            "family": meta.get("family"),
            "half": meta.get("half"),
            **self.counts.to_json(),
            "warnings": self.replay.warnings,
            "criticals": self.criticals,
            "targets": [t.to_json(start=start) for t in self.targets],
        }


@dataclass(frozen=True)
class Totals:
    """A corpus: the sum of its scenarios' cases, and the detection delays of its TPs."""

    counts: Counts
    delays: tuple[float, ...]

    @property
    def median_delay(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def max_delay(self) -> float | None:
        return max(self.delays) if self.delays else None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.counts.to_json(),
            "delay_s": {
                "count": len(self.delays),
                "median": self.median_delay,
                "max": self.max_delay,
            },
        }


def score(replayed: replaying.Replay) -> ScenarioScore:
    """Score a replay of a labelled recording (see the module notes)."""
    recording = replayed.recording
    faults: dict[ids.TargetId, recordings.Fault] = {}
    for labelled in sorted(recording.header.faults, key=lambda f: f.start):
        faults.setdefault(labelled.target, labelled)  # the earliest fault of a target counts
    criticals: dict[ids.TargetId, list[verdicts.Decision]] = {}
    for decision in replayed.decisions:
        if decision.severity is verdicts.Severity.CRITICAL:
            criticals.setdefault(decision.target, []).append(decision)
    targets = []
    for target in recording.targets():
        fault = faults.get(target)
        mine = sorted(criticals.get(target, []), key=lambda d: (d.time, d.rule))
        if fault is None:
            false_alarms, detection = tuple(mine), None
        else:
            false_alarms = tuple(d for d in mine if d.time < fault.start)
            detection = next((d for d in mine if d.time >= fault.start), None)
        targets.append(
            TargetScore(target=target, fault=fault, false_alarms=false_alarms, detection=detection)
        )
    return ScenarioScore(replay=replayed, targets=tuple(targets))


def total(scores: Iterable[ScenarioScore]) -> Totals:
    """The sum over scenarios."""
    listed: Sequence[ScenarioScore] = list(scores)
    counts = sum((s.counts for s in listed), Counts())
    delays = tuple(d for s in listed for d in s.delays)
    return Totals(counts=counts, delays=delays)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _offset(time: float, start: float | None) -> float | None:
    return None if start is None else round(time - start, 6)
