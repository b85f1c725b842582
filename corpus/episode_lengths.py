"""How long real healthy noise stays above the hour before's top: the episode length L that
the regression rule's bound under short episodes must assume (docs/presets.md, "Round 12:
the episode length L on real series").

    .venv/bin/python corpus/episode_lengths.py [DIR]   (default: ../shared/data/metrics)

The series are NAB's (Numenta Anomaly Benchmark) CloudWatch metrics, one value every 5
minutes: a probe that slow is judged in buckets of its own interval (a regression rule's
``bucket`` is at least the probe's), so one value is one bucket and the hour before the mark
is 12 of them. At every value ``i`` whose hour before is complete (12 values, no gap over 1.5
times the series' spacing), a mark is placed just before it, as if the host were upgraded
there: its reference is that hour, its ``top`` the hour's highest value. An episode begins
at ``i`` when value ``i`` is above ``margin`` times the top (the value before it, inside the
hour, never is: every exceedance is an onset), and lasts while the values after it stay
above the same threshold (the reference stays fixed after a mark). Excluded: any episode
whose hour before or whose values touch a labelled anomaly window (``anomaly_windows.json``)
or a gap. Margins: 1 (the top itself, what the urn's top component counts before a margin),
1.2 (20% above it) and 2 (``latency-quantile-up``'s ratio; its +0.1 s is for seconds, these
are % and ms).

Printed: per series and in total, the episodes by length (1, 2, 3, 4-6, 7-12, over 12
buckets, an episode still running at the series' end counted at its length so far), and
the quantiles of the length; the total of all six, and of the five whose load is steady
(``JOBS`` left out).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import statistics
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the repository, or beside the worktrees' directory (as build.py).
CANDIDATES = (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data")
SERIES = (
    "ec2_request_latency_system_failure.csv",
    "ec2_cpu_utilization_24ae8d.csv",
    "ec2_cpu_utilization_53ea38.csv",
    "ec2_cpu_utilization_5f5533.csv",
    "ec2_cpu_utilization_77c1ca.csv",
    "rds_cpu_utilization_cc0c53.csv",
)
# Idle (median 0.1%) between jobs at 77-99% lasting 20 minutes to hours: its episodes are
# its work, not noise; shown apart in the "steady" row.
JOBS = "ec2_cpu_utilization_77c1ca.csv"
HOUR = 12  # values of 5 minutes in the reference hour
MARGINS = (1.0, 1.2, 2.0)
CLASSES = ((1, 1), (2, 2), (3, 3), (4, 6), (7, 12), (13, math.inf))
QUANTILES = (0.5, 0.9, 0.95, 0.99)


def data_dir() -> Path | None:
    """The NAB metrics' directory (``ROLLSAFE_SHARED_DATA``/metrics overrides), or None."""
    override = os.environ.get("ROLLSAFE_SHARED_DATA")
    for base in ([Path(override)] if override else []) + list(CANDIDATES):
        if (base / "metrics" / "anomaly_windows.json").is_file():
            return base / "metrics"
    return None


def _time(text: str) -> float:
    return datetime.fromisoformat(text.strip()).timestamp()


def read(path: Path) -> tuple[list[float], list[float]]:
    """The series' times (s) and values, in time order."""
    with path.open(newline="") as handle:
        rows = [(_time(row["timestamp"]), float(row["value"])) for row in csv.DictReader(handle)]
    rows.sort()
    return [t for t, _ in rows], [v for _, v in rows]


def windows(path: Path, name: str) -> list[tuple[float, float]]:
    """The labelled anomaly windows of series ``name`` (start, end in seconds)."""
    labelled = json.loads(path.read_text())
    return [(_time(a), _time(b)) for a, b in labelled.get(name, [])]


def episodes(
    times: Sequence[float],
    values: Sequence[float],
    labelled: Sequence[tuple[float, float]],
    *,
    margin: float,
) -> list[int]:
    """The length, in values, of every episode above ``margin`` times the hour before's top
    (see the module notes), one per onset."""
    spacing = statistics.median(b - a for a, b in itertools.pairwise(times))
    broken = [b - a > 1.5 * spacing for a, b in itertools.pairwise(times)]
    bad = [any(a <= t <= b for a, b in labelled) for t in times]
    found: list[int] = []
    for i in range(HOUR, len(values)):
        span = range(i - HOUR, i + 1)
        if any(bad[j] for j in span) or any(broken[j] for j in range(i - HOUR, i)):
            continue
        threshold = margin * max(values[i - HOUR : i])
        if values[i] <= threshold:
            continue
        end = i
        while end + 1 < len(values) and values[end + 1] > threshold and not broken[end]:
            end += 1
        if any(bad[j] for j in range(i, end + 1)):
            continue
        found.append(end - i + 1)
    return found


def quantile(lengths: Sequence[int], q: float) -> int:
    """The ``q`` quantile of ``lengths`` (the smallest length covering ``q`` of them)."""
    ordered = sorted(lengths)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def row(name: str, lengths: Sequence[int], onsets: int) -> str:
    """One table row: the episodes by length class, and the quantiles."""
    counts = [sum(1 for n in lengths if low <= n <= high) for low, high in CLASSES]
    shares = [f"{c} ({c / len(lengths):.0%})" if lengths else "0" for c in counts]
    marks = [str(quantile(lengths, q)) if lengths else "-" for q in QUANTILES]
    longest = str(max(lengths)) if lengths else "-"
    cells = [name, str(onsets), str(len(lengths)), *shares, *marks, longest]
    return "| " + " | ".join(cells) + " |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=data_dir())
    args = parser.parse_args(argv)
    data: Path | None = args.data
    if data is None:
        parser.error("no ../shared/data/metrics found: give the directory")
    head = " | ".join(
        [
            *(f"{low}" if low == high else f"{low}-{high}" for low, high in CLASSES[:-1]),
            f"over {CLASSES[-1][0] - 1}",
            *(f"q{q:g}" for q in QUANTILES),
            "longest",
        ]
    )
    lines: list[str] = []
    for margin in MARGINS:
        lines += [f"\nmargin x{margin:g} (value > {margin:g} x the hour before's top)\n"]
        lines += [f"| series | values | episodes | {head} |"]
        lines += ["|---" * (4 + len(CLASSES) + len(QUANTILES)) + "|"]
        every: list[int] = []
        steady: list[int] = []
        judged = judged_steady = 0
        for name in SERIES:
            times, values = read(data / name)
            lengths = episodes(
                times, values, windows(data / "anomaly_windows.json", name), margin=margin
            )
            every.extend(lengths)
            judged += len(values) - HOUR
            if name != JOBS:
                steady.extend(lengths)
                judged_steady += len(values) - HOUR
            lines += [row(name.removesuffix(".csv"), lengths, len(values) - HOUR)]
        lines += [row("all", every, judged)]
        lines += [row(f"all but {JOBS.removesuffix('.csv')}", steady, judged_steady)]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
