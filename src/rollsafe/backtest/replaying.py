"""Replaying a recording through the judge, on virtual time, exactly as the daemon runs it live.

The daemon folds each observation into the engine and re-evaluates that target at once; marks
(``upgrade``) are folded as they arrive. :func:`replay` does the same through
``rollsafe.judge.engine.replay`` (no ``step``: evaluation happens on observations, never on a
timer, like live), so a decision seen here is the decision the daemon would have taken on the
same data. Nothing is executed, stored or sent: no driver, no store, no notifier.

Raw log lines in a recording become what the live log probe would have observed: one
observation per probe ``interval`` and target, from the recording's start to its end, whose
``value`` is the number of EVENTS the probe's patterns and presets found in the lines since
the previous one and whose ``text`` is as the probe writes it. Lines go through the log
probe's own event counter (``detect.probes.logs.counter_for``), in file order, as in the
probe. Buckets are ``(start + (k-1)*interval, start + k*interval]``, observed at their end.
Several log probes may follow the same file (one per pattern family on
``/var/log/kern.log``, say): a line recorded for one of them is seen by every log probe of
the configuration with the same ``path``, as it is live, so a recording holds each kernel
line once however many probes read it.

A replay is deterministic: the same configuration and recording always give the same decisions
(the engine orders its input itself, so even a shuffled file gives them).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rollsafe.backtest import recordings
from rollsafe.config import models
from rollsafe.detect.probes import logs
from rollsafe.domain import ids, observations, verdicts
from rollsafe.judge import engine

__all__ = ["Replay", "decision_json", "log_observations", "observations_of", "replay"]


@dataclass(frozen=True)
class Replay:
    """The decisions a configuration takes on a recording (severity changes, in time order)."""

    recording: recordings.Recording
    decisions: tuple[verdicts.Decision, ...]
    observations: int  # fed to the judge, log buckets included
    unconfigured_targets: tuple[str, ...]  # in the recording, not in the config: no labels
    quiet_rules: frozenset[str] = frozenset()  # `notify: false`: judged, never messaged

    @property
    def warnings(self) -> int:
        """Warnings people would have been sent (rules with ``notify: false`` tell nobody)."""
        return sum(
            1
            for d in self.decisions
            if d.severity is verdicts.Severity.WARNING and d.rule not in self.quiet_rules
        )

    def to_json(self) -> dict[str, Any]:
        start = self.recording.start
        return {
            "recording": {
                "name": self.recording.name,
                "description": self.recording.header.description,
                "start": start,
                "end": self.recording.end,
                "observations": len(self.recording.observations),
                "marks": len(self.recording.marks),
                "log_lines": len(self.recording.log_lines),
                "targets": list(self.recording.targets()),
                "labelled": self.recording.header.labelled,
            },
            "judged_observations": self.observations,
            "unconfigured_targets": list(self.unconfigured_targets),
            "decisions": [decision_json(d, start=start) for d in self.decisions],
        }


def decision_json(decision: verdicts.Decision, *, start: float | None) -> dict[str, Any]:
    """A decision as ``Decision.to_json`` plus ``offset``: seconds after the recording start."""
    body = decision.to_json()
    body["offset"] = None if start is None else round(decision.time - start, 6)
    return body


def replay(config: models.RollsafeConfig, recording: recordings.Recording) -> Replay:
    """Feed ``recording`` to a fresh engine of ``config``; the decisions that changed."""
    fed = observations_of(config, recording)
    decisions = engine.replay(config, fed, recording.marks)
    configured = {target.id for target in config.targets}
    return Replay(
        recording=recording,
        decisions=tuple(decisions),
        observations=len(fed),
        unconfigured_targets=tuple(t for t in recording.targets() if t not in configured),
        quiet_rules=frozenset(rule.id for rule in config.rules if not rule.notify),
    )


def observations_of(
    config: models.RollsafeConfig, recording: recordings.Recording
) -> list[observations.Observation]:
    """The recorded observations plus the log probes' observations of its raw log lines."""
    return [*recording.observations, *log_observations(config, recording)]


def log_observations(
    config: models.RollsafeConfig, recording: recordings.Recording
) -> list[observations.Observation]:
    """What the log probes would have observed of the recording's log lines (module notes).

    RecordingError when lines name a source that is not a log probe of ``config``.
    """
    probes = {probe.name: probe for probe in config.probes}
    followed: dict[tuple[ids.TargetId, str], list[recordings.LogLine]] = defaultdict(list)
    for target, source in recording.header.logs:
        for reader in _readers(probes, source):
            followed.setdefault((target, reader), [])  # followed, even if no line was written
    for line in recording.log_lines:
        for reader in _readers(probes, line.source):
            followed[(line.target, reader)].append(line)
    if not followed:
        return []
    start, end = recording.start, recording.end
    if start is None or end is None:
        return []
    out: list[observations.Observation] = []
    for (target, source), lines in sorted(followed.items()):
        probe = probes.get(source)
        if not isinstance(probe, models.LogProbe):
            what = "no probe" if probe is None else f"a {probe.kind} probe"
            raise recordings.RecordingError(
                f"{recording.name}: log lines for source {source!r}, which is {what} in the "
                "configuration (expected the name of a log probe: its patterns and interval "
                "turn lines into counts)"
            )
        out.extend(
            _buckets(
                lines,
                target=target,
                source=source,
                probe=probe,
                interval=probe.interval,
                start=start,
                end=end,
            )
        )
    return out


def _readers(probes: dict[str, models.Probe], source: str) -> list[str]:
    """``source`` and every other log probe that follows the same file (module notes)."""
    probe = probes.get(source)
    if not isinstance(probe, models.LogProbe):
        return [source]  # reported as an error by the caller
    same = sorted(
        name
        for name, other in probes.items()
        if name != source and isinstance(other, models.LogProbe) and other.path == probe.path
    )
    return [source, *same]


def _buckets(
    lines: Sequence[recordings.LogLine],
    *,
    target: ids.TargetId,
    source: str,
    probe: models.LogProbe,
    interval: float,
    start: float,
    end: float,
) -> list[observations.Observation]:
    last_line_time = max((line.time for line in lines), default=start)
    count = max(1, math.ceil((max(end, last_line_time) - start) / interval))
    buckets: dict[int, list[tuple[float, str]]] = defaultdict(list)
    # Stable sort: lines at the same time keep their order in the file, like in the log.
    for line in sorted(lines, key=lambda item: item.time):
        buckets[max(1, math.ceil((line.time - start) / interval))].append((line.time, line.line))
    # The live probe's own event counter: every line goes through it, matching or not, since
    # how close an event's lines are is counted in lines, and in seconds by the lines' own
    # times (see ``detect.probes.logevents``).
    counter = logs.counter_for(probe)
    out = []
    for index in range(1, count + 1):
        counter.feed_timed(buckets.get(index, []))
        found = counter.take()
        out.append(
            observations.Observation(
                time=start + index * interval,
                target=target,
                source=source,
                value=float(found.events),
                text=logs.describe(found),
            )
        )
    return out
