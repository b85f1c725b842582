"""Names what bounds each detection's delay, from a `rollsafe backtest --json`, per family.

    rollsafe backtest -c corpus/rollsafe.yaml --corpus /tmp/corpus --json > /tmp/backtest.json
    .venv/bin/python corpus/delay_bounds.py /tmp/backtest.json [--half NAME] [--over 60]

For every detected fault (its first critical decision), the rule that decided and, read from
that decision's evidence, the wait that bounded it:

* ``regression``: ``cold start`` (the warm-up hold until ``cold_grace``: a step present from
  the upgrade is tested from there), ``late start`` (a late test, ``LATE_EVERY`` apart),
  ``early start`` (the top component's early test), ``slow tier`` (a small change, a bar 8
  times higher), else ``evidence, N buckets`` (the anytime-valid test's own pace);
* ``threshold``: ``consecutive N`` / ``for S`` (the failed checks it asks for in a row);
* ``rate``: ``repeat > N in W`` (the events it asks for in its window: mostly the fault's
  own pace, a kernel's report interval or a unit's restart delay);
* anything else: its kind (``all``: a corroboration; ``trend``: a leak's projection).

One row per (family, rule, bound): detections, median and range of their delay. Then the
median delay of every half, of the first four halves (the issue's strict test) and of all.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

FIRST_FOUR = ("design", "held-out", "held-out-2", "held-out-3")


def bound(evidence: Mapping[str, Any]) -> str:
    """The wait that bounded a decision, from its evidence (module notes)."""
    kind = evidence.get("kind")
    if kind == "regression":
        if evidence.get("fired_by") == "early":
            return "early start"
        if evidence.get("fired_by") == "late":
            return "late start"
        if evidence.get("warmup") == "cold":
            return "cold start"
        if evidence.get("tier") == "slow":
            return "slow tier"
        return f"evidence, {evidence.get('buckets')} buckets"
    if kind == "threshold":
        if evidence.get("for_s"):
            return f"for {evidence['for_s']:.0f} s, consecutive {evidence.get('consecutive')}"
        return f"consecutive {evidence.get('consecutive')}"
    if kind == "rate":
        return f"repeat > {evidence.get('above')} in {evidence.get('window_s', 0) / 60:.0f} min"
    return str(kind)


def detections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every detected fault: half, family, scenario, rule, bound and delay (s)."""
    rows = []
    for scenario in report["scenarios"]:
        for target in scenario["targets"]:
            if target.get("outcome") != "TP" or not isinstance(target.get("detection"), dict):
                continue
            detection = target["detection"]
            rows.append(
                {
                    "half": scenario["half"],
                    "family": scenario["family"],
                    "scenario": scenario["name"],
                    "rule": detection["rule"],
                    "bound": bound(detection.get("evidence") or {}),
                    "delay": float(target["delay_s"]),
                }
            )
    return rows


def _median(values: Sequence[float]) -> str:
    return "-" if not values else f"{statistics.median(values):,.1f}"


def _order(half: str) -> tuple[int, int]:
    """design, held-out, held-out-2, ... in that order."""
    if half == "design":
        return (0, 0)
    tail = half.removeprefix("held-out").lstrip("-")
    return (1, int(tail) if tail.isdigit() else 1)


def table(rows: Sequence[Mapping[str, Any]], over: float) -> list[str]:
    """The per-(family, rule, bound) lines, then the medians per half and overall."""
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for row in rows:
        if row["delay"] > over:
            groups[(row["family"], row["rule"], row["bound"])].append(row["delay"])
    lines = [f"detections over {over:.0f} s: {sum(len(v) for v in groups.values())}/{len(rows)}"]
    for (family, rule, why), delays in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(
            f"{family:26} {rule:42} {why:34} {len(delays):3}  median {_median(delays):>9}"
            f"  {min(delays):,.0f}-{max(delays):,.0f}"
        )
    halves: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        halves[row["half"]].append(row["delay"])
    for half, delays in sorted(halves.items(), key=lambda kv: _order(kv[0])):
        lines.append(f"median {half:12} {_median(delays):>9} s  ({len(delays)} detections)")
    first = [row["delay"] for row in rows if row["half"] in FIRST_FOUR]
    lines.append(f"median first four  {_median(first):>9} s  ({len(first)} detections)")
    every = [row["delay"] for row in rows]
    lines.append(f"median all         {_median(every):>9} s  ({len(every)} detections)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backtest", type=Path)
    parser.add_argument("--half", help="only this half")
    parser.add_argument("--over", type=float, default=0.0, help="list detections slower than this")
    args = parser.parse_args(argv)
    rows = detections(json.loads(args.backtest.read_text()))
    if args.half:
        rows = [row for row in rows if row["half"] == args.half]
    sys.stdout.write("\n".join(table(rows, args.over)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
