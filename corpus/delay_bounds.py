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

With ``--against BASE.json`` (a backtest of the same corpus before a change), one row per
group of either run instead: its detections and median in the base, then in this run, the
groups where any delay moved first (marked ``*``); then the medians per half, base -> this run. A
detection that moved to another rule or bound leaves one group and joins another.
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
    groups = _groups(rows, over)
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


def _groups(
    rows: Sequence[Mapping[str, Any]], over: float
) -> dict[tuple[str, str, str], list[float]]:
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for row in rows:
        if row["delay"] > over:
            groups[(row["family"], row["rule"], row["bound"])].append(row["delay"])
    return groups


def compared(
    base: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]], over: float
) -> list[str]:
    """Each group's detections and median, base -> this run (moved groups first), then the
    medians per half, of the first four halves and of all."""
    before, after = _groups(base, over), _groups(rows, over)
    keys = set(before) | set(after)

    def moved(key: tuple[str, str, str]) -> bool:
        return sorted(before.get(key, [])) != sorted(after.get(key, []))

    lines = [
        f"detections over {over:.0f} s: {sum(map(len, before.values()))}/{len(base)}"
        f" -> {sum(map(len, after.values()))}/{len(rows)}"
    ]
    for family, rule, why in sorted(
        keys, key=lambda k: (not moved(k), -len(after.get(k, before.get(k, []))), k)
    ):
        old, new = before.get((family, rule, why), []), after.get((family, rule, why), [])
        mark = "*" if moved((family, rule, why)) else " "
        lines.append(
            f"{mark} {family:26} {rule:42} {why:34} {len(old):3}  median {_median(old):>9}"
            f"  -> {len(new):3}  median {_median(new):>9}"
        )
    halves: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for side, run in enumerate((base, rows)):
        for row in run:
            halves[row["half"]][side].append(row["delay"])
        first = [row["delay"] for row in run if row["half"] in FIRST_FOUR]
        halves["first four"][side].extend(first)
        halves["all"][side].extend(row["delay"] for row in run)
    named = sorted((h for h in halves if h not in ("first four", "all")), key=_order)
    for half in (*named, "first four", "all"):
        old, new = halves[half]
        lines.append(f"median {half:12} {_median(old):>9} -> {_median(new):>9} s")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backtest", type=Path)
    parser.add_argument("--half", help="only this half")
    parser.add_argument("--over", type=float, default=0.0, help="list detections slower than this")
    parser.add_argument("--against", type=Path, help="a base backtest: groups base -> this run")
    args = parser.parse_args(argv)
    rows = detections(json.loads(args.backtest.read_text()))
    base = [] if args.against is None else detections(json.loads(args.against.read_text()))
    if args.half:
        rows = [row for row in rows if row["half"] == args.half]
        base = [row for row in base if row["half"] == args.half]
    lines = table(rows, args.over) if args.against is None else compared(base, rows, args.over)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
