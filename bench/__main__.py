"""Runs every benchmark, prints one table and writes bench/out/latest.json.

``python -m bench`` (or ``make bench``). ``python -m bench decisions intake`` runs a subset;
``replay_costs`` runs only when named.
Each suite returns a (possibly nested) dict; the table flattens it to dotted keys. Where a peer
is measured in the same run, its figure and the ratio sit beside rollsafe's (see
``blackbox_bench``). The default sizes keep the whole run well under ten minutes.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import (
    backtest_bench,
    blackbox_bench,
    cli_bench,
    decision_bench,
    fault_bench,
    intake_bench,
    judge_bench,
    remote_bench,
    store_bench,
)

SUITES: dict[str, Callable[[], Any]] = {
    "judge": judge_bench.run,
    "replay_costs": judge_bench.replay_costs,
    "store": store_bench.run,
    "decisions": decision_bench.run,
    "intake": intake_bench.run,
    "probes_vs_blackbox": blackbox_bench.run,
    "backtest": backtest_bench.run,
    "fault": fault_bench.run,
    "cli": cli_bench.run,
    "remote_probes": remote_bench.run,
}
# Run only when named: 33 week replays (about two CPU minutes) that explain ``judge``'s
# replay figure rather than add one; ``make bench`` keeps its length.
ON_REQUEST = frozenset({"replay_costs"})


def _machine() -> dict[str, object]:
    model = ""
    with Path("/proc/cpuinfo").open(encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "kernel": platform.release(),
    }


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
    else:
        yield prefix, value


def main(argv: list[str]) -> int:
    # The daemon logs every run it opens; thousands of lines would bury the table.
    logging.disable(logging.WARNING)
    if "--full" in argv:  # the fault suite's slow case (Prometheus defaults), off by default
        os.environ[fault_bench.FULL_ENV] = "1"
        argv = [a for a in argv if a != "--full"]
    chosen = argv or [name for name in SUITES if name not in ON_REQUEST]
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; known: {', '.join(SUITES)}")
        return 2
    results: dict[str, object] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **_machine(),
    }
    began = time.perf_counter()
    rows: list[tuple[str, str, Any]] = []
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        outcome = SUITES[name]()
        results[name] = outcome
        rows.extend((name, key, value) for key, value in _flatten("", outcome))
        rows.append((name, "suite_seconds", round(time.perf_counter() - started, 1)))
    results["total_seconds"] = round(time.perf_counter() - began, 1)
    print(f"\n{'suite':20} {'figure':44} value")
    print(f"{'-' * 20} {'-' * 44} {'-' * 12}")
    for suite, key, value in rows:
        print(f"{suite:20} {key:44} {value}")
    print(f"\nmachine: {results['cpus']} x {results['cpu_model']}, Python {results['python']}")
    print(f"total: {results['total_seconds']} s")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
