"""Writes the measured per-family table of docs/presets.md from a `rollsafe backtest --json`.

    .venv/bin/python corpus/build.py --out /tmp/corpus
    rollsafe backtest -c corpus/rollsafe.yaml --corpus /tmp/corpus --json > /tmp/backtest.json
    .venv/bin/python corpus/family_table.py /tmp/backtest.json           # print the table
    .venv/bin/python corpus/family_table.py /tmp/backtest.json --write   # into docs/presets.md

One row per family and one column per half of the corpus (as the report names them, in
the manifest's order) and for all of it: for a fault family, faults detected / faults, false
positives and the median detection delay; for healthy noise, false positives and true
negatives. Below, per half: precision, recall, median delay, detections within 60 s and the
warnings sent. ``--write`` replaces what lies between the ``measured-table`` markers of
docs/presets.md, so the figures there are the backtest's, never copied by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "presets.md"
START = "<!-- measured-table:start (corpus/family_table.py) -->"
END = "<!-- measured-table:end -->"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} s"


def _cell(row: Mapping[str, Any]) -> str:
    faults = row["tp"] + row["fn"]
    if faults:
        return f"{row['tp']}/{faults}, FP {row['fp']}, {_seconds(row['delay_s']['median'])}"
    return f"FP {row['fp']}, TN {row['tn']}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _within(scenarios: Sequence[Mapping[str, Any]], half: str | None, limit: float) -> str:
    delays = [
        target["delay_s"]
        for scenario in scenarios
        if half is None or scenario["half"] == half
        for target in scenario["targets"]
        if target["outcome"] == "TP" and target.get("delay_s") is not None
    ]
    return f"{sum(d <= limit for d in delays)} of {len(delays)}"


def table(report: Mapping[str, Any]) -> str:
    halves = [h["name"] for h in report["halves"]]
    columns = [*halves, "all"]
    cells: dict[str, dict[str, str]] = {}
    faulty: dict[str, bool] = {}
    for row in report["families"]:
        cells.setdefault(row["family"], {})[row["half"]] = _cell(row)
        faulty[row["family"]] = faulty.get(row["family"], False) or row["tp"] + row["fn"] > 0
    out = [
        "| family | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    # Fault families first, then healthy noise, each alphabetically.
    for family in sorted(cells, key=lambda f: (not faulty[f], f)):
        shown = [cells[family].get(c, "-") for c in columns]
        out.append(f"| `{family}` | " + " | ".join(shown) + " |")
    by_half = {h["name"]: h for h in report["halves"]}
    by_half["all"] = report["total"]
    scenarios = report["scenarios"]
    warnings = {
        c: sum(s["warnings"] for s in scenarios if c == "all" or s["half"] == c) for c in columns
    }
    rows = [
        ("precision", [_ratio(by_half[c]["precision"]) for c in columns]),
        (
            "recall",
            [
                f"{_ratio(by_half[c]['recall'])} ({by_half[c]['tp']}/"
                f"{by_half[c]['tp'] + by_half[c]['fn']})"
                for c in columns
            ],
        ),
        ("median delay", [_seconds(by_half[c]["delay_s"]["median"]) for c in columns]),
        (
            "detected within 60 s",
            [_within(scenarios, None if c == "all" else c, 60.0) for c in columns],
        ),
        ("warnings sent", [str(warnings[c]) for c in columns]),
    ]
    for name, values in rows:
        out.append(f"| **{name}** | " + " | ".join(values) + " |")
    out.append("")
    out.append(
        f"Rollbacks over the healthy weeks: {report['week_rollbacks']}. "
        f"Recordings skipped: {len(report['skipped'])}."
    )
    return "\n".join(out)


def write(text: str, docs: Path = DOCS) -> None:
    page = docs.read_text(encoding="utf-8")
    if START not in page or END not in page:
        raise SystemExit(f"{docs}: the markers {START!r} and {END!r} are missing")
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    docs.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the JSON of `rollsafe backtest --json`")
    parser.add_argument("--write", action="store_true", help="replace the table in the docs")
    args = parser.parse_args(argv)
    text = table(json.loads(args.report.read_text(encoding="utf-8")))
    if args.write:
        write(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
